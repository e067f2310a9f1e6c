"""Shared by the score tests: URLs, the error body, a snapshot's fields and components, and
small organizations built and scored as of a fixed instant."""

import datetime

from feedback.models import ScoreSnapshot
from goals.models import Reading
from goals.services import goals_refresh_progress, metrics_refresh
from tests.api_helpers import api as api
from tests.api_helpers import assert_invalid as assert_invalid
from tests.api_helpers import assert_status as assert_status
from tests.factories import GoalFactory, MetricFactory, TeamFactory

UTC = datetime.UTC
DAY = datetime.timedelta(days=1)
#: About 75 % into the factories' 2026 window.
T = datetime.datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
SNAPSHOT_FIELDS = {"id", "subject_type", "subject_id", "score", "components", "computed_at"}
COMPONENTS = {"linkage", "pace", "forecast", "confidence", "assessment", "feedback", "freshness"}
DEFAULT_WEIGHTS = {
    "linkage": 10, "pace": 25, "forecast": 20, "confidence": 15, "assessment": 10, "feedback": 10, "freshness": 10,
}  # fmt: skip


def record(org, metric, *points):
    """Readings `(days before T, value)` for `metric`, then the derived values refreshed."""
    for days_before, value in points:
        Reading.objects.create(organization=org, metric=metric, observed_at=T - days_before * DAY, value=value)
    metrics_refresh(org=org, metric_ids=[metric.pk])
    goals_refresh_progress(org=org)


def goal_with(org, *points, title=None, **fields):
    """An active goal with one metric (0 → 100) and the given readings."""
    extra = {"title": title} if title else {}
    goal = GoalFactory(organization=org, status="active", **extra, **fields)
    metric = MetricFactory(goal=goal, organization=org)
    if points:
        record(org, metric, *points)
    return goal, metric


def build(org):
    """A small organization: an off-track team goal, an on-track one, one without data, and a
    company goal (deterministic titles, so two organizations can be built alike)."""
    lead_team = TeamFactory(organization=org, name="Players")
    goal_with(org, (1, 10.0), (40, 5.0), title="Behind", team=lead_team)
    goal_with(org, (1, 80.0), (40, 70.0), title="Ahead", team=lead_team)
    goal_with(org, title="Silent", team=lead_team)
    goal_with(org, (2, 60.0), title="Company")
    return lead_team


def snapshot(org, subject_type, subject_id, score, when, components=None):
    return ScoreSnapshot.objects.create(
        organization=org, subject_type=subject_type, subject_id=str(subject_id), score=score,
        components=components or {"pace": score}, computed_at=when,
    )  # fmt: skip


def walk(client, url):
    """Every item of a cursor-paginated list, following `next`; also the pages seen."""
    items, pages = [], []
    while url:
        response = client.get(url)
        assert_status(response, 200)
        body = response.json()
        pages.append(body)
        items.extend(body["results"])
        url = body["next"]
    return items, pages


def latest(org, subject_type, subject_id):
    return (
        ScoreSnapshot.objects.filter(organization=org, subject_type=subject_type, subject_id=str(subject_id))
        .order_by("-computed_at", "-id")
        .first()
    )
