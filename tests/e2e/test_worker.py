"""End to end with the real processes: the API on this process, a Celery worker on Redis in
another, PostgreSQL shared by both, and a webhook receiver on loopback.

A batch of readings pushes a goal off track; the worker rescores, opens a course correction,
tells the team lead and the steering group, and delivers a signed `course_correction.opened`.
Readings that bring the goal back resolve it, and `course_correction.resolved` follows.
"""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from celery.app import routes as celery_routes
from django.conf import settings
from django.db import connection
from django.utils import timezone
from standardwebhooks import Webhook

from alignment_service.access import Access, Role, Scope
from alignment_service.celery import app as celery_app
from alignment_service.notifications.models import Notification
from alignment_service.notifications.webhook_endpoints import webhook_endpoint_create
from feedback.models import CorrectionStatus, CourseCorrection, Trigger
from teams.models import TeamKind, TeamMember
from tests.factories import GoalFactory, MembershipFactory, MetricFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture
def worker():
    queue = f"e2e-{uuid.uuid4().hex[:8]}"
    webhook_queue = f"{queue}-webhooks"
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    router = celery_app.amqp.router
    routes = router.routes
    router.routes = celery_routes.prepare({"webhooks.deliver_due": {"queue": webhook_queue}})
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "alignment_service.test_settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "CELERY_WEBHOOK_QUEUE": webhook_queue,
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    }
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "celery", "-A", "alignment_service", "worker", "--pool=solo",
         "-Q", f"{queue},{webhook_queue}", "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    yield process
    celery_app.conf.task_default_queue = default_queue
    router.routes = routes
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_for(predicate, timeout=60.0, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if process is not None and process.poll() is not None:
            pytest.fail(f"worker exited: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.25)
    return False


def events(secret: str) -> list[dict]:
    """Every received delivery, after checking its Standard Webhooks signature."""
    verified = []
    for headers, body in Receiver.received:
        Webhook(secret).verify(body, headers)
        verified.append(json.loads(body))
    return verified


def test_readings_open_and_resolve_a_correction_through_a_real_worker(
    worker, receiver, client_for, key_client_for, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    owner, lead, steward = UserFactory(), UserFactory(), UserFactory()
    org = MembershipFactory(user=owner, role=Role.OWNER).organization
    for user in (lead, steward):
        MembershipFactory(organization=org, user=user, role=Role.MEMBER)
    steering = TeamFactory(organization=org, kind=TeamKind.STEERING_GROUP)
    TeamMember.objects.create(organization=org, team=steering, user=steward)
    team = TeamFactory(organization=org, parent=steering, lead=lead)
    today = timezone.now().date()
    goal = GoalFactory(
        organization=org, team=team, owner=lead, starts_on=today - timedelta(days=60), due_on=today + timedelta(days=39)
    )
    metric = MetricFactory(goal=goal, key="activation", baseline=0.0, target=100.0, starts_on=None, due_on=None)
    access = Access(org=org, user=owner, role=Role.OWNER)
    endpoint = webhook_endpoint_create(
        access=access, url=f"http://127.0.0.1:{receiver.server_address[1]}/hooks",
        events=["course_correction.opened", "course_correction.resolved"],
    )  # fmt: skip
    integration = key_client_for(org, scopes=(Scope.READINGS_WRITE,))

    def push(values):
        now = timezone.now()
        readings = [
            {"metric": "activation", "value": value, "observed_at": (now - timedelta(days=len(values) - i)).isoformat()}
            for i, value in enumerate(values)
        ]
        response = integration.post(f"/api/v1/orgs/{org.slug}/readings/batch/", {"readings": readings}, format="json")
        assert response.status_code == 200, response.content

    push([5.0, 6.0, 7.0, 8.0])  # 8 % of the way at 60 % of the window: off track

    def opened():
        return CourseCorrection.objects.filter(
            organization=org, subject_id=str(goal.pk), trigger=Trigger.OFF_TRACK, status=CorrectionStatus.OPEN
        ).exists()

    assert wait_for(opened, process=worker), "the worker opened no off_track correction"

    def signed_opened_event():
        return any(
            e["type"] == "course_correction.opened" and e["data"]["trigger"] == "off_track"
            for e in events(endpoint.secret)
        )

    assert wait_for(signed_opened_event, process=worker), "no signed webhook arrived"
    told = Notification.objects.filter(kind__in=["course_correction.opened", "course_correction.digest"])
    informed = set(told.values_list("recipient_id", flat=True))  # on its own, or in a digest with the team's drift
    assert {lead.pk, steward.pk} <= informed

    push([58.0, 59.0, 60.0, 61.0])  # back on pace
    metric.refresh_from_db()
    assert metric.current == 61.0

    def resolved():
        return CourseCorrection.objects.filter(
            organization=org, subject_id=str(goal.pk), trigger=Trigger.OFF_TRACK, status=CorrectionStatus.RESOLVED
        ).exists()

    assert wait_for(resolved, process=worker), "the correction was not resolved by the system"
    # Other corrections may resolve first; deliveries to one endpoint go at most two at a time.
    assert wait_for(
        lambda: any(
            e["type"] == "course_correction.resolved" and e["data"]["trigger"] == "off_track"
            for e in events(endpoint.secret)
        ),
        process=worker,
    )
    received = events(endpoint.secret)
    ids = [headers["webhook-id"] for headers, _ in Receiver.received]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    off_track = [e for e in received if e["data"]["trigger"] == "off_track"]
    assert [e["type"] for e in off_track] == ["course_correction.opened", "course_correction.resolved"]
