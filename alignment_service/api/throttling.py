"""Rate limits: one counter per client and window, and failing open.

Each client gets a fixed window (`1000/min`: the minute that started on the minute) counted
with one atomic `add`/`incr` on the cache per request, instead of DRF's list of every request's
timestamp, pickled and rewritten on each request. The answers carry `RateLimit-Limit`,
`RateLimit-Remaining` and `RateLimit-Reset` (seconds); over the limit, `429` with `Retry-After`.

A cache (Redis) outage must not take the API down with it, nor slow it: a failed cache call
lets the request through and opens a circuit breaker, so that for `THROTTLE_BREAKER_SECONDS`
no request waits on the cache at all.
"""

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache import cache as default_cache
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse
from rest_framework import throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

logger = logging.getLogger(__name__)


class CircuitBreaker:
    """Open (skip the cache) for `seconds` after a failure."""

    def __init__(self) -> None:
        self._open_until = 0.0
        self._lock = threading.Lock()

    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + settings.THROTTLE_BREAKER_SECONDS

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0


breaker = CircuitBreaker()


@dataclass(frozen=True)
class RateLimit:
    limit: int
    remaining: int
    reset: int


RATE_LIMIT_ATTR = "rate_limit"


class FixedWindowRateThrottle(throttling.BaseThrottle):
    scope: ClassVar[str]
    cache: ClassVar[Any] = default_cache
    THROTTLE_RATES: ClassVar[dict[str, Any]] = api_settings.DEFAULT_THROTTLE_RATES
    cache_format = "throttle:%(scope)s:%(ident)s:%(window)d"

    def __init__(self) -> None:
        self.limit, self.duration = parse_rate(self.THROTTLE_RATES[self.scope])
        self.reset_in = 0

    def get_ident_key(self, request: Request, view: Any) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        ident = self.get_ident_key(request, view)
        if ident is None or breaker.is_open():
            return True
        now = time.time()
        window = int(now // self.duration)
        self.reset_in = max(1, math.ceil((window + 1) * self.duration - now))
        key = self.cache_format % {"scope": self.scope, "ident": ident, "window": window}
        try:
            count = self._count(key)
        except Exception:
            breaker.trip()
            logger.warning("Throttle cache unavailable; allowing requests for a while", exc_info=True)
            return True
        remember(request, RateLimit(self.limit, max(0, self.limit - count), self.reset_in))
        return count <= self.limit

    def _count(self, key: str) -> int:
        backend = caches[DEFAULT_CACHE_ALIAS] if self.cache is default_cache else self.cache
        if isinstance(backend, RedisCache):
            return self._count_in_redis(backend, key)
        if self.cache.add(key, 1, timeout=self.duration + 1):
            return 1
        try:
            return int(self.cache.incr(key))
        except ValueError:  # expired between add and incr: this request starts the window
            self.cache.add(key, 1, timeout=self.duration + 1)
            return 1

    def _count_in_redis(self, backend: RedisCache, key: str) -> int:
        """One round trip: create the window's counter with its expiry if missing, then count
        (Django's `add` and `incr` take three)."""
        redis_key = backend.make_and_validate_key(key)
        client = backend._cache.get_client(redis_key, write=True)  # type: ignore[attr-defined]
        pipeline = client.pipeline(transaction=True)
        pipeline.set(redis_key, 0, ex=self.duration + 1, nx=True)
        pipeline.incr(redis_key)
        return int(pipeline.execute()[1])

    def wait(self) -> float:
        return float(self.reset_in)


def parse_rate(rate: str) -> tuple[int, int]:
    """`"1000/min"` -> (1000, 60): DRF's notation (s, m, h, d by first letter)."""
    count, period = rate.split("/")
    return int(count), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]


def remember(request: Request, rate_limit: RateLimit) -> None:
    """Keep the tightest limit of the request, for `RateLimitHeadersMiddleware`."""
    django_request = request._request
    current = getattr(django_request, RATE_LIMIT_ATTR, None)
    if current is None or rate_limit.remaining < current.remaining:
        setattr(django_request, RATE_LIMIT_ATTR, rate_limit)


def _is_api_key(request: Request) -> bool:
    return getattr(request.user, "is_api_key", False)


class UserRateThrottle(FixedWindowRateThrottle):
    """1,000 requests a minute per user by default."""

    scope = "user"

    def get_ident_key(self, request: Request, view: Any) -> str | None:
        if _is_api_key(request) or not request.user.is_authenticated:
            return None
        return str(request.user.pk)


class ApiKeyRateThrottle(FixedWindowRateThrottle):
    """6,000 requests a minute per API key by default."""

    scope = "api_key"

    def get_ident_key(self, request: Request, view: Any) -> str | None:
        return str(request.user.pk) if _is_api_key(request) else None


class CredentialsRateThrottle(FixedWindowRateThrottle):
    """10 a minute per client address for endpoints that take a password."""

    scope = "credentials"

    def get_ident_key(self, request: Request, view: Any) -> str | None:
        return self.get_ident(request)


class RateLimitHeadersMiddleware:
    """`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` on every throttled answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        rate_limit: RateLimit | None = getattr(request, RATE_LIMIT_ATTR, None)
        if rate_limit is not None:
            response["RateLimit-Limit"] = str(rate_limit.limit)
            response["RateLimit-Remaining"] = str(rate_limit.remaining)
            response["RateLimit-Reset"] = str(rate_limit.reset)
        return response
