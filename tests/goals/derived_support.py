"""Shared by the derived-values tests: readings written straight to the table, a metric
refreshed, and a metric rising one a day."""

from datetime import UTC, datetime, timedelta

from goals.models import Goal, Metric, Reading
from goals.services import metrics_refresh
from tests.factories import MetricFactory

DAY = 86400


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def read(metric: Metric, observed_at: datetime, value: float) -> Reading:
    return Reading.objects.create(organization=metric.organization, metric=metric, observed_at=observed_at, value=value)


def refreshed(metric: Metric) -> Metric:
    metrics_refresh(org=metric.organization, metric_ids=[metric.id])
    metric.refresh_from_db()
    return metric


def linear_metric(org, goal: Goal) -> Metric:
    """A metric rising 1 a day from 0 on 2026-06-01 (UTC), refreshed."""
    metric = MetricFactory(goal=goal)
    for day in (0, 7, 14):
        read(metric, utc(2026, 6, 1) + timedelta(days=day), float(day))
    return refreshed(metric)
