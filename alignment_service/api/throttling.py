"""Rate limits that fail open: a cache (Redis) outage must not take the API down with it."""

import logging
from typing import Any

from rest_framework import throttling
from rest_framework.request import Request

logger = logging.getLogger(__name__)


class FailOpenMixin:
    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)  # type: ignore[misc]
        except Exception:
            logger.warning("Throttle cache unavailable; allowing the request", exc_info=True)
            return True


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
