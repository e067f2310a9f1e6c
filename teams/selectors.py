"""Reads for accounts, organizations, memberships, teams and API keys."""

from django.db.models import F, Prefetch, Q, QuerySet, Value
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

TOKEN_FIELDS = ("id", "key_hash", "prefix", "user_id", "created_at", "expires_at")


def orgs_for_user(*, user: User) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user=user).order_by("name", "slug")


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("organization").order_by("organization__slug")


def membership_by_token(*, key_hash: str, org_slug: str) -> tuple[Membership, AuthToken] | None:
    """The membership in the organization named by `org_slug` (in any case) of the user whose
    token hashes to `key_hash`, with its user, organization and token: one query. None when
    there is no such token or its user is not a member (expiry is the caller's to check)."""
    columns = {f"token_{name}": F(f"user__auth_tokens__{name}") for name in TOKEN_FIELDS}
    membership = (
        Membership.objects.select_related("organization", "user")
        .alias(org_slug_lower=Lower("organization__slug"))
        .filter(org_slug_lower=org_slug.lower(), user__auth_tokens__key_hash=key_hash)
        .annotate(**columns)
        .first()
    )
    if membership is None:
        return None
    token = AuthToken.from_db(membership._state.db, TOKEN_FIELDS, [getattr(membership, name) for name in columns])
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
