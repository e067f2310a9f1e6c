"""Webhook endpoints: creating, changing and removing them, their secret, a ping, a redelivery."""

import base64
import secrets
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alignment_service.access import Access
from alignment_service.activity.services import activity_record
from alignment_service.errors import Conflict, ValidationFailed
from alignment_service.notifications import ssrf
from alignment_service.notifications.models import (
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEventType,
)
from alignment_service.notifications.webhooks import DELIVER_TASK, EVENT_TYPES, webhook_deliveries_create
from alignment_service.outbox.services import outbox_enqueue
from alignment_service.unset import UNSET, NotGiven

SECRET_PREFIX = "whsec_"


def webhook_secret_new() -> str:
    """`whsec_` + base64 of 32 random bytes, the Standard Webhooks secret format."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_url_check(url: str) -> None:
    """Refuse a URL that points where webhooks may not go (`ValidationFailed` on `url`)."""
    try:
        ssrf.check_url(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_URLS)
    except ssrf.UnsafeURL as exc:
        raise ValidationFailed(str(exc), code="unsafe_url", attr="url") from None


def webhook_events_check(events: list[str]) -> list[str]:
    """The subscribed event types, de-duplicated; unknown ones are refused (`events.N`)."""
    for index, event in enumerate(events):
        if event not in EVENT_TYPES:
            raise ValidationFailed(
                f'"{event}" is not a valid event type.', code="invalid_choice", attr=f"events.{index}"
            )
    return list(dict.fromkeys(events))


@transaction.atomic
def webhook_endpoint_create(
    *, access: Access, url: str, events: list[str] | None = None, description: str = "", active: bool = True
) -> WebhookEndpoint:
    """A new endpoint with a new secret (the caller shows `endpoint.secret` once)."""
    webhook_url_check(url)
    endpoint = WebhookEndpoint.objects.create(
        organization=access.org, url=url, events=webhook_events_check(events or []), description=description,
        active=active, secret=webhook_secret_new(), created_by=access.user,
        disabled_at=None if active else timezone.now(), disabled_reason="" if active else "Created inactive.",
    )  # fmt: skip
    activity_record(
        access=access, verb="webhook.created", subject_type="webhook", subject_id=endpoint.pk,
        summary=f"added webhook {url}", data={"events": endpoint.events},
    )  # fmt: skip
    return endpoint


@transaction.atomic
def webhook_endpoint_update(
    *,
    access: Access,
    endpoint: WebhookEndpoint,
    url: str | NotGiven = UNSET,
    events: list[str] | NotGiven = UNSET,
    description: str | NotGiven = UNSET,
    active: bool | NotGiven = UNSET,
) -> WebhookEndpoint:
    """Change `url`, `events`, `active` or `description` (those passed). Reactivating clears the
    disabling and the failure count; deactivating records who did it."""
    endpoint = WebhookEndpoint.objects.select_for_update(no_key=True).get(pk=endpoint.pk, organization=access.org)
    changed: dict[str, Any] = {}
    if url is not UNSET and url != endpoint.url:
        webhook_url_check(url)
        endpoint.url = changed["url"] = url
    if events is not UNSET:
        events = webhook_events_check(events)
        if events != endpoint.events:
            endpoint.events = changed["events"] = events
    if description is not UNSET and description != endpoint.description:
        endpoint.description = changed["description"] = description
    if active is not UNSET and active != endpoint.active:
        endpoint.active = changed["active"] = active
        if endpoint.active:
            endpoint.disabled_at, endpoint.disabled_reason, endpoint.consecutive_failures = None, "", 0
        else:
            endpoint.disabled_at, endpoint.disabled_reason = timezone.now(), "Deactivated by an admin."
    if changed:
        endpoint.save()
        activity_record(
            access=access, verb="webhook.updated", subject_type="webhook", subject_id=endpoint.pk,
            summary=f"changed webhook {endpoint.url} ({', '.join(sorted(changed))})", data=changed,
        )  # fmt: skip
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, access: Access, endpoint: WebhookEndpoint) -> None:
    deleted, _ = WebhookEndpoint.objects.filter(pk=endpoint.pk, organization=access.org).delete()
    if deleted:
        activity_record(
            access=access, verb="webhook.deleted", subject_type="webhook", subject_id=endpoint.pk,
            summary=f"removed webhook {endpoint.url}",
        )  # fmt: skip


@transaction.atomic
def webhook_secret_rotate(*, access: Access, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret, effective at once: every attempt from now on is signed with it."""
    endpoint = WebhookEndpoint.objects.select_for_update(no_key=True).get(pk=endpoint.pk, organization=access.org)
    endpoint.secret = webhook_secret_new()
    endpoint.save(update_fields=["secret"])
    activity_record(
        access=access, verb="webhook.secret_rotated", subject_type="webhook", subject_id=endpoint.pk,
        summary=f"rotated the secret of webhook {endpoint.url}",
    )  # fmt: skip
    return endpoint


def _require_active(endpoint: WebhookEndpoint) -> None:
    if not endpoint.active:
        raise Conflict("The endpoint is inactive; activate it first (PATCH active=true).", code="endpoint_inactive")


@transaction.atomic
def webhook_ping(*, access: Access, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Owe a `webhook.ping` to this endpoint only (whatever it subscribes to)."""
    _require_active(endpoint)
    (created,) = webhook_deliveries_create(
        org=access.org, endpoints=[endpoint], event_type=WebhookEventType.WEBHOOK_PING.value,
        data={"webhook_id": str(endpoint.pk), "message": "A test event, sent on request."},
        event_key=f"ping:{uuid.uuid4()}",
    )  # fmt: skip
    return created


@transaction.atomic
def webhook_redeliver(*, access: Access | None, delivery: WebhookDelivery) -> WebhookDelivery:
    """Schedule a finished delivery again, now, with the same event id and payload; the retry
    schedule starts over. Deliveries older than the retention period cannot be redelivered.
    `access` is None for staff acting in the admin (no activity entry)."""
    org_id = access.org.pk if access is not None else delivery.organization_id
    delivery = WebhookDelivery.objects.select_for_update(no_key=True).get(pk=delivery.pk, organization_id=org_id)
    if delivery.status not in (WebhookDeliveryStatus.SUCCEEDED, WebhookDeliveryStatus.FAILED):
        raise Conflict("This delivery is still being attempted.", code="delivery_in_progress")
    if delivery.created_at <= timezone.now() - timedelta(days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS):
        raise Conflict(
            f"Deliveries older than {settings.WEBHOOK_DELIVERY_RETENTION_DAYS} days cannot be redelivered.",
            code="delivery_expired",
        )
    _require_active(delivery.endpoint)
    delivery.status = WebhookDeliveryStatus.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.schedule_offset = delivery.attempts
    delivery.save(update_fields=["status", "next_attempt_at", "schedule_offset"])
    org = access.org if access is not None else delivery.organization
    outbox_enqueue(org=org, task_name=DELIVER_TASK, kwargs={}, dedupe_key=DELIVER_TASK)
    if access is not None:
        activity_record(
            access=access, verb="webhook.redelivered", subject_type="webhook", subject_id=delivery.endpoint_id,
            summary=f"redelivered {delivery.event_type} {delivery.event_id}",
        )  # fmt: skip
    return delivery
