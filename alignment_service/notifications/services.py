"""The in-app inbox: recording notifications (idempotently) and marking them read."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

from alignment_service.notifications.email import EMAIL_KINDS
from alignment_service.notifications.models import Notification
from alignment_service.outbox.services import outbox_enqueue
from alignment_service.types import SubjectId

if TYPE_CHECKING:
    from teams.models import Organization


@dataclass(frozen=True)
class Notice:
    """One notification, for several recipients."""

    recipient_ids: frozenset[Any]
    kind: str
    title: str
    body: str
    subject_type: str
    subject_id: Any
    dedupe_key: str


def notify(
    *,
    org: "Organization",
    recipient_ids: Iterable[int],
    kind: str,
    title: str,
    body: str,
    subject_type: str,
    subject_id: SubjectId,
    dedupe_key: str,
) -> int:
    """Put one notification in each recipient's inbox; repeating the same `dedupe_key` adds none."""
    notice = Notice(frozenset(recipient_ids), kind, title, body, subject_type, subject_id, dedupe_key)
    return notify_all(org=org, notices=[notice])


def notify_all(*, org: "Organization", notices: Iterable[Notice]) -> int:
    """`notify` for many notices at once: one insert, and email owed once if any needs it."""
    notices = list(notices)
    rows = [
        Notification(
            organization=org, recipient_id=recipient_id, kind=notice.kind, title=notice.title[:200],
            body=notice.body, subject_type=notice.subject_type, subject_id=str(notice.subject_id),
            dedupe_key=notice.dedupe_key[:200],
        )
        for notice in notices
        for recipient_id in sorted(notice.recipient_ids - {None})
    ]  # fmt: skip
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if any(row.kind in EMAIL_KINDS for row in rows):
        outbox_enqueue(
            org=org,
            task_name="notifications.email_pending",
            kwargs={"org_id": str(org.pk)},
            dedupe_key=f"email:{org.pk}",
        )
    return len(rows)


def notification_mark_read(*, notification: Notification) -> Notification:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notifications_purge(*, now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=settings.NOTIFICATION_RETENTION_DAYS)
    deleted, _ = Notification.objects.filter(created_at__lt=cutoff, read_at__isnull=False).delete()
    return deleted
