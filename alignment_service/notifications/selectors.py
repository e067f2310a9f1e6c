"""Reads of webhook endpoints and deliveries."""

from typing import TYPE_CHECKING

from django.db.models import Count, QuerySet

from alignment_service.notifications.models import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint

if TYPE_CHECKING:
    from teams.models import Organization


def webhook_endpoint_list(*, org: "Organization") -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organization=org).order_by("-created_at", "-id")


def webhook_delivery_list(*, org: "Organization", endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(organization=org, endpoint=endpoint).order_by("-created_at", "-id")


def webhook_stats() -> dict[str, int]:
    """For operators: deliveries by status, and endpoints switched off by failures."""
    counts = dict.fromkeys(WebhookDeliveryStatus.values, 0)
    for row in WebhookDelivery.objects.values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    disabled = WebhookEndpoint.objects.filter(active=False, disabled_at__isnull=False).count()
    return {**counts, "endpoints_disabled": disabled}
