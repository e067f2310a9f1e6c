"""The API served as in production and under `make run`: gunicorn with the shared
`gunicorn.conf.py`, on PostgreSQL. Fifty concurrent clients get no 5xx, and the server holds
no more database connections than its fixed thread pool, however many requests it served:
persistent connections are reused, never leaked (the development server leaked one per
request until PostgreSQL refused new clients)."""

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from alignment_service.access import Role
from teams import services
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
WORKERS, THREADS = 2, 4
CLIENTS, REQUESTS_EACH = 50, 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_connections() -> int:
    """Connections to the test database other than this test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.fixture
def gunicorn():
    port = free_port()
    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "alignment_service.test_settings",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "DATABASE_CONN_MAX_AGE": "600",  # long-lived: connections must be reused, not piled up
        "GUNICORN_ACCESS_LOG": "",
        "GUNICORN_RELOAD": "false",
    }
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
         "--workers", str(WORKERS), "--threads", str(THREADS), "alignment_service.wsgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_until_serving(port, process)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_until_serving(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited: {process.stderr.read().decode()[-2000:]}")
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            probe.request("GET", "/healthz")
            if probe.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail("gunicorn did not start within 30 s")


def hammer(port: int, token: str, org_slug: str) -> Counter:
    """CLIENTS threads, each sending REQUESTS_EACH requests on a new connection."""
    statuses: Counter = Counter()
    lock = threading.Lock()
    paths = ["/readyz", "/api/v1/me/", f"/api/v1/orgs/{org_slug}/teams/", f"/api/v1/orgs/{org_slug}/goals/"]

    def client() -> None:
        for path in paths[:REQUESTS_EACH]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
                status: int | str = conn.getresponse().status
            except OSError as exc:
                status = type(exc).__name__
            finally:
                conn.close()
            with lock:
                statuses[status] += 1

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return statuses


def test_fifty_concurrent_clients_get_no_5xx_and_connections_stay_bounded(gunicorn):
    membership = MembershipFactory(role=Role.MEMBER)
    _, token = services.auth_token_create(user=membership.user)
    slug = membership.organization.slug

    first = hammer(gunicorn, token, slug)
    after_first = server_connections()
    second = hammer(gunicorn, token, slug)
    after_second = server_connections()

    assert first == second == Counter({200: CLIENTS * REQUESTS_EACH}), (first, second)
    assert 0 < after_first <= WORKERS * THREADS, "one connection per thread at most"
    assert after_second <= WORKERS * THREADS, "the second wave reused the first wave's connections"
