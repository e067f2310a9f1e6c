import re
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework import serializers

from alignment_service.access import Access, Scope
from alignment_service.admin_site import ReadOnlyAdmin
from teams import services
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
from teams.org_settings import DEFAULTS, OrgSettingsSerializer, effective_settings


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "is_staff", "is_active", "date_joined"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


class TeamInline(admin.TabularInline):
    model = Team
    extra = 0
    fk_name = "organization"
    fields = ["name", "slug", "kind", "parent", "lead"]
    show_change_link = True
    autocomplete_fields = ["lead", "parent"]


def _without_default(text: Any) -> str:
    return re.sub(r" \(default [^)]*\)", "", str(text or ""))


def _setting_field(name: str, field: serializers.Field) -> forms.Field:
    """A form field for one rule setting, bounded as the API bounds it, with its default."""
    help_text = f"{_without_default(field.help_text) or 'Relative weight of this score component.'} "
    if isinstance(field, serializers.ChoiceField):
        return forms.ChoiceField(
            label=name.replace("_", " ").capitalize(), choices=list(field.choices.items()),
            help_text=f"{help_text}Default: {DEFAULTS[name]}.", required=True,
        )  # fmt: skip
    form_class = forms.IntegerField if isinstance(field, serializers.IntegerField) else forms.FloatField
    return form_class(
        label=name.replace("_", " ").capitalize(),
        min_value=getattr(field, "min_value", None),
        max_value=getattr(field, "max_value", None),
        help_text=f"{help_text}Default: {DEFAULTS[name]}.",
        required=True,
    )


class OrganizationFormBase(forms.ModelForm):
    """Every rule setting as its own field, showing the value in force and its default; only
    values that differ from the default are stored, so a changed default still applies."""

    class Meta:
        model = Organization
        fields = ["name", "slug", "timezone"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = effective_settings(self.instance.settings or {})
        for name in DEFAULTS:
            self.initial.setdefault(name, current[name])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        values = {name: cleaned[name] for name in DEFAULTS if cleaned.get(name) is not None}
        checked = OrgSettingsSerializer(data=values, context={"current": DEFAULTS})
        if not checked.is_valid():
            for name, errors in checked.errors.items():
                self.add_error(name if name in self.fields else None, [str(e) for e in errors])
        return cleaned

    def save(self, commit: bool = True) -> Organization:
        self.instance.settings = {
            name: self.cleaned_data[name] for name in DEFAULTS if self.cleaned_data[name] != DEFAULTS[name]
        }
        return super().save(commit)


OrganizationAdminForm = type(
    "OrganizationAdminForm",
    (OrganizationFormBase,),
    {name: _setting_field(name, field) for name, field in OrgSettingsSerializer().fields.items()},
)

RULE_FIELDSETS = [
    ("Check-ins and corrections", ["checkin_interval_days", "score_threshold", "score_drop_alert", "low_confidence",
                                   "intervention_days", "drift_days"]),
    ("Health and forecasts", ["health_tolerance", "at_risk_gap", "forecast_window_days", "busted_after",
                              "busted_below"]),
    ("Score weights", [name for name in DEFAULTS if name.startswith("weight_")]),
]  # fmt: skip


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    form = OrganizationAdminForm
    list_display = ["name", "slug", "timezone", "created_at"]
    search_fields = ["name", "slug"]
    list_filter = ["timezone"]
    readonly_fields = ["created_at"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline, TeamInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "timezone", "created_at"]}),
        *((title, {"fields": names}) for title, names in RULE_FIELDSETS),  # type: ignore[list-item]
    ]


class TeamMemberInline(admin.TabularInline):
    model = TeamMember
    extra = 0
    fields = ["user"]
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "kind", "parent", "lead"]
    list_filter = ["kind", "organization"]
    search_fields = ["name", "slug", "organization__name", "lead__username"]
    list_select_related = ["organization", "parent", "lead"]
    autocomplete_fields = ["parent", "lead"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [TeamMemberInline]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        for member in formset.save(commit=False):
            member.organization_id = form.instance.organization_id
            member.save()
        for removed in formset.deleted_objects:
            removed.delete()


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__username", "user__email", "organization__name"]
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["user", "organization"]


class ApiKeyAdminForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiKey
        fields = ["organization", "name", "scopes", "expires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Creating a key here shows its secret once, in the confirmation message."""

    form = ApiKeyAdminForm
    list_display = [
        "name",
        "organization",
        "prefix",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["organization", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "organization__name"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        if obj is None:
            return ["organization", "name", "scopes", "expires_at"]
        return [
            "organization",
            "name",
            "scopes",
            "prefix",
            "created_by",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        if obj is None:
            return []
        return ["organization", "scopes", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"scopes": [Scope.READ.value]}

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, secret = services.api_key_create(
            org=obj.organization,
            created_by=cast(User, request.user),
            name=obj.name,
            scopes=obj.scopes,
            expires_at=obj.expires_at,
        )
        obj.pk = key.pk
        obj._state.adding = False
        self.message_user(
            request, f"API key created. Copy it now, it will not be shown again: {secret}", level=messages.WARNING
        )

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        from django.utils import timezone

        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {revoked} key(s).")


@admin.register(AuthToken)
class AuthTokenAdmin(ReadOnlyAdmin):
    list_display = ["prefix", "user", "created_at", "expires_at"]
    search_fields = ["prefix", "user__username"]
    list_select_related = ["user"]
    readonly_fields = ["prefix", "user", "created_at", "expires_at"]
    exclude = ["key_hash"]


INVITATION_FIELDS = [
    "organization", "email", "username", "invitee", "role", "status", "invited_by",
    "created_at", "expires_at", "responded_at", "emailed_at",
]  # fmt: skip


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-mostly: invitations are made and answered through the API; here they can be
    looked up and revoked."""

    list_display = ["__str__", "organization", "role", "status", "created_at", "expires_at", "responded_at"]
    list_filter = ["status", "role", "organization"]
    search_fields = ["email", "username", "organization__name", "organization__slug"]
    list_select_related = ["organization"]
    fields = tuple(INVITATION_FIELDS)
    readonly_fields = tuple(INVITATION_FIELDS)
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Invitation | None = None) -> bool:
        return False

    @admin.action(description="Revoke selected pending invitations", permissions=["view"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        pending = queryset.filter(status=InvitationStatus.PENDING).select_related("organization")
        for invitation in pending:
            # Recorded without an actor: the operator is not necessarily a member of the org.
            services.invitation_revoke(access=Access(org=invitation.organization), invitation=invitation)
        self.message_user(request, f"Revoked {len(pending)} invitation(s).")
