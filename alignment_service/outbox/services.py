"""The durable queue for worker jobs.

`outbox_enqueue` records owed work inside the caller's transaction and asks for a kick after
commit; the kick and the periodic `outbox.drain` job publish owed rows to Celery. A row is
done when its task says so (`outbox_complete`, called by `owed_task`), not when it is
published: a broker that loses its messages, or a worker that dies mid-task, leaves the row
owed and it goes out again once its lease (`OUTBOX_LEASE_SECONDS`, doubling per attempt)
runs out. Rows that share a dedupe key coalesce: while one message of the group is in
flight, newer rows wait for it to finish, then go out together as one message, whose
list-valued arguments are the union of theirs (`merged_kwargs`).
Delivery is at least once: tasks must be idempotent.
"""

import functools
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from celery import current_app, shared_task
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from alignment_service.db import is_transient_db_error
from alignment_service.outbox.models import OutboxMessage
from alignment_service.types import JSONObject

if TYPE_CHECKING:
    from teams.models import Organization

logger = logging.getLogger(__name__)

#: The keyword the outbox adds to a task's arguments to name the rows it completes.
DISPATCH_KWARG = "outbox_dispatch"
_MAX_LEASE_DOUBLINGS = 6

_broker_down_until = 0.0


def outbox_enqueue(*, org: "Organization", task_name: str, kwargs: JSONObject, dedupe_key: str = "") -> None:
    """Owe `task_name(**kwargs)` to the workers once the current transaction commits."""
    OutboxMessage.objects.create(organization=org, task_name=task_name, kwargs=kwargs, dedupe_key=dedupe_key)
    transaction.on_commit(outbox_kick, robust=True)


def outbox_kick() -> None:
    """Publish what is owed now; never raise (the periodic drain retries).

    With `OUTBOX_KICK_IN_BACKGROUND` (the default) this only wakes the process's kicker
    thread: the request or task that owed the work never waits for the broker, which may be
    down or hung (a publish to a dead broker costs seconds of connection attempts)."""
    if settings.OUTBOX_KICK_IN_BACKGROUND:
        _kicker.wake()
    else:
        _kick_now()


def _kick_now() -> None:
    if time.monotonic() < _broker_down_until:
        return
    try:
        outbox_dispatch_pending()
    except Exception:
        logger.warning("Outbox kick failed; the periodic drain will retry", exc_info=True)


