"""Reads for accounts, organizations, memberships, teams and API keys."""

import functools
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import F, Model, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Lower
from django.utils import timezone

from alignment_service.db import matching_identifier
from teams.models import (
    ApiKey,
    AuthToken,
    Invitation,
    InvitationStatus,
    Membership,
    Organization,
    Team,
    TeamMember,
    User,
)


def orgs_for_user(*, user: User) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user=user).order_by("name", "slug")


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("organization").order_by("organization__slug")


#: The models read together to authenticate a token under `/orgs/{slug}/`, with their aliases.
TOKEN_ACCESS_MODELS: tuple[tuple[type[Model], str], ...] = (
    (AuthToken, "t"),
    (User, "u"),
    (Membership, "m"),
    (Organization, "o"),
)


def membership_by_token(*, key_hash: str, org_slug: str) -> tuple[Membership, AuthToken] | None:
    """The membership in the organization named by `org_slug` (in any case) of the user whose
    token hashes to `key_hash`, with its user, organization and token: one query. None when
    there is no such token or its user is not a member (expiry is the caller's to check).

    Every org-scoped request runs it, and compiling it through the ORM costs several times
    what PostgreSQL takes to answer it, so there it is one prepared statement of SQL."""
    if connection.vendor != "postgresql":
        return _membership_by_token_orm(key_hash=key_hash, org_slug=org_slug)
    with connection.cursor() as cursor:
        cursor.execute(_token_access_sql(), [key_hash, org_slug.lower()])
        row = cursor.fetchone()
    if row is None:
        return None
    token, user, membership, organization = _models_from_row(row)
    token.user = membership.user = user
    membership.organization = organization
    return membership, token


@functools.cache
def _token_access_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(
        f"{alias}.{quote(field.column)}"
        for model, alias in TOKEN_ACCESS_MODELS
        for field in model._meta.concrete_fields
    )
    tables = {alias: quote(model._meta.db_table) for model, alias in TOKEN_ACCESS_MODELS}
    # Identifiers come from the models' metadata (quoted); the token and slug are parameters.
    return (
        f"SELECT {columns} FROM {tables['t']} t JOIN {tables['u']} u ON u.id = t.user_id "  # noqa: S608
        f"JOIN {tables['m']} m ON m.user_id = t.user_id JOIN {tables['o']} o ON o.id = m.organization_id "
        "WHERE t.key_hash = %s AND lower(o.slug) = %s LIMIT 1"
    )


def _models_from_row(row: Sequence[Any]) -> list[Any]:
    instances, start = [], 0
    for model, _alias in TOKEN_ACCESS_MODELS:
        fields = model._meta.concrete_fields
        values = [
            field.from_db_value(value, None, connection) if hasattr(field, "from_db_value") else value
            for field, value in zip(fields, row[start : start + len(fields)], strict=True)
        ]
        instances.append(model.from_db(connection.alias, [field.attname for field in fields], values))
        start += len(fields)
    return instances


def _membership_by_token_orm(*, key_hash: str, org_slug: str) -> tuple[Membership, AuthToken] | None:
    token_fields = ("id", "user_id", "expires_at")  # what the access needs; the rest loads if asked for
    columns = {f"token_{name}": F(f"user__auth_tokens__{name}") for name in token_fields}
    found = (
        Membership.objects.select_related("organization", "user")
        .alias(org_slug_lower=Lower("organization__slug"))
        .filter(org_slug_lower=org_slug.lower(), user__auth_tokens__key_hash=key_hash)
        .annotate(**columns)
        .order_by()[:1]  # at most one row: a token names one user, who has one membership per org
    )
    membership = next(iter(found), None)
    if membership is None:
        return None
    token = AuthToken.from_db(membership._state.db, token_fields, [getattr(membership, name) for name in columns])
    token.user = membership.user
    return membership, token


def member_list(*, org: Organization) -> QuerySet[Membership]:
    return Membership.objects.filter(organization=org).select_related("user").order_by("created_at", "id")


def team_list(*, org: Organization) -> QuerySet[Team]:
    member_ids = TeamMember.objects.only("team_id", "user_id").order_by("user_id")
    return (
        Team.objects.filter(organization=org)
        .prefetch_related(Prefetch("team_members", queryset=member_ids))
        .order_by("name", "id")
    )


def api_key_list(*, org: Organization) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(organization=org, revoked_at__isnull=True).order_by("-created_at", "id")


def user_by_username_or_email(*, identifier: str) -> User | None:
    if "@" in identifier:
        return User.objects.filter(email__iexact=identifier, is_active=True).first()
    return matching_identifier(User.objects.filter(is_active=True), "username", identifier).first()


def org_members_as_users(*, org: Organization) -> QuerySet[User]:
    return User.objects.filter(memberships__organization=org)


def invitation_list(*, org: Organization) -> QuerySet[Invitation]:
    return Invitation.objects.filter(organization=org).order_by("-created_at", "id")


def invitations_filter_status(queryset: QuerySet[Invitation], status: str) -> QuerySet[Invitation]:
    """`pending` means not yet expired; `expired` is a pending invitation past its expiry."""
    at = timezone.now()
    if status == InvitationStatus.PENDING:
        return queryset.filter(status=InvitationStatus.PENDING, expires_at__gt=at)
    if status == InvitationStatus.EXPIRED:
        return queryset.filter(status=InvitationStatus.PENDING, expires_at__lte=at)
    return queryset.filter(status=status)


def invitations_for_user(*, user: User) -> QuerySet[Invitation]:
    """Invitations addressed to `user`: by the account a username named, or by the email address
    stored on the account (case-insensitively). Revoked ones are withdrawn, so never shown."""
    addressed = Q(invitee=user)
    if user.email:
        addressed |= Q(email_ci=Lower(Value(user.email)))
    return (
        Invitation.objects.alias(email_ci=Lower("email"))
        .filter(addressed)
        .exclude(status=InvitationStatus.REVOKED)
        .select_related("organization")
        .order_by("-created_at", "id")
    )


def pending_invitations_for_user(*, user: User) -> QuerySet[Invitation]:
    return invitations_filter_status(invitations_for_user(user=user), InvitationStatus.PENDING)


def active_user_by_username(*, username: str) -> User | None:
    return matching_identifier(User.objects.filter(is_active=True), "username", username).first()
