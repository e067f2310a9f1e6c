"""The durable queue for worker jobs.

`outbox_enqueue` records owed work inside the caller's transaction and asks for a kick after
commit; the kick and the periodic `outbox.drain` job publish pending rows to Celery. A broker
outage leaves rows pending (never fails the request); they go out once the broker is back.
Delivery is at least once: tasks must be idempotent.
"""

import logging
import time
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from alignment_service.outbox.models import OutboxMessage

logger = logging.getLogger(__name__)

_broker_down_until = 0.0


def outbox_enqueue(*, org: Any, task_name: str, kwargs: dict[str, Any], dedupe_key: str = "") -> None:
    """Owe `task_name(**kwargs)` to the workers once the current transaction commits."""
    message = OutboxMessage(organization=org, task_name=task_name, kwargs=kwargs, dedupe_key=dedupe_key)
    if dedupe_key:
        OutboxMessage.objects.bulk_create([message], ignore_conflicts=True)
    else:
        message.save()
    transaction.on_commit(outbox_kick, robust=True)


def outbox_kick() -> None:
    """Publish what is pending now; never raise (the periodic drain retries)."""
    if time.monotonic() < _broker_down_until:
        return
    try:
        outbox_dispatch_pending()
    except Exception:
        logger.warning("Outbox kick failed; the periodic drain will retry", exc_info=True)


def outbox_dispatch_pending(*, batch_size: int = 500) -> int:
    """Publish pending rows in order; stop at the first broker error. Returns rows published."""
    global _broker_down_until
    published = 0
    with transaction.atomic():
        pending = OutboxMessage.objects.filter(dispatched_at__isnull=True).order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            pending = pending.select_for_update(skip_locked=True)
        for message in pending[:batch_size]:
            try:
                current_app.send_task(message.task_name, kwargs=message.kwargs, retry=False)
            except Exception as exc:
                _broker_down_until = time.monotonic() + settings.OUTBOX_BROKER_BACKOFF_SECONDS
                OutboxMessage.objects.filter(pk=message.pk).update(
                    attempts=message.attempts + 1, last_error=repr(exc)[:2000]
                )
                logger.warning("Broker unavailable; %s stays pending", message)
                break
            OutboxMessage.objects.filter(pk=message.pk).update(
                dispatched_at=timezone.now(), attempts=message.attempts + 1, last_error=""
            )
            published += 1
    return published


def outbox_purge(*, now: Any = None) -> int:
    """Delete rows dispatched more than `OUTBOX_RETENTION_DAYS` ago."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    deleted, _ = OutboxMessage.objects.filter(dispatched_at__lt=cutoff).delete()
    return deleted


def outbox_lag_seconds(*, now: Any = None) -> float:
    oldest = OutboxMessage.objects.filter(dispatched_at__isnull=True).order_by("id").first()
    if oldest is None:
        return 0.0
    return max(0.0, ((now or timezone.now()) - oldest.created_at).total_seconds())
