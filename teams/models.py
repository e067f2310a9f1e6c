"""Accounts, organizations, memberships, teams and API keys."""

from __future__ import annotations

import uuid
import zoneinfo
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils.timezone import now

from alignment_service.access import Role, Scope

ApiKeyScope = Scope


class User(AbstractUser):
    """A person. Emails are unique (case-insensitively) so members can be invited by email."""

    email = models.EmailField("email address", blank=True)

    class Meta:
        verbose_name = "user"
        verbose_name_plural = "users"
        constraints = [
            # Usernames are stored in NFKC (`AbstractUser.clean`), so lower() of the stored form
            # is the name without regard to case or compatibility forms.
            models.UniqueConstraint(
                Lower("username"),
                name="user_username_unique_ci",
                violation_error_message="A user with that username already exists.",
            ),
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="user_email_unique_ci",
                violation_error_message="A user with that email already exists.",
            ),
        ]


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not a known IANA time zone.")


class Organization(models.Model):
    """The tenant. Everything it owns carries its id and lives under `/orgs/{slug}/`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    settings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["name", "slug"]
        constraints = [
            models.UniqueConstraint(
                Lower("slug"),
                name="organization_slug_unique_ci",
                violation_error_message="An organization with this slug already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_settings(self) -> dict[str, Any]:
        from teams.org_settings import effective_settings

        return effective_settings(self.settings)


class Membership(models.Model):
    """A user's role in an organization."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=now, editable=False)
    welcomed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_per_org"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="membership_role_valid"),
        ]
        indexes = [models.Index(fields=["organization", "role"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    REVOKED = "revoked", "Revoked"
    #: Never stored: a pending invitation whose `expires_at` has passed.
    EXPIRED = "expired", "Expired"


STORED_INVITATION_STATUSES = [status for status in InvitationStatus.values if status != InvitationStatus.EXPIRED]


class Invitation(models.Model):
    """An admin's offer of a role; only the invitee's acceptance makes the membership.

    `email` and `username` are kept as the admin typed them. `invitee` is the account the
    username named when the invitation was made; it is never shown to the organization, so an
    invitation tells its sender nothing about whether an account exists. An email invitation
    matches whichever account holds that address (case-insensitively) when it is read.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(blank=True, default="")
    username = models.CharField(max_length=150, blank=True, default="")
    invitee = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    role = models.CharField(max_length=16, choices=Role.choices)
    status = models.CharField(max_length=16, choices=InvitationStatus.choices, default=InvitationStatus.PENDING)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=now, editable=False)
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True, editable=False)
    emailed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(email="", username=""), name="invitation_names_someone"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="invitation_role_valid"),
            models.CheckConstraint(
                condition=models.Q(status__in=STORED_INVITATION_STATUSES), name="invitation_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "expires_at"]),
            models.Index(Lower("email"), name="invitation_email_ci"),
            models.Index(fields=["invitee", "status"]),
            models.Index(fields=["expires_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.email or self.username} to {self.organization_id} ({self.role}, {self.status})"

    def effective_status(self, at: Any = None) -> str:
        if self.status == InvitationStatus.PENDING and self.expires_at <= (at or now()):
            return InvitationStatus.EXPIRED
        return self.status


class TeamKind(models.TextChoices):
    TEAM = "team", "Team"
    STEERING_GROUP = "steering_group", "Steering group"


class Team(models.Model):
    """A team or steering group; `parent` forms a tree inside one organization."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60)
    kind = models.CharField(max_length=20, choices=TeamKind.choices, default=TeamKind.TEAM)
    parent = models.ForeignKey("self", on_delete=models.RESTRICT, null=True, blank=True, related_name="children")
    lead = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="led_teams")
    members: models.ManyToManyField[User, TeamMember] = models.ManyToManyField(
        User, through="TeamMember", related_name="teams", blank=True
    )
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                models.F("organization"),
                Lower("slug"),
                name="team_slug_unique_ci_per_org",
                violation_error_message="A team with this slug already exists.",
            ),
            models.CheckConstraint(condition=~models.Q(parent=models.F("id")), name="team_not_own_parent"),
            models.CheckConstraint(condition=models.Q(kind__in=TeamKind.values), name="team_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="team_members")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="team_memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="team_member_unique")]
        indexes = [models.Index(fields=["organization", "user"])]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.team_id}"


class AuthToken(models.Model):
    """A user's bearer token. Only its SHA-256 is stored; the secret is shown once."""

    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_tokens")
    created_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class ApiKey(models.Model):
    """An integration's credential: acts as its organization, within its scopes only."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200)
    scopes = models.JSONField(default=list)
    prefix = models.CharField(max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, at: Any = None) -> bool:
        at = at or now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > at)
