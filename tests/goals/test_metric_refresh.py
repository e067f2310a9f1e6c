"""The metric refresh against the database: current and last reading, progress, and the
forecast over its window (in the org's time zone, following the org's setting); and the writes
that move a window or the trend keep the stored values current."""

import io
import statistics
from datetime import date, datetime, timedelta

import pytest
from django.core.management import call_command

from goals import formulas
from goals.models import Goal, Metric, MetricDirection
from goals.services import goal_update, goals_refresh_progress, metric_update, metrics_refresh
from teams.services import org_update
from tests.factories import GoalFactory, MetricFactory, OrganizationFactory
from tests.goals.derived_support import DAY, linear_metric, read, refreshed, utc

pytestmark = pytest.mark.django_db


# --- metrics_refresh ---------------------------------------------------------------------------


def test_current_is_the_latest_reading_by_observed_at_not_by_insertion(org):
    metric = MetricFactory(goal=GoalFactory(organization=org), baseline=0.0, target=100.0)
    read(metric, utc(2026, 1, 10), 5.0)
    read(metric, utc(2026, 1, 20, 8, 30, 0, 250000), 7.0)
    read(metric, utc(2026, 1, 15), 99.0)  # inserted last, observed earlier
    metric = refreshed(metric)
    assert metric.current == 7.0
    assert metric.last_reading_at == utc(2026, 1, 20, 8, 30, 0, 250000)
    assert metric.last_reading_ts == utc(2026, 1, 20, 8, 30, 0, 250000).timestamp()
    assert metric.progress == pytest.approx(0.07)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.4, 0.4), (2.0, 0.0), (0.5, 1.0), (2.6, 0.0), (0.2, 1.0), (1.25, 0.5)],
)
def test_progress_of_a_decreasing_metric(org, value, expected):
    metric = MetricFactory(
        goal=GoalFactory(organization=org), direction=MetricDirection.DECREASE, baseline=2.0, target=0.5
    )
    read(metric, utc(2026, 3, 1), 1.9)
    read(metric, utc(2026, 3, 2), value)
    metric = refreshed(metric)
    assert metric.current == value
    assert metric.progress == pytest.approx(expected)


def test_a_metric_without_readings_has_no_derived_values(org):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    reading = read(metric, utc(2026, 2, 1), 40.0)
    metric = refreshed(metric)
    assert (metric.current, metric.progress, metric.forecast) == (40.0, 0.4, 40.0)  # one point forecasts itself
    reading.delete()
    metric = refreshed(metric)
    assert (metric.current, metric.last_reading_at, metric.last_reading_ts) == (None, None, None)
    assert (metric.progress, metric.forecast) == (None, None)


def test_forecast_is_exact_on_linear_readings(org):
    metric = MetricFactory(goal=GoalFactory(organization=org))  # window 2026-01-01 .. 2026-12-31 UTC
    origin = utc(2026, 6, 1, 12)
    for day in range(10):
        read(metric, origin + timedelta(days=day), 10.0 + 0.5 * day)
    metric = refreshed(metric)
    days_to_end = (utc(2027, 1, 1) - origin).total_seconds() / DAY
    assert metric.forecast == pytest.approx(10.0 + 0.5 * days_to_end, rel=1e-9)
    assert metric.current == 14.5


def test_forecast_is_evaluated_at_the_end_of_due_on_in_the_org_time_zone():
    org = OrganizationFactory(timezone="Asia/Tokyo")
    metric = MetricFactory(goal=GoalFactory(organization=org))
    origin = utc(2026, 6, 1)
    for day in (0, 3, 7):
        read(metric, origin + timedelta(days=day), 2.0 * day)
    metric = refreshed(metric)
    end = utc(2026, 12, 31, 15)  # midnight in Tokyo at the end of 2026-12-31
    assert metric.window_end_ts == end.timestamp()
    assert metric.forecast == pytest.approx(2.0 * (end - origin).total_seconds() / DAY, rel=1e-9)


