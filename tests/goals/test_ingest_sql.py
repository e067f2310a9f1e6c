"""The PostgreSQL fast path of a batch: readings upserted in one statement, the touched metrics'
trends summed by the database. It stores what the Python path (SQLite's, and the formulas of
`goals.formulas`) stores, and a batch costs the same number of queries whatever its size."""

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from alignment_service.access import Access, Role
from goals import derived
from goals.models import Metric, Reading
from goals.services import ReadingInput, readings_ingest
from goals.services import readings as reading_services
from tests.factories import GoalFactory, MetricFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = 86400
FIELDS = ("current", "last_reading_at", "last_reading_ts", "progress", "reading_count", "recent_n")
APPROXIMATE = ("forecast", "forecast_low", "forecast_high", "p_hit")
LINE = ("recent_mean_ts", "recent_mean_value", "recent_slope", "recent_sxx", "recent_residual_sd")

series = st.lists(
    st.tuples(
        # Seconds before T0, microseconds included, over up to 200 days: windows of 7 and 30
        # days hold all, some or none but the latest of them.
        st.integers(min_value=0, max_value=200 * DAY * 10**6),
        st.one_of(st.floats(min_value=-1e15, max_value=1e15), st.sampled_from([0.0, 1.0, 1e15, -1e15])),
    ),
    max_size=40,
    unique_by=lambda point: point[0],
)


def _stored(metric_id):
    return Metric.objects.filter(pk=metric_id).values(*FIELDS, *APPROXIMATE, *LINE).get()


def _assert_same(python, sql):
    for field in FIELDS:
        assert sql[field] == python[field], field
    for field in APPROXIMATE:
        if python[field] is None or sql[field] is None:
            assert sql[field] is python[field], field
            continue
        scale = max(abs(python["forecast"] or 0), abs(python["current"] or 0), 1.0)
        tolerance = 1e-6 if field == "p_hit" else 1e-7 * scale
        assert sql[field] == pytest.approx(python[field], rel=1e-7, abs=tolerance), field
    if python["recent_n"] is None:
        assert all(sql[field] is None for field in LINE)
        return
    scale = max(abs(python["recent_mean_value"]), python["recent_residual_sd"], 1.0)
    spread = math.sqrt(python["recent_sxx"])
    tolerances = {
        "recent_mean_ts": 1e-3, "recent_mean_value": 1e-7 * scale, "recent_slope": 1e-7 * scale / spread,
        "recent_sxx": 0.0, "recent_residual_sd": 1e-7 * scale,
    }  # fmt: skip
    for field, tolerance in tolerances.items():
        assert sql[field] == pytest.approx(python[field], rel=1e-7, abs=tolerance), field


def _both_paths(org, metric, readings, window_days):
    """The values the Python path stores, then those the SQL path stores, for `readings`."""
    Reading.objects.bulk_create(
        Reading(organization=org, metric=metric, observed_at=T0 - timedelta(microseconds=offset), value=value)
        for offset, value in readings
    )
    derived._metrics_refresh_python(org, {metric.pk}, window_days)
    python = _stored(metric.pk)
    Metric.objects.filter(pk=metric.pk).update(**dict.fromkeys((*FIELDS, *APPROXIMATE, *LINE)) | {"reading_count": 0})
    assert derived._metrics_refresh_sql(org, {metric.pk}, window_days, {}) == set()
    return python, _stored(metric.pk)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    readings=series,
    window_days=st.sampled_from([1, 7, 30]),
    bounds=st.sampled_from([(0.0, 100.0), (100.0, 0.0), (-1e15, 1e15), (1e15, -1e15), (0.5, 0.6)]),
    guardrail=st.booleans(),
)
@example(readings=[], window_days=7, bounds=(0.0, 100.0), guardrail=False)
@example(readings=[(0, 42.0)], window_days=7, bounds=(0.0, 100.0), guardrail=False)
@example(readings=[(0, 1.0), (DAY * 10**6, 2.0)], window_days=7, bounds=(0.0, 100.0), guardrail=False)
@example(readings=[(i * DAY * 10**6, 5.0) for i in range(5)], window_days=7, bounds=(0.0, 5.0), guardrail=True)
@example(  # sparse: one reading in the window, many before it
    readings=[(0, 10.0)] + [((40 + i) * DAY * 10**6, float(i)) for i in range(6)],
    window_days=7,
    bounds=(0.0, 100.0),
    guardrail=False,
)
@example(readings=[(i, 1e15 * (-1) ** i) for i in range(6)], window_days=1, bounds=(-1e15, 1e15), guardrail=False)
def test_the_sql_refresh_stores_what_the_python_refresh_stores(org, readings, window_days, bounds, guardrail):
    with transaction.atomic():
        role = "guardrail" if guardrail else "key_result"
        threshold = min(bounds) if guardrail else None
        direction = "increase" if bounds[1] > bounds[0] else "decrease"
        metric = MetricFactory(
            goal=GoalFactory(organization=org), baseline=bounds[0], target=bounds[1], direction=direction, role=role,
            threshold=threshold,
        )  # fmt: skip
        python, sql = _both_paths(org, metric, readings, window_days)
        _assert_same(python, sql)
        transaction.set_rollback(True)


