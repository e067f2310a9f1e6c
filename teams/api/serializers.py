"""Shapes of accounts, organizations, members, teams and API keys (input and output)."""

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alignment_service.access import Role, Scope
from alignment_service.api.fields import AwareDateTimeField, OrgScopedRelatedField
from alignment_service.api.serializers import PrebuiltFieldsMixin
from alignment_service.db import matching_identifier
from teams import selectors
from teams.models import (
    ApiKey,
    Invitation,
    InvitationStatus,
    Membership,
    Organization,
    Team,
    TeamKind,
    User,
    validate_timezone,
)
from teams.org_settings import DEFAULTS, OrgSettingsSerializer


def org_member_field(**kwargs: Any) -> OrgScopedRelatedField:
    return OrgScopedRelatedField(
        model=User, queryset_for_org=lambda org: selectors.org_members_as_users(org=org), **kwargs
    )


class UserSerializer(serializers.ModelSerializer):
    # Usernames may hold any letter (Django's `\w` is Unicode); the model's pattern would read
    # as ASCII-only in the schema's ECMA regex.
    username = serializers.CharField(max_length=150)

    class Meta:
        model = User
        fields = ["id", "username", "email"]


class SignupSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, max_length=256, style={"input_type": "password"})


class TokenCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=254, help_text="Username or email.")
    password = serializers.CharField(write_only=True, max_length=256, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Shown once. Send as `Authorization: Bearer <token>`.")
    expires_at = serializers.DateTimeField()


class MeMembershipSerializer(serializers.Serializer):
    org = serializers.SlugField(source="organization.slug")
    role = serializers.ChoiceField(choices=Role.choices)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    memberships = MeMembershipSerializer(many=True)


class OrganizationSerializer(PrebuiltFieldsMixin, serializers.ModelSerializer):
    settings = OrgSettingsSerializer(source="effective_settings", read_only=True)

    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "timezone", "settings", "created_at"]


class OrganizationCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=60)

    def validate_slug(self, value: str) -> str:
        if matching_identifier(Organization.objects.all(), "slug", value).exists():
            raise serializers.ValidationError("An organization with this slug already exists.", code="unique")
        return value


@extend_schema_field(OrgSettingsSerializer(partial=True))
class PartialSettingsField(serializers.DictField):
    """Some of an organization's rule settings, each validated as `OrgSettingsSerializer` says."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        values = super().to_internal_value(data)
        unknown = sorted(set(values) - set(DEFAULTS))
        if unknown:
            raise serializers.ValidationError({key: ["Unknown setting."] for key in unknown}, code="unknown")
        settings = OrgSettingsSerializer(data=values, partial=True, context=self.parent.context)
        if not settings.is_valid():
            raise serializers.ValidationError(settings.errors)
        return dict(settings.validated_data)


class OrganizationUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    timezone = serializers.CharField(max_length=64, required=False, help_text="IANA time zone, e.g. Europe/Berlin.")
    settings = PartialSettingsField(required=False, help_text="Only the settings to change; the others are kept.")

    def validate_timezone(self, value: str) -> str:
        from django.core.exceptions import ValidationError

        try:
            validate_timezone(value)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return value


class MemberSerializer(serializers.ModelSerializer):
    user = UserSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created_at"]


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(serializers.ModelSerializer):
    """An invitation as its organization's admins see it: what they typed, never an account."""

    email = serializers.SerializerMethodField(help_text="The address as given, or null.")
    user = serializers.SerializerMethodField(help_text="The username as given, or null.")
    status = serializers.SerializerMethodField()
    invited_by: serializers.PrimaryKeyRelatedField[User] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="User id of the inviter."
    )

    class Meta:
        model = Invitation
        fields = ["id", "email", "user", "role", "status", "expires_at", "invited_by", "created_at"]

    def get_email(self, invitation: Invitation) -> str | None:
        return invitation.email or None

    def get_user(self, invitation: Invitation) -> str | None:
        return invitation.username or None

    @extend_schema_field(serializers.ChoiceField(choices=InvitationStatus.choices))
    def get_status(self, invitation: Invitation) -> str:
        return invitation.effective_status()


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, help_text="Address to invite.")
    user = serializers.CharField(max_length=150, required=False, help_text="Username to invite.")
    role = serializers.ChoiceField(choices=Role.choices)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("email") and not attrs.get("user"):
            raise serializers.ValidationError(
                {"email": ["Give an email address or a username (`user`)."]}, code="email_or_user_required"
            )
        return {"email": attrs.get("email", ""), "username": attrs.get("user", ""), "role": attrs["role"]}


class InvitingOrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["slug", "name"]


class MyInvitationSerializer(serializers.ModelSerializer):
    """An invitation as its invitee sees it."""

    org = InvitingOrganizationSerializer(source="organization", read_only=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = ["id", "org", "role", "status", "expires_at", "created_at"]

    @extend_schema_field(serializers.ChoiceField(choices=InvitationStatus.choices))
    def get_status(self, invitation: Invitation) -> str:
        return invitation.effective_status()


class TeamSerializer(serializers.ModelSerializer):
    members = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["id", "name", "slug", "kind", "parent", "lead", "members", "description", "created_at", "updated_at"]

    def get_members(self, team: Team) -> list[int]:
        return [member.user_id for member in team.team_members.all()]


class TeamWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=60, required=False, help_text="Derived from the name when omitted.")
    kind = serializers.ChoiceField(choices=TeamKind.choices, default=TeamKind.TEAM)
    parent = OrgScopedRelatedField(  # type: ignore[assignment]  # the stubs type Field.parent
        model=Team, queryset_for_org=lambda org: Team.objects.filter(organization=org), allow_null=True, required=False
    )
    lead = org_member_field(allow_null=True, required=False, help_text="User id of a member of the organization.")
    members = org_member_field(many=True, required=False, help_text="User ids of members of the organization.")
    description = serializers.CharField(allow_blank=True, required=False, max_length=10_000)


class ApiKeySerializer(serializers.ModelSerializer):
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices))

    class Meta:
        model = ApiKey
        fields = ["id", "name", "scopes", "prefix", "created_at", "last_used_at", "expires_at"]


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The secret, shown only in this response.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=Scope.choices), min_length=1, max_length=len(Scope)
    )
    expires_at = AwareDateTimeField(required=False, allow_null=True)

    def validate_expires_at(self, value: Any) -> Any:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Must be in the future.", code="past")
        return value
