"""Recording the activity feed: every write in every app calls `activity_record` in its own
transaction, so the feed never tells of a change that did not happen."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from alignment_service.access import Access
from alignment_service.activity.models import Activity
from alignment_service.types import JSONObject, SubjectId


def activity_record(
    *,
    access: Access,
    verb: str,
    subject_type: str,
    subject_id: SubjectId,
    summary: str,
    data: JSONObject | None = None,
    anonymous: bool = False,
) -> Activity:
    return Activity.objects.create(
        organization=access.org,
        actor_user=access.user,
        actor_api_key=access.api_key,
        anonymous=anonymous,
        verb=verb,
        subject_type=subject_type,
        subject_id=str(subject_id),
        summary=summary[:500],
        data=data or {},
    )


def activity_purge(*, now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=settings.ACTIVITY_RETENTION_DAYS)
    deleted, _ = Activity.objects.filter(created_at__lt=cutoff).delete()
    return deleted
