"""The in-app inbox: recording notifications (idempotently) and marking them read."""

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from alignment_service.notifications.email import EMAIL_KINDS
from alignment_service.notifications.models import Notification
from alignment_service.outbox.services import outbox_enqueue


def notify(
    *,
    org: Any,
    recipient_ids: Iterable[int],
    kind: str,
    title: str,
    body: str,
    subject_type: str,
    subject_id: Any,
    dedupe_key: str,
) -> int:
    """Put one notification in each recipient's inbox; repeating the same `dedupe_key` adds none."""
    rows = [
        Notification(
            organization=org, recipient_id=recipient_id, kind=kind, title=title[:200], body=body,
            subject_type=subject_type, subject_id=str(subject_id), dedupe_key=dedupe_key[:200],
        )
        for recipient_id in sorted(set(recipient_ids))
    ]  # fmt: skip
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if rows and kind in EMAIL_KINDS:
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


def notifications_purge(*, now: Any = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=settings.NOTIFICATION_RETENTION_DAYS)
    deleted, _ = Notification.objects.filter(created_at__lt=cutoff, read_at__isnull=False).delete()
    return deleted
