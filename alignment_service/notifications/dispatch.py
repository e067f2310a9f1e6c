"""The webhook delivery worker: claims due deliveries, attempts them, records each outcome.

`webhooks_deliver_due` (the outbox kick and a beat job every few seconds) claims due
deliveries, sends them outside any transaction (`delivery.attempt`) and records the outcome.
The retry schedule lives in the database (`next_attempt_at`), never in a Celery countdown, so a
lost task or a restarted worker loses nothing; a worker killed mid-attempt leaves a
`delivering` row whose lease expires and is claimed again.
"""

import logging
import random
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from alignment_service.access import org_admin_ids
from alignment_service.notifications import delivery
from alignment_service.notifications.models import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from alignment_service.notifications.services import notify
from alignment_service.notifications.webhooks import DELIVER_TASK

logger = logging.getLogger(__name__)

#: Delay before each attempt, in seconds: the first at once, then backing off to 10 hours,
#: about 27.5 hours in all. Each delay after the first varies by ±10 % (jitter) so that
#: deliveries failing together do not all come back together.
RETRY_DELAYS_SECONDS: tuple[int, ...] = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
JITTER = 0.1
#: Grace beyond the attempt timeout after which a `delivering` row is presumed abandoned. An
#: attempt is cut at `WEBHOOK_TIMEOUT_SECONDS` as a whole, so a live one records its outcome
#: well inside it; a dead worker's slot of its endpoint is free again this soon after.
LEASE_GRACE_SECONDS = 15
#: While attempts are running, how often the dispatcher looks for newly due deliveries.
CLAIM_POLL_SECONDS = 0.25

_random = random.SystemRandom()


@dataclass(frozen=True)
class _Claim:
    delivery_id: Any
    endpoint_id: Any
    attempts: int
    schedule_offset: int
    url: str
    secret: str
    event_id: str
    payload: dict[str, Any]
    #: The endpoint's last attempt failed: it may be slow or dead.
    suspect: bool = False


def next_delay(attempt: int) -> timedelta | None:
    """The wait after a failed `attempt` (1-based, counted since the schedule started), or
    None when it was the last one. Jittered by ±10 %."""
    if attempt >= len(RETRY_DELAYS_SECONDS):
        return None
    seconds = RETRY_DELAYS_SECONDS[attempt] * _random.uniform(1 - JITTER, 1 + JITTER)
    return timedelta(seconds=seconds)


def _lease_seconds() -> float:
    return float(settings.WEBHOOK_TIMEOUT_SECONDS) + LEASE_GRACE_SECONDS


def _due() -> QuerySet[WebhookDelivery]:
    """Pending deliveries whose time has come, and `delivering` ones whose lease expired (their
    worker died)."""
    now = timezone.now()
    return WebhookDelivery.objects.filter(
        Q(status=WebhookDeliveryStatus.PENDING, next_attempt_at__lte=now)
        | Q(status=WebhookDeliveryStatus.DELIVERING, last_attempt_at__lt=now - timedelta(seconds=_lease_seconds()))
    )