def test_forecast_uses_only_the_window_ending_at_the_latest_reading(org):
    """Readings from 2020: none are recent relative to today, so the window must end at the
    latest reading for the three on the line to be the ones that count."""
    goal = GoalFactory(organization=org, starts_on=date(2020, 1, 1), due_on=date(2020, 12, 31))
    metric = MetricFactory(goal=goal)
    latest = utc(2020, 6, 30, 12, 0, 0, 250000)

    def line(at: datetime) -> float:
        return 50.0 + 1.5 * (at - latest).total_seconds() / DAY

    edge = latest - timedelta(days=28)  # exactly window_days before the latest: inside
    for at in (edge, latest - timedelta(days=10), latest):
        read(metric, at, line(at))
    read(metric, edge - timedelta(microseconds=1), -500.0)  # just outside, off the line
    read(metric, utc(2020, 3, 1), 10_000.0)  # long before, off the line
    metric = refreshed(metric)
    assert metric.forecast == pytest.approx(line(utc(2021, 1, 1)), rel=1e-9)
    assert metric.current == 50.0


def test_forecast_uses_all_readings_when_fewer_than_three_fall_in_the_window(org):
    goal = GoalFactory(organization=org, starts_on=date(2020, 1, 1), due_on=date(2020, 12, 31))
    metric = MetricFactory(goal=goal)
    readings = [(utc(2020, 1, 1), 0.0), (utc(2020, 2, 1), 10.0), (utc(2020, 6, 20), 50.0), (utc(2020, 6, 30), 52.0)]
    for at, value in readings:
        read(metric, at, value)
    metric = refreshed(metric)
    slope, intercept = statistics.linear_regression([at.timestamp() for at, _ in readings], [v for _, v in readings])
    end_ts = utc(2021, 1, 1).timestamp()
    assert metric.forecast == pytest.approx(slope * end_ts + intercept, rel=1e-9)
    two_point_line = 52.0 + 0.2 * (end_ts - utc(2020, 6, 30).timestamp()) / DAY
    assert metric.forecast != pytest.approx(two_point_line, rel=1e-3)


def test_forecast_window_follows_the_org_setting():
    org = OrganizationFactory(settings={"forecast_window_days": 7})
    goal = GoalFactory(organization=org, starts_on=date(2020, 1, 1), due_on=date(2020, 12, 31))
    metric = MetricFactory(goal=goal)
    latest = utc(2020, 6, 30)
    for days_before in (0, 2, 7):
        read(metric, latest - timedelta(days=days_before), 100.0 - 3.0 * days_before)
    for days_before in (8, 15, 27):  # inside the default 28 days, outside these 7
        read(metric, latest - timedelta(days=days_before), 0.0)
    metric = refreshed(metric)
    assert metric.forecast == pytest.approx(100.0 + 3.0 * (utc(2021, 1, 1) - latest).total_seconds() / DAY, rel=1e-9)


def test_each_metric_refreshed_together_gets_its_own_window(org):
    """One refresh of two metrics: each window ends at that metric's own latest reading."""
    goal = GoalFactory(organization=org, starts_on=date(2020, 1, 1), due_on=date(2020, 12, 31))
    dense, sparse = MetricFactory(goal=goal), MetricFactory(goal=goal)
    dense_latest = utc(2020, 3, 31)
    for days_before in (0, 5, 20):
        read(dense, dense_latest - timedelta(days=days_before), 40.0 - days_before)
    read(dense, utc(2020, 1, 1), 900.0)  # off the line, outside dense's window
    sparse_points = [(utc(2020, 3, 10), 1.0), (utc(2020, 9, 1), 5.0), (utc(2020, 9, 20), 7.0)]
    for at, value in sparse_points:
        read(sparse, at, value)  # only two within 28 days of 2020-09-20: all three count
    metrics_refresh(org=org, metric_ids=[dense.id, sparse.id])
    dense.refresh_from_db()
    sparse.refresh_from_db()
    end = utc(2021, 1, 1)
    assert dense.forecast == pytest.approx(40.0 + (end - dense_latest).total_seconds() / DAY, rel=1e-9)
    slope, intercept = statistics.linear_regression([at.timestamp() for at, _ in sparse_points], [1.0, 5.0, 7.0])
    assert sparse.forecast == pytest.approx(slope * end.timestamp() + intercept, rel=1e-9)
    assert (dense.current, sparse.current) == (40.0, 7.0)


