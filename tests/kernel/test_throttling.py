"""Rate limits: one atomic counter per client and window (not a list of timestamps), the
RateLimit headers, and a circuit breaker that keeps a hung cache from slowing every request."""

import threading
import time
from types import SimpleNamespace

import pytest
import time_machine
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache

from alignment_service.api import throttling


@pytest.fixture
def low_rates(monkeypatch):
    rates = {"user": "3/min", "api_key": "3/min", "credentials": "3/min"}
    for throttle in (throttling.UserRateThrottle, throttling.ApiKeyRateThrottle, throttling.CredentialsRateThrottle):
        monkeypatch.setattr(throttle, "THROTTLE_RATES", rates)


def next_minute():
    return (int(time.time()) // 60 + 1) * 60


def test_answers_carry_the_rate_limit_headers(org, owner, client_for, low_rates):
    client = client_for(owner)
    responses = [client.get("/api/v1/me/") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r["RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    assert {r["RateLimit-Limit"] for r in responses} == {"3"}
    reset = int(responses[-1]["RateLimit-Reset"])
    assert 0 < reset <= 60
    assert int(responses[-1]["Retry-After"]) == reset


def test_the_window_is_one_integer_counter(org, owner, client_for, low_rates):
    client = client_for(owner)
    minute = next_minute()
    with time_machine.travel(minute + 30, tick=False):
        for _ in range(2):
            client.get("/api/v1/me/")
        window = (minute + 30) // 60
        assert cache.get(f"throttle:user:{owner.pk}:{window}") == 2


def test_a_new_window_starts_a_new_count(org, owner, client_for, low_rates):
    client = client_for(owner)
    with time_machine.travel(next_minute(), tick=False) as clock:
        assert [client.get("/api/v1/me/").status_code for _ in range(4)] == [200, 200, 200, 429]
        clock.shift(60)
        assert client.get("/api/v1/me/").status_code == 200


def test_unthrottled_requests_have_no_headers(api_client, db):
    response = api_client.get("/healthz")
    assert "RateLimit-Limit" not in response


class HungCache(LocMemCache):
    """A cache that takes `delay` seconds to fail, as a SIGSTOPped Redis does until the socket
    timeout; it counts the calls it gets."""

    def __init__(self, delay):
        super().__init__("hung", {})
        self.delay, self.calls = delay, 0

    def add(self, *args, **kwargs):
        self.calls += 1
        time.sleep(self.delay)
        raise TimeoutError("Timeout reading from socket")


def test_a_hung_cache_costs_one_request_not_every_request(org, owner, client_for, low_rates, monkeypatch, settings):
    settings.THROTTLE_BREAKER_SECONDS = 30
    hung = HungCache(delay=0.3)
    monkeypatch.setattr(throttling.UserRateThrottle, "cache", hung)
    client = client_for(owner)
    started = time.monotonic()
    statuses = [client.get("/api/v1/me/").status_code for _ in range(10)]
    elapsed = time.monotonic() - started
    assert statuses == [200] * 10  # fail open: more than the limit of 3 got through
    assert hung.calls == 1
    assert elapsed < 0.3 + 1.0


def test_the_breaker_closes_again_and_the_cache_is_tried(org, owner, client_for, low_rates, monkeypatch, settings):
    settings.THROTTLE_BREAKER_SECONDS = 0.2
    hung = HungCache(delay=0)
    monkeypatch.setattr(throttling.UserRateThrottle, "cache", hung)
    client = client_for(owner)
    client.get("/api/v1/me/")
    client.get("/api/v1/me/")
    assert hung.calls == 1
    time.sleep(0.25)
    client.get("/api/v1/me/")
    assert hung.calls == 2


def test_the_cache_timeouts_are_short_settings(settings):
    assert settings.CACHE_TIMEOUT_SECONDS == 0.25
    if settings.REDIS_URL:
        options = settings.CACHES["default"]["OPTIONS"]
        assert options["socket_timeout"] == options["socket_connect_timeout"] == 0.25


def test_parse_rate_reads_drf_notation():
    assert throttling.parse_rate("1000/min") == (1000, 60)
    assert throttling.parse_rate("10/second") == (10, 1)
    assert throttling.parse_rate("5/hour") == (5, 3600)
    assert throttling.parse_rate("7/day") == (7, 86400)


@pytest.mark.redis
def test_counting_is_atomic_on_redis(monkeypatch):
    monkeypatch.setattr(throttling.UserRateThrottle, "THROTTLE_RATES", {"user": "1000/min"})
    throttle = throttling.UserRateThrottle()
    key = f"throttle:test:{time.time_ns()}"

    def hit():
        for _ in range(25):
            throttle._count(key)

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.get(key) == 200


@pytest.mark.redis
def test_a_count_on_redis_is_one_round_trip_and_expires_with_its_window(monkeypatch):
    monkeypatch.setattr(throttling.UserRateThrottle, "THROTTLE_RATES", {"user": "1000/min"})
    throttle = throttling.UserRateThrottle()
    key = f"throttle:test:{time.time_ns()}"
    client = cache._cache.get_client(key, write=True)
    sent = []
    monkeypatch.setattr(type(client), "execute_command", lambda *args, **kwargs: sent.append(args))

    assert [throttle._count(key), throttle._count(key)] == [1, 2]

    monkeypatch.undo()
    assert sent == []  # no command of its own: each count is one pipeline (SET NX EX, INCR)
    assert 60 < client.ttl(cache.make_and_validate_key(key)) <= 61


def test_the_tightest_limit_is_reported():
    django_request = SimpleNamespace()
    request = SimpleNamespace(_request=django_request)
    throttling.remember(request, throttling.RateLimit(100, 50, 10))
    throttling.remember(request, throttling.RateLimit(10, 2, 30))
    throttling.remember(request, throttling.RateLimit(1000, 900, 5))
    assert django_request.rate_limit == throttling.RateLimit(10, 2, 30)