def test_readings_out_of_floating_point_range_are_left_to_the_python_path(org):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    Reading.objects.bulk_create(
        Reading(organization=org, metric=metric, observed_at=T0 - timedelta(days=i), value=value)
        for i, value in enumerate([1.7e308, -1.7e308, 1.0, 2.0])
    )
    assert derived._metrics_refresh_sql(org, {metric.pk}, 7, {}) == {metric.pk}
    derived.metrics_refresh(org=org, metric_ids=[metric.pk])
    stored = _stored(metric.pk)
    assert stored["current"] == 1.7e308
    assert stored["forecast"] is None or math.isfinite(stored["forecast"])


def test_metrics_read_at_one_instant_each_get_their_own_trend(org):
    """A daily push: every metric read at the same instant, each with its own history."""
    goal = GoalFactory(organization=org)
    metrics = [MetricFactory(goal=goal) for _ in range(5)]
    for index, metric in enumerate(metrics):
        Reading.objects.bulk_create(
            Reading(organization=org, metric=metric, observed_at=T0 - timedelta(days=day), value=index * day + 1.0)
            for day in range(index + 1)
        )
    ids = {m.pk for m in metrics}
    derived._metrics_refresh_python(org, ids, 7)
    python = {pk: _stored(pk) for pk in ids}
    derived._metrics_refresh_sql(org, ids, 7, {})
    for pk in ids:
        _assert_same(python[pk], _stored(pk))


def test_the_one_statement_upsert_counts_and_stores_as_the_orm_upsert(org):
    metrics = [MetricFactory(goal=GoalFactory(organization=org)) for _ in range(3)]
    first = [ReadingInput(metric=m, value=float(i), observed_at=T0 - timedelta(hours=i)) for i, m in enumerate(metrics)]
    again = [ReadingInput(metric=m, value=9.0, observed_at=T0, source="sensor", note="n") for m in metrics]
    stored = {}
    for upsert in (reading_services._upsert, reading_services._upsert_postgres):
        with transaction.atomic():
            assert upsert(org, first) == {m.pk: 1 for m in metrics}
            assert upsert(org, again) == {metrics[0].pk: 0, metrics[1].pk: 1, metrics[2].pk: 1}
            stored[upsert] = sorted(Reading.objects.values_list("metric_id", "observed_at", "value", "source", "note"))
            transaction.set_rollback(True)
    assert stored[reading_services._upsert] == stored[reading_services._upsert_postgres]


def _queries_of_a_batch(org, owner, metrics, per_metric):
    access = Access(org=org, user=owner, role=Role.OWNER)
    readings = [
        ReadingInput(metric=metric, value=float(i), observed_at=T0 - timedelta(minutes=i))
        for metric in metrics
        for i in range(per_metric)
    ]
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        readings_ingest(access=access, readings=readings)
        transaction.set_rollback(True)
    return len(captured)


def test_a_batch_costs_the_same_queries_whatever_its_size(org, owner):
    goals = [GoalFactory(organization=org) for _ in range(3)]
    metrics = [MetricFactory(goal=goals[i % 3]) for i in range(100)]
    ten = _queries_of_a_batch(org, owner, metrics[:1], 10)
    thousand = _queries_of_a_batch(org, owner, metrics[:1], 1000)
    one_metric = _queries_of_a_batch(org, owner, metrics[1:2], 5)
    hundred_metrics = _queries_of_a_batch(org, owner, metrics, 5)
    assert ten == thousand == one_metric == hundred_metrics
    assert ten <= 12


AWKWARD_TEXT = ['say "hi"', "back\\slash", "{braces}, commas", "NULL", " padded ", "tab\tand\nnewline", "ünï©ødé", ""]


def test_the_one_statement_upsert_stores_any_text_and_offset_exactly(org):
    """Each column goes as one array literal: quotes, backslashes, braces, the word NULL and
    whitespace in sources and notes, microseconds and offsets PostgreSQL refuses as such
    (beyond ±15:59) must arrive as sent."""
    metric = MetricFactory(goal=GoalFactory(organization=org))
    far_offset = timezone(timedelta(hours=-18, minutes=-35))
    values = [0.1, -0.0, 1e15, -1e-300, 5e-324, 1 / 3, 123456789.125, 2.0]
    zones = [UTC, far_offset] * 4
    readings = [
        ReadingInput(
            metric=metric, value=value, observed_at=(T0 - timedelta(hours=i, microseconds=i)).astimezone(zone),
            source=text, note=text[::-1],
        )
        for i, (text, value, zone) in enumerate(zip(AWKWARD_TEXT, values, zones, strict=True))
    ]  # fmt: skip
    with transaction.atomic():
        assert reading_services._upsert_postgres(org, readings) == {metric.pk: len(readings)}
        stored = sorted(Reading.objects.values_list("observed_at", "value", "source", "note"))
        transaction.set_rollback(True)
    assert stored == sorted((r.observed_at, r.value, r.source, r.note) for r in readings)
