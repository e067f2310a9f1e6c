"""The migration that added each metric's reading count and recent line fills them from the
readings already stored, as a refresh would."""

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from goals.derived import metrics_refresh
from goals.models import RECENT_LINE_FIELDS, Metric, Reading
from tests.factories import GoalFactory, MetricFactory, OrganizationFactory

BEFORE = [("goals", "0006_merge_steering_records")]
AFTER = [("goals", "0007_metric_reading_count_and_recent_line")]
T = datetime.datetime(2026, 10, 1, 12, 0, tzinfo=datetime.UTC)


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_counts_and_lines_as_a_refresh_would():
    org = OrganizationFactory()
    climbing, sparse, unread = (MetricFactory(goal=GoalFactory(organization=org)) for _ in range(3))
    for day in range(20):
        Reading.objects.create(
            organization=org, metric=climbing, observed_at=T - datetime.timedelta(days=day), value=50 - day + day % 2
        )
    for day in (30, 3):
        Reading.objects.create(organization=org, metric=sparse, observed_at=T - datetime.timedelta(days=day), value=1)
    metrics_refresh(org=org, metric_ids=[climbing.pk, sparse.pk, unread.pk])
    fields = ("reading_count", *RECENT_LINE_FIELDS)
    refreshed = {m["id"]: m for m in Metric.objects.values("id", *fields)}
    assert refreshed[climbing.pk]["reading_count"] == 20
    assert refreshed[climbing.pk]["recent_n"] == 8

    try:
        _migrate(BEFORE)
        _migrate(AFTER)
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    migrated = {m["id"]: m for m in Metric.objects.values("id", *fields)}
    assert (
        migrated[sparse.pk]
        == refreshed[sparse.pk]
        == {"id": sparse.pk, "reading_count": 2, **dict.fromkeys(RECENT_LINE_FIELDS)}
    )
    assert migrated[unread.pk]["reading_count"] == 0
    for name in fields:
        assert migrated[climbing.pk][name] == pytest.approx(refreshed[climbing.pk][name], rel=1e-9), name
