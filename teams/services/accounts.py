"""Accounts: signing up, and the bearer tokens a user signs in with."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from alignment_service.db import (
    matching_identifier,
)
from alignment_service.errors import PermissionDenied
from teams import credentials
from teams.models import (
    AuthToken,
    User,
)


@transaction.atomic
def user_signup(*, username: str, email: str, password: str) -> User:
    if not settings.SIGNUP_ENABLED:
        raise PermissionDenied("Signup is disabled on this server.", code="signup_disabled")
    user = User(username=username, email=email)
    errors: dict[str, list[Any]] = {}
    try:
        user.full_clean(exclude=["password"], validate_constraints=False)
    except DjangoValidationError as exc:
        errors.update(exc.error_dict)
    if "username" not in errors and matching_identifier(User.objects.all(), "username", user.username).exists():
        errors["username"] = [DjangoValidationError("A user with that username already exists.", code="unique")]
    if email and User.objects.filter(email__iexact=email).exists():
        errors.setdefault("email", []).append(
            DjangoValidationError("A user with that email already exists.", code="unique")
        )
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        errors["password"] = exc.error_list
    if errors:
        raise DjangoValidationError(errors)
    user.set_password(password)
    user.save()
    return user


@transaction.atomic
def auth_token_create(*, user: User) -> tuple[AuthToken, str]:
    secret = credentials.new_secret(credentials.USER_TOKEN_PREFIX)
    token = AuthToken.objects.create(
        user=user,
        key_hash=credentials.digest(secret),
        prefix=credentials.display_prefix(secret),
        expires_at=timezone.now() + timedelta(hours=settings.AUTH_TOKEN_TTL_HOURS),
    )
    return token, secret


def auth_token_revoke(*, token: AuthToken) -> None:
    AuthToken.objects.filter(pk=token.pk).delete()


def auth_tokens_purge_expired(*, now: datetime | None = None) -> int:
    deleted, _ = AuthToken.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