class _Kicker:
    """One daemon thread per process that publishes owed rows when woken. Wakes that arrive
    while it publishes coalesce into one more pass."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._woken = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._woken.set()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="outbox-kick", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._woken.wait()
            self._woken.clear()
            close_old_connections()  # as at the start of a request: drop a connection that broke
            _kick_now()


_kicker = _Kicker()
os.register_at_fork(after_in_child=_kicker.reset)  # a forked child (a pool process) starts its own


def _owed() -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.filter(completed_at__isnull=True)


def outbox_dispatch_pending(*, batch_size: int = 500, now: datetime | None = None) -> int:
    """Publish owed rows that are due, one message per group; stop at the first broker error.

    Returns the number of messages published.
    """
    now = now or timezone.now()
    published = 0
    with transaction.atomic():
        in_flight = _groups_in_flight(now)
        due = _owed().filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        for task_name, dedupe_key in in_flight:
            due = due.exclude(task_name=task_name, dedupe_key=dedupe_key)
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, no_key=True)
        groups: dict[tuple[str, str], OutboxMessage] = {}
        for message in due.order_by("id")[:batch_size]:
            groups[(message.task_name, message.dedupe_key or f"#{message.pk}")] = message
        for message in groups.values():
            if not _publish(message, now):
                break
            published += 1
    return published


def _groups_in_flight(now: datetime) -> set[tuple[str, str]]:
    return set(
        _owed()
        .exclude(dedupe_key="")
        .filter(dispatch_id__isnull=False, next_attempt_at__gt=now)
        .values_list("task_name", "dedupe_key")
        .distinct()
    )


def _publish(newest: OutboxMessage, now: datetime) -> bool:
    """Send one message for `newest` and every due row of its group that no other dispatcher
    holds; False if the broker is down."""
    global _broker_down_until
    group = _owed().filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now), task_name=newest.task_name)
    group = group.filter(dedupe_key=newest.dedupe_key) if newest.dedupe_key else group.filter(pk=newest.pk)
    if connection.features.has_select_for_update_skip_locked:
        group = group.select_for_update(skip_locked=True, no_key=True)
    rows = list(group.values_list("pk", "kwargs"))
    group = OutboxMessage.objects.filter(pk__in=[pk for pk, _ in rows])
    kwargs = merged_kwargs([row_kwargs for _, row_kwargs in rows] or [newest.kwargs])
    dispatch_id = uuid.uuid4()
    try:
        current_app.send_task(newest.task_name, kwargs={**kwargs, DISPATCH_KWARG: str(dispatch_id)}, retry=False)
    except Exception as exc:
        _broker_down_until = time.monotonic() + settings.OUTBOX_BROKER_BACKOFF_SECONDS
        group.update(attempts=F("attempts") + 1, last_error=repr(exc)[:2000])
        logger.warning("Broker unavailable; %s stays owed", newest)
        return False
    lease = settings.OUTBOX_LEASE_SECONDS * 2 ** min(newest.attempts, _MAX_LEASE_DOUBLINGS)
    group.update(
        dispatched_at=now, dispatch_id=dispatch_id, next_attempt_at=now + timedelta(seconds=lease),
        attempts=F("attempts") + 1, last_error="",
    )  # fmt: skip
    return True


def merged_kwargs(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The arguments of one message for coalesced rows: list-valued arguments are unioned
    (the subjects an owed rescore touches); a row without such an argument asks for everything,
    so the argument is dropped."""
    merged = dict(rows[-1])
    for key in {key for row in rows for key, value in row.items() if isinstance(value, list)}:
        if all(isinstance(row.get(key), list) for row in rows):
            merged[key] = sorted({item for row in rows for item in row[key]})
        else:
            merged.pop(key, None)
    return merged


def outbox_complete(*, dispatch_id: str) -> int:
    """The task published as `dispatch_id` did its work: its rows are done. Kicks the rest of
    their group, which waited for it."""
    done = _owed().filter(dispatch_id=dispatch_id).update(completed_at=timezone.now())
    transaction.on_commit(outbox_kick, robust=True)
    return done


def owed_task(*, name: str, retry_on: tuple[type[BaseException], ...] = (), **options: Any) -> Callable[..., Any]:
    """A Celery task run through the outbox: completes its rows when it returns, and runs
    again with backoff when it loses a race (a deadlock, a lock timeout, or `retry_on`)."""

    def decorate(work: Callable[..., Any]) -> Any:
        @shared_task(name=name, bind=True, ignore_result=True, max_retries=settings.TASK_MAX_RETRIES, **options)
        @functools.wraps(work)
        def run(self: Any, **kwargs: Any) -> Any:
            dispatch_id = kwargs.pop(DISPATCH_KWARG, None)
            try:
                result = work(**kwargs)
            except Exception as exc:
                if isinstance(exc, retry_on) or is_transient_db_error(exc):
                    raise self.retry(exc=exc, countdown=retry_delay(self.request.retries)) from exc
                raise
            if dispatch_id:
                outbox_complete(dispatch_id=dispatch_id)
            return result

        return run

    return decorate


def retry_delay(retries: int) -> float:
    """Exponential backoff with full jitter: up to 0.5 s, 1 s, 2 s, … capped at 60 s."""
    return random.uniform(0, min(60.0, 0.5 * 2**retries))  # noqa: S311 - jitter, not secrecy


def outbox_purge(*, now: datetime | None = None) -> int:
    """Delete rows done more than `OUTBOX_RETENTION_DAYS` ago."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    deleted, _ = OutboxMessage.objects.filter(completed_at__lt=cutoff).delete()
    return deleted


def outbox_lag_seconds(*, now: datetime | None = None) -> float:
    oldest = _owed().order_by("id").first()
    if oldest is None:
        return 0.0
    return max(0.0, ((now or timezone.now()) - oldest.created_at).total_seconds())
