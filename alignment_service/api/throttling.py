"""Rate limits that fail open: a cache (Redis) outage must not take the API down with it, nor
slow it down. After a cache failure, the throttles leave the cache alone for
`CACHE_BACKOFF_SECONDS` (a circuit breaker); then one request tries it again while the others
still pass without it."""

import logging
import threading
import time
from typing import Any

from django.conf import settings
from rest_framework import throttling
from rest_framework.request import Request

logger = logging.getLogger(__name__)


class CacheBreaker:
    """Open after a failure: `closed()` is False for the backoff, then True for one caller
    (the probe) until it reports success or failure."""

    def __init__(self) -> None:
        self._open_until = 0.0
        self._lock = threading.Lock()

    def closed(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now < self._open_until:
                return False
            if self._open_until:  # half open: this caller probes, the others keep skipping
                self._open_until = now + settings.CACHE_BACKOFF_SECONDS
            return True

    def succeeded(self) -> None:
        self._open_until = 0.0

    def failed(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + settings.CACHE_BACKOFF_SECONDS


breaker = CacheBreaker()


class FailOpenMixin:
    def allow_request(self, request: Request, view: Any) -> bool:
        if not breaker.closed():
            return True
        try:
            allowed = super().allow_request(request, view)  # type: ignore[misc]
        except Exception:
            breaker.failed()
            logger.warning("Throttle cache unavailable; allowing requests without it for a while", exc_info=True)
            return True
        breaker.succeeded()
        return allowed


def _is_api_key(request: Request) -> bool:
    return getattr(request.user, "is_api_key", False)


class UserRateThrottle(FailOpenMixin, throttling.UserRateThrottle):
    """1,000 requests a minute per user by default."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if _is_api_key(request) or not request.user.is_authenticated:
            return None
        return super().get_cache_key(request, view)


class ApiKeyRateThrottle(FailOpenMixin, throttling.SimpleRateThrottle):
    """6,000 requests a minute per API key by default."""

    scope = "api_key"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not _is_api_key(request):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class CredentialsRateThrottle(FailOpenMixin, throttling.SimpleRateThrottle):
    """10 a minute per client address for endpoints that take a password."""

    scope = "credentials"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
