from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from alignment_service.access import Access
from alignment_service.errors import ApplicationError, ValidationFailed
from alignment_service.notifications import webhook_endpoints
from alignment_service.notifications.models import Notification, WebhookDelivery, WebhookEndpoint

if TYPE_CHECKING:
    from teams.models import User


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "recipient", "organization", "kind", "title", "read_at"]
    list_filter = ["kind", "organization", ("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "body", "recipient__username"]
    list_select_related = ["recipient", "organization"]
    readonly_fields = [f.name for f in Notification._meta.fields]


EDITABLE_ENDPOINT_FIELDS = ["url", "events", "description", "active"]


class WebhookEndpointAdminForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = EDITABLE_ENDPOINT_FIELDS

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if url != self.instance.url:
            try:
                webhook_endpoints.webhook_url_check(url)
            except ValidationFailed as exc:
                raise forms.ValidationError(exc.detail, code=exc.code) from None
        return url

    def clean_events(self) -> list[str]:
        events = self.cleaned_data["events"] or []
        if not isinstance(events, list):
            raise forms.ValidationError("A list of event types.", code="invalid")
        try:
            return webhook_endpoints.webhook_events_check(events)
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.detail, code=exc.code) from None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Endpoints are created through the API, which shows the secret once; here they can be
    inspected, paused or edited (through the same service, so the URL is checked again). The
    secret is never displayed."""

    form = WebhookEndpointAdminForm
    list_display = ["url", "organization", "active", "consecutive_failures", "created_at", "disabled_at"]
    list_filter = ["active", "organization"]
    search_fields = ["url", "description", "organization__name"]
    list_select_related = ["organization"]
    fields = [
        "organization",
        *EDITABLE_ENDPOINT_FIELDS,
        "disabled_at",
        "disabled_reason",
        "consecutive_failures",
        "created_by",
        "created_at",
    ]
    readonly_fields = [
        "organization",
        "disabled_at",
        "disabled_reason",
        "consecutive_failures",
        "created_by",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        changed = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_ENDPOINT_FIELDS}
        if changed:
            access = Access(org=obj.organization, user=cast("User", request.user))  # admin pages need a staff login
            webhook_endpoints.webhook_endpoint_update(access=access, endpoint=obj, **changed)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log, read-only; the action schedules failed or succeeded deliveries again."""

    list_display = ["created_at", "event_type", "event_id", "endpoint", "status", "attempts", "response_status"]
    list_filter = ["status", "event_type"]
    search_fields = ["event_id", "endpoint__url", "last_error"]
    list_select_related = ["endpoint"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["redeliver"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Redeliver selected deliveries now", permissions=["view"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        scheduled, refused = 0, []
        for delivery in queryset.select_related("endpoint"):
            try:
                webhook_endpoints.webhook_redeliver(access=None, delivery=delivery)
                scheduled += 1
            except ApplicationError as exc:
                refused.append(f"{delivery.event_id}: {exc.detail}")
        self.message_user(request, f"Scheduled {scheduled} delivery(ies) again.")
        for reason in refused:
            self.message_user(request, f"Not redelivered: {reason}", level=messages.WARNING)
