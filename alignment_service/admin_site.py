"""The admin for the people who run the service: business data first, the service's own
machinery (outbox, score jobs, idempotency records, tokens) grouped apart and read-only, and
small display helpers (percentages, rounded numbers, coloured health) for the model admins."""

from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

#: "app_label.ModelName" of the machinery: shown last, in a group of their own, read-only.
INTERNALS = (
    "outbox.OutboxMessage",
    "feedback.ScoreJob",
    "idempotency.IdempotencyRecord",
    "teams.AuthToken",
)
HEALTH_COLOURS = {
    "on_track": "#1a7f37",
    "at_risk": "#9a6700",
    "off_track": "#cf222e",
    "no_data": "#6e7781",
}


class AlignmentAdminSite(admin.AdminSite):
    site_header = "Alignment service operations"
    site_title = "Alignment admin"
    index_title = "Organizations, their goals, and the service's machinery"
    # No public site lives at the root; the link would lead to a 404.
    site_url = None

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps
        internals: list[dict[str, Any]] = []
        business = []
        for app in apps:
            models = [m for m in app["models"] if f"{app['app_label']}.{m['object_name']}" not in INTERNALS]
            internals += [m for m in app["models"] if m not in models]
            if models:
                business.append({**app, "models": models})
        if internals:
            business.append(
                {
                    "name": "Service internals (read-only)",
                    "app_label": "internals",
                    "app_url": "",
                    "has_module_perms": True,
                    "models": sorted(internals, key=lambda m: str(m["name"])),
                }
            )
        return business


class AlignmentAdminConfig(AdminConfig):
    default_site = "alignment_service.admin_site.AlignmentAdminSite"


class ReadOnlyAdmin(admin.ModelAdmin):
    """For the machinery: look, never touch (the service writes these rows itself)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def percent(share: float | None) -> str:
    """0.425 -> "43 %"; no value -> "-"."""
    return "-" if share is None else f"{share:.0%}"


def rounded(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def health_label(health: str | None) -> SafeString:
    value = health or "no_data"
    colour = HEALTH_COLOURS.get(value, HEALTH_COLOURS["no_data"])
    return format_html(
        '<span style="background:{};color:#fff;border-radius:4px;padding:1px 6px;white-space:nowrap">{}</span>',
        colour,
        value.replace("_", " "),
    )
