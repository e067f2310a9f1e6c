"""`Authorization: Bearer <secret>` for user tokens and API keys alike."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from teams import credentials, selectors
from teams.access import remember_membership
from teams.models import ApiKey, AuthToken


class ApiKeyPrincipal:
    """Stands in for `request.user` when an API key authenticates."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    is_api_key = True

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.pk = self.id = api_key.pk

    def __str__(self) -> str:
        return f"API key {self.api_key.name}"


class BearerAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Expected 'Authorization: Bearer <token>'.")
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if secret.startswith(credentials.API_KEY_PREFIX):
            return self._authenticate_api_key(secret)
        return self._authenticate_user_token(request, secret)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword

    def _authenticate_user_token(self, request: Request, secret: str) -> tuple[Any, AuthToken]:
        key_hash = credentials.digest(secret)
        org_slug = (getattr(request, "parser_context", None) or {}).get("kwargs", {}).get("org")
        # Under `/orgs/{org}/`, the token and the caller's membership come in one query, which
        # the organization's access then reuses; outsiders and bad tokens take the long way.
        found = selectors.membership_by_token(key_hash=key_hash, org_slug=org_slug) if org_slug else None
        if found is not None:
            membership, token = found
            self._check_token(token)
            remember_membership(request, org_slug, membership)
            return token.user, token
        token = self._check_token(AuthToken.objects.select_related("user").filter(key_hash=key_hash).first())
        if org_slug:
            remember_membership(request, org_slug, None)
        return token.user, token

    @staticmethod
    def _check_token(token: AuthToken | None) -> AuthToken:
        if token is None or token.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed("Invalid, revoked or expired token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return token

    def _authenticate_api_key(self, secret: str) -> tuple[ApiKeyPrincipal, ApiKey]:
        key = ApiKey.objects.select_related("organization").filter(key_hash=credentials.digest(secret)).first()
        now = timezone.now()
        if key is None or not key.is_usable(now):
            raise exceptions.AuthenticationFailed("Invalid, revoked or expired API key.")
        self._touch(key, now)
        return ApiKeyPrincipal(key), key

    @staticmethod
    def _touch(key: ApiKey, now: Any) -> None:
        resolution = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)
        if key.last_used_at is None or key.last_used_at < now - resolution:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = BearerAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A user token from `POST /api/v1/auth/token/`, or an organization's API key.",
        }