def _in_flight_by_endpoint() -> Counter[Any]:
    """Attempts running now (a live lease), per endpoint, in every worker."""
    live_since = timezone.now() - timedelta(seconds=_lease_seconds())
    rows = (
        WebhookDelivery.objects.filter(status=WebhookDeliveryStatus.DELIVERING, last_attempt_at__gte=live_since)
        .values("endpoint_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return Counter({row["endpoint_id"]: row["n"] for row in rows})


#: Endpoints that have been answering first, then by age: a backlog of failing ones never
#: stands between a healthy endpoint and a free slot.
_CLAIM_ORDER = ("endpoint__consecutive_failures", "next_attempt_at", "id")


def _candidate_ids(*, limit: int, busy: Counter[Any], with_suspects: bool) -> list[Any]:
    """Due deliveries that may be attempted now: none of endpoints already at their bound, and
    at most the bound of any one endpoint's backlog. (PostgreSQL refuses FOR UPDATE beside a
    window function: the rows are locked in a second query.)"""
    per_endpoint = settings.WEBHOOK_DELIVERY_PER_ENDPOINT
    due = _due().exclude(endpoint_id__in=[endpoint for endpoint, n in busy.items() if n >= per_endpoint])
    if not with_suspects:
        due = due.filter(endpoint__consecutive_failures=0)
    rank = Window(RowNumber(), partition_by=[F("endpoint_id")], order_by=[F("next_attempt_at").asc(), F("id").asc()])
    ranked = due.annotate(rank=rank).filter(rank__lte=per_endpoint).order_by(*_CLAIM_ORDER)
    return list(ranked.values_list("pk", flat=True)[:limit])


def _claim_due(*, limit: int, suspect_limit: int | None = None) -> list[_Claim]:
    """Take up to `limit` due deliveries for this worker, with at most
    `WEBHOOK_DELIVERY_PER_ENDPOINT` attempts running at once per endpoint (counted across
    every worker) and at most `suspect_limit` to endpoints whose last attempt failed.
    Concurrent workers skip each other's rows (SKIP LOCKED where the database has it; SQLite
    serializes writers)."""
    per_endpoint = settings.WEBHOOK_DELIVERY_PER_ENDPOINT
    suspect_limit = limit if suspect_limit is None else suspect_limit
    busy = _in_flight_by_endpoint()
    candidates = _candidate_ids(limit=limit * 2, busy=busy, with_suspects=suspect_limit > 0)
    if not candidates:
        return []
    with transaction.atomic():
        due = _due().filter(pk__in=candidates).order_by(*_CLAIM_ORDER)
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, no_key=True, of=("self",))
        rows = list(due.select_related("endpoint"))
        inactive = [row.pk for row in rows if not row.endpoint.active]
        if inactive:
            WebhookDelivery.objects.filter(pk__in=inactive).update(
                status=WebhookDeliveryStatus.FAILED, next_attempt_at=None,
                last_error="Not sent: the endpoint is inactive.",
            )  # fmt: skip
        claimed: list[WebhookDelivery] = []
        for row in rows:
            suspect = row.endpoint.consecutive_failures > 0
            if not row.endpoint.active or busy[row.endpoint_id] >= per_endpoint or (suspect and suspect_limit <= 0):
                continue
            claimed.append(row)
            busy[row.endpoint_id] += 1
            suspect_limit -= suspect
            if len(claimed) == limit:
                break
        WebhookDelivery.objects.filter(pk__in=[row.pk for row in claimed]).update(
            status=WebhookDeliveryStatus.DELIVERING, attempts=F("attempts") + 1, last_attempt_at=timezone.now(),
            next_attempt_at=None,
        )  # fmt: skip
    return [
        _Claim(
            delivery_id=row.pk, endpoint_id=row.endpoint_id, attempts=row.attempts + 1,
            schedule_offset=row.schedule_offset, url=row.endpoint.url, secret=row.endpoint.secret,
            event_id=row.event_id, payload=row.payload, suspect=row.endpoint.consecutive_failures > 0,
        )
        for row in claimed
    ]  # fmt: skip


def _send(claim: _Claim) -> delivery.AttemptResult:
    try:
        return delivery.attempt(
            url=claim.url, secret=claim.secret, event_id=claim.event_id, payload=claim.payload, now=timezone.now()
        )
    except Exception:  # a bug must not strand the row in `delivering` until its lease runs out
        logger.exception("Webhook attempt %s crashed", claim.event_id)
        return delivery.AttemptResult(succeeded=False, error="Internal error while sending.")


@transaction.atomic
def _record(claim: _Claim, result: delivery.AttemptResult) -> str | None:
    """Store the outcome of the attempt this worker claimed; a row another worker reclaimed
    since (lease expired) is left alone. Returns the new status, or None if nothing changed."""
    now = timezone.now()
    mine = WebhookDelivery.objects.filter(
        pk=claim.delivery_id, status=WebhookDeliveryStatus.DELIVERING, attempts=claim.attempts
    )
    endpoint = WebhookEndpoint.objects.filter(pk=claim.endpoint_id)
    common = {"response_status": result.response_status, "last_error": result.error[:2000]}
    if result.succeeded:
        if not mine.update(status=WebhookDeliveryStatus.SUCCEEDED, next_attempt_at=None, **common):
            return None
        endpoint.filter(consecutive_failures__gt=0).update(consecutive_failures=0)
        return WebhookDeliveryStatus.SUCCEEDED
    delay = None if result.gone else next_delay(claim.attempts - claim.schedule_offset)
    status = WebhookDeliveryStatus.FAILED if delay is None else WebhookDeliveryStatus.PENDING
    if not mine.update(status=status, next_attempt_at=None if delay is None else now + delay, **common):
        return None
    endpoint.update(consecutive_failures=F("consecutive_failures") + 1)
    if result.gone:
        _disable(claim, now, "The receiver answered 410 Gone.")
    elif delay is None:
        attempts = claim.attempts - claim.schedule_offset
        _disable(claim, now, f"Event {claim.event_id} failed {attempts} times; the last attempt: {result.error}")
    return status


def _disable(claim: _Claim, now: datetime, reason: str) -> None:
    """Switch the endpoint off and tell the organization's admins and owners, once."""
    switched = WebhookEndpoint.objects.filter(pk=claim.endpoint_id, active=True).update(
        active=False, disabled_at=now, disabled_reason=reason[:500]
    )
    if not switched:
        return
    endpoint = WebhookEndpoint.objects.select_related("organization").get(pk=claim.endpoint_id)
    org = endpoint.organization
    notify(
        org=org, recipient_ids=org_admin_ids(org=org), kind="webhook.disabled",
        title=f"Webhook disabled: {endpoint.url}",
        body=f"{reason}\n\nFix the receiver, then reactivate the endpoint (PATCH active=true); failed deliveries "
        f"can be redelivered for {settings.WEBHOOK_DELIVERY_RETENTION_DAYS} days.",
        subject_type="webhook", subject_id=endpoint.pk, dedupe_key=f"webhook.disabled:{endpoint.pk}:{now.isoformat()}",
    )  # fmt: skip
    logger.warning("Webhook endpoint %s disabled: %s", endpoint.pk, reason)


def webhooks_deliver_due(*, max_seconds: float | None = None) -> int:
    """Attempt every due delivery and record each outcome as soon as it is known.

    Up to `WEBHOOK_DELIVERY_CONCURRENCY` attempts run at once, each in its own thread and none
    inside a transaction; a free slot is filled at once, so a delivery never waits for another
    to finish (there are no batches). Per endpoint at most `WEBHOOK_DELIVERY_PER_ENDPOINT` run
    at once, and endpoints whose last attempt failed share at most half of the slots, so slow
    or dead receivers cannot take the slots of healthy ones. The run ends when nothing is left
    in flight or due. After `max_seconds` (`WEBHOOK_DISPATCH_MAX_SECONDS`) it stops claiming,
    hands new work to a fresh run (`webhooks.deliver_due` is published again, for another
    worker process) and finishes the attempts it started, each bounded by
    `WEBHOOK_TIMEOUT_SECONDS`. Safe to run concurrently and repeatedly: a delivery that
    succeeded is never claimed again. Returns the attempts made."""
    slots = settings.WEBHOOK_DELIVERY_CONCURRENCY
    claim_until = time.monotonic() + (settings.WEBHOOK_DISPATCH_MAX_SECONDS if max_seconds is None else max_seconds)
    in_flight: dict[Future[delivery.AttemptResult], _Claim] = {}
    made, first_round, handed_off = 0, True, False
    with ThreadPoolExecutor(max_workers=slots, thread_name_prefix="webhook") as pool:
        while True:
            claiming = first_round or time.monotonic() < claim_until
            if claiming and len(in_flight) < slots:
                for claim in _claim_more(in_flight, slots):
                    in_flight[pool.submit(_send, claim)] = claim
            first_round = False
            if not in_flight:
                return made
            if not claiming and not handed_off:
                handed_off = _hand_off()
            done, _ = wait(in_flight, timeout=CLAIM_POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                _record(in_flight.pop(future), future.result())
                made += 1


def _claim_more(in_flight: dict[Any, _Claim], slots: int) -> list[_Claim]:
    suspects = sum(claim.suspect for claim in in_flight.values())
    batch = min(slots - len(in_flight), settings.WEBHOOK_DELIVERY_BATCH_SIZE)
    return _claim_due(limit=batch, suspect_limit=slots // 2 - suspects)


def _hand_off() -> bool:
    """Ask for a fresh run while this one finishes its last attempts, so that work becoming due
    meanwhile is not left waiting for them (beat's next run covers a broker error)."""
    try:
        current_app.send_task(DELIVER_TASK, retry=False)
    except Exception:
        logger.warning("Could not hand webhook delivery on to a fresh run", exc_info=True)
    return True


def webhook_deliveries_purge(*, now: datetime | None = None) -> int:
    """Delete deliveries older than the retention period (they can no longer be redelivered)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS)
    deleted, _ = WebhookDelivery.objects.filter(created_at__lt=cutoff).delete()
    return deleted
