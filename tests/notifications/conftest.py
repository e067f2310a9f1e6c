"""Webhook fixtures: a fake DNS (no test touches real DNS) and a real HTTP receiver on 127.0.0.1.

Loopback is the only traffic allowed on this machine, so every delivery that should reach a
receiver goes to 127.0.0.1, with `WEBHOOK_ALLOW_PRIVATE_URLS` switched on by the test; host
names are answered by `fake_dns`.
"""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from alignment_service.access import Access, Role
from alignment_service.notifications import ssrf
from alignment_service.notifications.models import WebhookEndpoint
from alignment_service.notifications.webhook_endpoints import webhook_secret_new
from tests.notifications.support import PUBLIC_IP, FakeDNS, Receiver, start_server


@pytest.fixture(autouse=True)
def _webhook_settings(settings: Any) -> None:
    """The production default (private addresses refused), whatever `.env` says."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.WEBHOOK_TIMEOUT_SECONDS = 3.0


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    dns = FakeDNS({"hooks.example.com": [PUBLIC_IP]})
    dns.lookups = []
    monkeypatch.setattr(ssrf, "resolve_host", dns.resolve)
    return dns


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 (a thread), recording every request it gets."""
    state = Receiver()
    server = start_server(state)
    yield state
    state.released.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., Receiver]]:
    """More receivers on 127.0.0.1, each configured by `Receiver` fields (e.g. `mode="hang"`)."""
    started: list[tuple[Receiver, Any]] = []

    def make(**fields: Any) -> Receiver:
        state = Receiver(**fields)
        started.append((state, start_server(state)))
        return state

    yield make
    for state, server in started:
        state.released.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def allow_private(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def make_endpoint(org: Any) -> Callable[..., WebhookEndpoint]:
    """An endpoint saved directly (the URL check is tested on its own)."""

    def make(url: str = "https://hooks.example.com/alignment", **fields: Any) -> WebhookEndpoint:
        fields.setdefault("organization", org)
        fields.setdefault("secret", webhook_secret_new())
        return WebhookEndpoint.objects.create(url=url, **fields)

    return make


@pytest.fixture
def owner_access(org: Any, owner: Any) -> Access:
    return Access(org=org, user=owner, role=Role.OWNER)
