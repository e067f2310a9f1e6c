"""A Redis outage, stopped or hung, costs requests nothing they can avoid: the throttle's cache
is left alone for a while after it failed (a circuit breaker), and owed work is published from
a background thread, never in the request that owed it."""

import threading
import time

import pytest

from alignment_service.api import throttling
from alignment_service.outbox import services as outbox


class BrokenCache:
    """A cache whose every call fails, as a stopped or frozen Redis does, and counts calls."""

    def __init__(self) -> None:
        self.calls = 0

    def get(self, *args, **kwargs):
        self.calls += 1
        raise ConnectionError("Redis is down")

    set = get


@pytest.fixture
def broken_cache(monkeypatch):
    cache = BrokenCache()
    for throttle in (throttling.UserRateThrottle, throttling.ApiKeyRateThrottle, throttling.CredentialsRateThrottle):
        monkeypatch.setattr(throttle, "cache", cache)
    return cache


def test_after_a_cache_failure_the_throttle_leaves_the_cache_alone_for_a_while(org, owner, client_for, broken_cache):
    client = client_for(owner)
    assert [client.get("/api/v1/me/").status_code for _ in range(5)] == [200] * 5
    assert broken_cache.calls == 1


def test_after_the_backoff_one_request_probes_the_cache_again(org, owner, client_for, broken_cache, settings):
    client = client_for(owner)
    client.get("/api/v1/me/")
    settings.CACHE_BACKOFF_SECONDS = 0.05
    throttling.breaker.failed()
    time.sleep(0.1)
    assert client.get("/api/v1/me/").status_code == 200
    assert broken_cache.calls == 2


def test_a_probe_holds_the_others_off_while_it_runs(settings):
    settings.CACHE_BACKOFF_SECONDS = 60
    breaker = throttling.CacheBreaker()
    breaker.failed()
    breaker._open_until = time.monotonic() - 1  # the backoff has run out
    assert breaker.closed() is True, "the first caller probes"
    assert breaker.closed() is False, "the others skip the cache while it probes"
    breaker.succeeded()
    assert breaker.closed() is True


def test_a_recovered_cache_throttles_again(org, owner, client_for, monkeypatch):
    rates = {"user": "2/min", "api_key": "2/min", "credentials": "2/min"}
    monkeypatch.setattr(throttling.UserRateThrottle, "THROTTLE_RATES", rates)
    throttling.breaker.failed()
    throttling.breaker._open_until = time.monotonic() - 1
    client = client_for(owner)
    assert [client.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 429]


def test_the_kick_publishes_from_a_background_thread(org, settings, monkeypatch, django_capture_on_commit_callbacks):
    """A hung broker (here: a publish that takes a second) never holds up the committing request."""
    settings.OUTBOX_KICK_IN_BACKGROUND = True
    published = threading.Event()
    threads = []

    def slow_dispatch(**kwargs):
        threads.append(threading.current_thread().name)
        time.sleep(1.0)
        published.set()
        return 1

    monkeypatch.setattr(outbox, "outbox_dispatch_pending", slow_dispatch)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        outbox.outbox_enqueue(org=org, task_name="teams.send_welcome_email", kwargs={})
    assert time.monotonic() - started < 0.5
    assert published.wait(5)
    assert threads == ["outbox-kick"]


def test_kicks_while_the_thread_publishes_coalesce_into_one_more_pass(settings, monkeypatch):
    settings.OUTBOX_KICK_IN_BACKGROUND = True
    passes = []
    release = threading.Event()

    def dispatch(**kwargs):
        passes.append(time.monotonic())
        release.wait(2)
        return 0

    monkeypatch.setattr(outbox, "outbox_dispatch_pending", dispatch)
    monkeypatch.setattr(outbox, "close_old_connections", lambda: None)
    kicker = outbox._Kicker()
    kicker.wake()
    deadline = time.monotonic() + 2
    while not passes and time.monotonic() < deadline:
        time.sleep(0.01)
    for _ in range(5):
        kicker.wake()
    release.set()
    time.sleep(0.3)
    assert len(passes) == 2