def test_refresh_touches_only_the_named_metrics(org):
    goal = GoalFactory(organization=org)
    named, other = MetricFactory(goal=goal), MetricFactory(goal=goal)
    read(named, utc(2026, 5, 1), 30.0)
    read(other, utc(2026, 5, 1), 60.0)
    metrics_refresh(org=org, metric_ids=[named.id])
    named.refresh_from_db()
    other.refresh_from_db()
    assert (named.current, other.current) == (30.0, None)


# --- writes that move a window or the trend keep the stored values current ---------------------


def test_moving_a_metric_due_on_refreshes_its_forecast(org, admin_access):
    metric = linear_metric(org, GoalFactory(organization=org))
    assert metric.forecast == pytest.approx(214.0)
    metric_update(access=admin_access, metric=metric, due_on=date(2026, 6, 30))
    metric.refresh_from_db()
    assert metric.window_end_ts == utc(2026, 7, 1).timestamp()
    assert metric.forecast == pytest.approx(30.0)


def test_moving_a_goal_due_on_refreshes_its_metrics_forecasts(org, admin_access):
    goal = GoalFactory(organization=org)
    metric = linear_metric(org, goal)
    goal_update(access=admin_access, goal=goal, due_on=date(2026, 6, 30))
    metric.refresh_from_db()
    assert metric.window_end_ts == utc(2026, 7, 1).timestamp()
    assert metric.forecast == pytest.approx(30.0)


def test_changing_the_org_time_zone_moves_the_windows(org, admin_access):
    goal = GoalFactory(organization=org)
    metric = MetricFactory(goal=goal)
    org_update(access=admin_access, timezone_name="Asia/Tokyo")
    goal.refresh_from_db()
    metric.refresh_from_db()
    tokyo_start = utc(2025, 12, 31, 15).timestamp()
    assert (goal.window_start_ts, metric.window_start_ts) == (tokyo_start, tokyo_start)


def test_changing_forecast_window_days_refreshes_forecasts(org, admin_access):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    read(metric, utc(2026, 6, 1) - timedelta(days=40), 1000.0)
    for day in (0, 7, 14):
        read(metric, utc(2026, 6, 1) + timedelta(days=day), float(day))
    metric = refreshed(metric)
    assert metric.forecast == pytest.approx(214.0)
    org_update(access=admin_access, settings={"forecast_window_days": 60})
    metric.refresh_from_db()
    points = [formulas.Point(r.observed_at.timestamp(), r.value) for r in metric.readings.all()]
    assert metric.forecast == pytest.approx(formulas.least_squares_at(points, metric.window_end_ts))


def test_the_refresh_command_fills_odds_left_empty_by_a_release(org, other_org):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    for day in range(6):
        read(metric, utc(2026, 6, 1) + timedelta(days=day), 10.0 + day + 0.1 * (-1) ** day)
    refreshed(metric)
    Metric.objects.filter(pk=metric.pk).update(p_hit=None, forecast_low=None, forecast_high=None)
    untouched = MetricFactory(goal=GoalFactory(organization=other_org))

    call_command("refresh_derived_values", "--org", org.slug, stdout=io.StringIO())

    metric.refresh_from_db()
    assert metric.p_hit is not None
    assert metric.forecast_low < metric.forecast < metric.forecast_high
    assert Goal.objects.get(pk=metric.goal_id).p_hit == pytest.approx(metric.p_hit)
    untouched.refresh_from_db()
    assert untouched.p_hit is None


def test_a_new_forecast_window_refreshes_goal_odds(org, admin_access):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    for day in range(40):
        read(metric, utc(2026, 5, 1) + timedelta(days=day), (day if day < 30 else 30) + 0.2 * (-1) ** day)
    refreshed(metric)
    goals_refresh_progress(org=org)
    before = Goal.objects.get(pk=metric.goal_id).p_hit

    org_update(access=admin_access, settings={"forecast_window_days": 7})

    goal = Goal.objects.get(pk=metric.goal_id)
    metric.refresh_from_db()
    assert goal.p_hit == pytest.approx(metric.p_hit)
    assert goal.p_hit != before
