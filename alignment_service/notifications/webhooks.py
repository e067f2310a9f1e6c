"""Signed webhooks, the emitting side: what every app calls to owe an event to the endpoints.

`emit_event` is called inside the transaction that made the change: it freezes the payload
into one pending `WebhookDelivery` per subscribed endpoint and owes a `webhooks.deliver_due`
run through the outbox, so nothing is sent unless the change commits and nothing is sent from
inside a transaction. Sending is `dispatch.py`'s job; endpoints are managed in
`webhook_endpoints.py`; reads are in `selectors.py`.

Payloads are shown to outside systems: callers must never put the author of anonymous feedback
in `data`. `emit_event` enforces it anyway with `redact_anonymous`.
"""

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from alignment_service.db import insert_rows
from alignment_service.notifications.models import WebhookDelivery, WebhookEndpoint, WebhookEventType
from alignment_service.outbox.services import outbox_enqueue

if TYPE_CHECKING:
    from teams.models import Organization

EVENT_TYPES: tuple[str, ...] = tuple(WebhookEventType.values)
DELIVER_TASK = "webhooks.deliver_due"

_EVENT_NAMESPACE = uuid.UUID("6f1d4c52-3b9e-4f7e-9a2c-6a0f3e8b1d27")


def event_id_for(*, org: "Organization", event_type: str, event_key: str) -> str:
    """The event's stable id: the same org, type and key always give the same id."""
    return "evt_" + uuid.uuid5(_EVENT_NAMESPACE, f"{org.pk}:{event_type}:{event_key}").hex


def redact_anonymous(data: Any) -> Any:
    """A copy of `data` in which every object marked `"anonymous": true` has lost its author
    (`author`, `author_id`): anonymous feedback must never reveal who gave it."""
    if isinstance(data, dict):
        hidden = {"author", "author_id"} if data.get("anonymous") is True else set()
        return {key: redact_anonymous(value) for key, value in data.items() if key not in hidden}
    if isinstance(data, list | tuple):
        return [redact_anonymous(item) for item in data]
    return data


def _freeze(event_type: str, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The body every attempt sends, in JSON types only (dates, UUIDs and decimals as strings)."""
    encoded = DjangoJSONEncoder().encode(data)
    if '"anonymous"' in encoded:  # only a body that names `anonymous` (as a key or a value) may need it
        encoded = DjangoJSONEncoder().encode(redact_anonymous(data))
    return {"type": event_type, "timestamp": now.astimezone(UTC).isoformat(), "data": json.loads(encoded)}


def webhook_deliveries_create(
    *, org: "Organization", endpoints: Iterable[WebhookEndpoint], event_type: str, data: dict[str, Any], event_key: str
) -> list[WebhookDelivery]:
    now = timezone.now()
    event_id = event_id_for(org=org, event_type=event_type, event_key=event_key)
    payload = _freeze(event_type, data, now)
    rows = [
        WebhookDelivery(
            organization=org, endpoint=endpoint, event_id=event_id, event_type=event_type, payload=payload,
            next_attempt_at=now, created_at=now,
        )
        for endpoint in endpoints
    ]  # fmt: skip
    if not rows:
        return []
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    outbox_enqueue(org=org, task_name=DELIVER_TASK, kwargs={}, dedupe_key=DELIVER_TASK)
    return rows


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    key: str


@transaction.atomic
def emit_event(*, org: "Organization", event_type: str, data: dict[str, Any], event_key: str) -> int:
    """Owe `event_type` with `data` to every active endpoint of `org` subscribed to it.

    Call it inside the transaction that made the change: the deliveries and the outbox row
    commit (or roll back) with it. `event_key` names the event for its caller (e.g.
    `"course_correction.opened:<id>"`); emitting the same key again adds nothing. Returns the
    number of endpoints the event is owed to.
    """
    return emit_events(org=org, events=[Event(event_type, data, event_key)])


@transaction.atomic
def emit_events(*, org: "Organization", events: Iterable[Event]) -> int:
    """`emit_event` for many events at once: one query for the endpoints, one insert."""
    events = list(events)
    unknown = sorted({event.type for event in events} - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"Unknown webhook event type {unknown[0]!r}.")
    if not events:
        return 0
    endpoints = list(WebhookEndpoint.objects.filter(organization=org, active=True).only("id", "events"))
    now = timezone.now()
    rows: list[dict[str, Any]] = []
    for event in events:
        subscribed = [endpoint for endpoint in endpoints if endpoint.subscribes_to(event.type)]
        if not subscribed:
            continue
        payload = _freeze(event.type, event.data, now)  # once per event, whatever the endpoints
        event_id = event_id_for(org=org, event_type=event.type, event_key=event.key)
        rows += [
            {
                "organization_id": org.pk, "endpoint_id": endpoint.pk, "event_type": event.type,
                "next_attempt_at": now, "created_at": now, "event_id": event_id, "payload": payload,
            }
            for endpoint in subscribed
        ]  # fmt: skip
    if rows:
        insert_rows(WebhookDelivery, rows, ignore_conflicts=True)
        outbox_enqueue(org=org, task_name=DELIVER_TASK, kwargs={}, dedupe_key=DELIVER_TASK)
    return len(rows)
