"""Shared by the course-correction tests: URLs, the error body, corrections made directly or
opened over HTTP, readings that move a goal, who was told, who may steer and the list's
query count."""

import datetime

from django.utils import timezone

from alignment_service.notifications.models import Notification
from feedback.models import CourseCorrection
from goals.models import Reading
from goals.services import goals_refresh_progress, metrics_refresh
from tests.api_helpers import api as api
from tests.api_helpers import assert_invalid as assert_invalid
from tests.api_helpers import assert_status as assert_status

UTC = datetime.UTC
DAY = datetime.timedelta(days=1)
#: About 75 % into the factories' 2026 window.
T = datetime.datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
FIELDS = {
    "id", "subject_type", "subject_id", "trigger", "severity", "detail", "recommended_mode", "status", "assignee",
    "review_by", "extension_reason", "created_at", "resolved_at", "resolution",
}  # fmt: skip


def ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def today():
    return timezone.now().date()


def correction(org, subject_type, subject, *, team=None, trigger="manual", severity="warning", status="open", **extra):
    team = team if team is not None else (subject.team if subject_type == "goal" else subject)
    return CourseCorrection.objects.create(
        organization=org, subject_type=subject_type, subject_id=str(subject.pk), team=team, trigger=trigger,
        severity=severity, status=status, detail=f"{trigger} on {subject_type}", **extra,
    )  # fmt: skip


def open_manual(client, org, subject_type, subject, **extra):
    body = {"subject_type": subject_type, "subject_id": str(subject.pk), "detail": "Refocus on activation", **extra}
    return client.post(api(org, "course-corrections/"), body, format="json")


def record(org, metric, *points):
    """Readings `(days before T, value)`, then the metric's and goals' derived values refreshed."""
    for days_before, value in points:
        Reading.objects.create(organization=org, metric=metric, observed_at=T - days_before * DAY, value=value)
    metrics_refresh(org=org, metric_ids=[metric.pk])
    goals_refresh_progress(org=org)


def inbox(kind, correction_id):
    return set(
        Notification.objects.filter(
            kind=kind, subject_type="course_correction", subject_id=str(correction_id)
        ).values_list("recipient_id", flat=True)
    )


def told(kind, correction):
    """Who heard of the correction: on its own, or in a digest of one rescore."""
    verb = kind.rsplit(".", 1)[1].capitalize()
    digests = Notification.objects.filter(kind="course_correction.digest", body__contains=correction.detail)
    in_digest = {n.recipient_id for n in digests if f"- {verb}: " in n.body}
    return inbox(kind, correction.pk) | in_digest


STEERERS = ["lead", "steerer", "admin", "owner"]
NOT_STEERERS = ["goal_owner", "other_lead", "elsewhere_steerer", "child_lead", "member"]


CORRECTIONS_QUERIES = 3
