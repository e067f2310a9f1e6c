"""Derived values against the database: the SQL twins of `expected_progress` and `health`
(they agree with the Python formulas) and the goal progress roll-up. The metric refresh lives in
`test_metric_refresh.py`."""

from datetime import date, timedelta

import pytest

from goals import formulas
from goals.models import Goal, Metric, MetricDirection
from goals.selectors import goal_list, metric_list
from goals.services import goals_refresh_progress, metrics_refresh
from tests.factories import GoalFactory, MetricFactory, OrganizationFactory
from tests.goals.derived_support import DAY, read, refreshed, utc

pytestmark = pytest.mark.django_db


def python_view(row: Goal | Metric, org, now_ts: float) -> tuple[float, str]:
    settings = org.effective_settings
    expected = formulas.expected_progress(start_ts=row.window_start_ts, end_ts=row.window_end_ts, now_ts=now_ts)
    health = formulas.health(
        progress=row.progress,
        expected=expected,
        tolerance=settings["health_tolerance"],
        at_risk_gap=settings["at_risk_gap"],
    )
    return expected, health


def assert_sql_matches_python(rows, org, now_ts: float) -> None:
    for row in rows:
        expected, health = python_view(row, org, now_ts)
        assert row.expected_progress == pytest.approx(expected, abs=1e-12), (row.progress, now_ts)
        assert row.health == health, (row.progress, row.expected_progress, now_ts)


# --- SQL expected_progress and health agree with the Python formulas ----------------------------

PROGRESS_GRID = [None, 0.0, 0.1, 0.25, 1 / 3, 0.5, 0.62, 0.8, 0.97, 1.0]
TIME_GRID = [
    utc(2025, 12, 1),
    utc(2026, 1, 1),
    utc(2026, 2, 14, 13, 37),
    utc(2026, 4, 30, 6),
    utc(2026, 7, 2),
    utc(2026, 9, 9, 21, 15, 3),
    utc(2026, 12, 31, 12),
    utc(2027, 1, 1),
    utc(2027, 3, 1),
]


def test_goal_list_health_matches_python_over_a_grid(org):
    for value in PROGRESS_GRID:
        GoalFactory(organization=org, progress=value)
    for now in TIME_GRID:
        rows = list(goal_list(org=org, now_ts=now.timestamp()))
        assert len(rows) == len(PROGRESS_GRID)
        assert_sql_matches_python(rows, org, now.timestamp())


def test_metric_list_health_matches_python_over_a_grid(org):
    goal = GoalFactory(organization=org)
    for value in PROGRESS_GRID:
        MetricFactory(goal=goal, progress=value)
    for now in TIME_GRID:
        rows = list(metric_list(org=org, now_ts=now.timestamp()))
        assert len(rows) == len(PROGRESS_GRID)
        assert_sql_matches_python(rows, org, now.timestamp())


def test_health_matches_python_on_exact_boundaries():
    """A 64-day window and thresholds in 64ths keep every gap exact: the boundaries themselves
    are compared, with the organization's own thresholds."""
    org = OrganizationFactory(settings={"health_tolerance": 4 / 64, "at_risk_gap": 16 / 64})
    goals = {j: GoalFactory(organization=org, starts_on=date(2026, 1, 1), due_on=date(2026, 3, 5), progress=j / 64)
             for j in range(65)}  # fmt: skip
    GoalFactory(organization=org, starts_on=date(2026, 1, 1), due_on=date(2026, 3, 5), progress=None)
    start = goals[0].window_start_ts
    assert goals[0].window_end_ts - start == 64 * DAY
    for day in (-1, 0, 1, 5, 16, 20, 32, 47, 63, 64, 65):
        now_ts = start + day * DAY
        rows = list(goal_list(org=org, now_ts=now_ts))
        assert_sql_matches_python(rows, org, now_ts)
    # On day 20 expected is 20/64: the edges sit at 16/64 (on_track) and 4/64 (at_risk).
    by_progress = {row.progress: row.health for row in goal_list(org=org, now_ts=start + 20 * DAY)}
    assert [by_progress[j / 64] for j in (17, 16, 15, 5, 4, 3)] == [
        formulas.ON_TRACK, formulas.ON_TRACK, formulas.AT_RISK, formulas.AT_RISK, formulas.AT_RISK, formulas.OFF_TRACK,
    ]  # fmt: skip
    assert by_progress[None] == formulas.NO_DATA


def test_expected_progress_follows_the_window_in_the_org_time_zone():
    org = OrganizationFactory(timezone="Europe/Berlin")
    goal = GoalFactory(organization=org, starts_on=date(2026, 3, 1), due_on=date(2026, 3, 31), progress=0.5)
    metric = MetricFactory(goal=goal, progress=0.5)
    local_start = utc(2026, 2, 28, 23)  # 00:00 CET
    local_end = utc(2026, 3, 31, 22)  # 00:00 CEST on 1 April
    cases = [
        (local_start - timedelta(seconds=1), 0.0),
        (local_start, 0.0),
        (local_start + (local_end - local_start) / 2, 0.5),
        (local_end, 1.0),
        (local_end + timedelta(days=3), 1.0),
    ]
    for now, expected in cases:
        for queryset in (goal_list(org=org, now_ts=now.timestamp()), metric_list(org=org, now_ts=now.timestamp())):
            (row,) = queryset
            assert row.expected_progress == pytest.approx(expected, abs=1e-12)
            assert_sql_matches_python([row], org, now.timestamp())
    assert metric.window_start_ts == local_start.timestamp()


def test_health_filter_uses_the_annotation(org):
    on_track = GoalFactory(organization=org, progress=0.5)
    at_risk = GoalFactory(organization=org, progress=0.4)
    off_track = GoalFactory(organization=org, progress=0.1)
    no_data = GoalFactory(organization=org, progress=None)
    now_ts = on_track.window_start_ts + (on_track.window_end_ts - on_track.window_start_ts) / 2
    rows = goal_list(org=org, now_ts=now_ts)
    assert {health: [g.pk for g in rows.filter(health=health)] for health in formulas.HEALTH_VALUES} == {
        formulas.ON_TRACK: [on_track.pk],
        formulas.AT_RISK: [at_risk.pk],
        formulas.OFF_TRACK: [off_track.pk],
        formulas.NO_DATA: [no_data.pk],
    }


def test_health_on_decimal_boundaries_is_on_track_in_sql_and_python(org):
    for value, day in ((0.5, 55), (0.02, 7)):
        goal = GoalFactory(organization=org, starts_on=date(2026, 1, 1), due_on=date(2026, 4, 10), progress=value)
        now_ts = goal.window_start_ts + day * DAY
        row = goal_list(org=org, now_ts=now_ts).get(pk=goal.pk)
        assert row.expected_progress == day / 100
        assert (row.health, python_view(row, org, now_ts)[1]) == (formulas.ON_TRACK, formulas.ON_TRACK)


# --- goals_refresh_progress --------------------------------------------------------------------


def goal_with_progress(org, value: float | None, **fields) -> Goal:
    """A goal with one metric whose stored progress is `value` (None: no readings)."""
    goal = GoalFactory(organization=org, **fields)
    MetricFactory(goal=goal, progress=value)
    return goal


def progress_of(goal: Goal) -> float | None:
    goal.refresh_from_db()
    return goal.progress


def test_goal_progress_is_the_weighted_mean_of_its_metrics(org):
    goal = GoalFactory(organization=org)
    light = MetricFactory(goal=goal, weight=1.0)
    heavy = MetricFactory(goal=goal, weight=3.0)
    MetricFactory(goal=goal, weight=5.0)  # no readings: left out
    read(light, utc(2026, 2, 1), 20.0)
    read(heavy, utc(2026, 2, 1), 80.0)
    metrics_refresh(org=org, metric_ids=[light.id, heavy.id])
    goals_refresh_progress(org=org)
    assert progress_of(goal) == pytest.approx((0.2 * 1 + 0.8 * 3) / 4)


def test_a_goal_whose_metrics_have_no_readings_has_no_progress_even_with_children(org):
    goal = goal_with_progress(org, None)
    goal_with_progress(org, 0.7, parent=goal)
    goals_refresh_progress(org=org)
    assert progress_of(goal) is None


def test_refresh_stores_the_band_and_p_hit_beside_the_forecast(org):
    metric = MetricFactory(goal=GoalFactory(organization=org), baseline=0, target=100)
    origin = utc(2026, 6, 1, 12)
    for day, wobble in enumerate([0.3, -0.2, 0.1, -0.4, 0.2, 0.0, -0.1, 0.3, -0.3, 0.1]):
        read(metric, origin + timedelta(days=day), 10.0 + 0.5 * day + wobble)
    metric = refreshed(metric)
    points = [formulas.Point(r.observed_at.timestamp(), r.value) for r in metric.readings.order_by("observed_at")]
    expected = formulas.odds(formulas.line_fit(points), at_ts=metric.window_end_ts, baseline=0, target=100)
    assert (metric.forecast_low, metric.forecast_high, metric.p_hit) == pytest.approx(
        (expected.low, expected.high, expected.p_hit)
    )
    assert metric.forecast_low < metric.forecast < metric.forecast_high
    assert metric.p_hit > 0.95  # the line reaches ~117 by the end of December, far beyond 100
    goals_refresh_progress(org=org, goal_ids=[metric.goal_id])
    goal = Goal.objects.get(pk=metric.goal_id)
    assert goal.p_hit == pytest.approx(metric.p_hit)


def test_goal_p_hit_is_the_weighted_mean_of_metrics_and_children_with_known_outcomes(org):
    parent = GoalFactory(organization=org)
    child = GoalFactory(organization=org, parent=parent, weight=3.0)
    for p_hit, weight in ((0.2, 1.0), (0.8, 3.0), (None, 5.0)):
        MetricFactory(goal=child, p_hit=p_hit, weight=weight, progress=0.5)
    GoalFactory(organization=org, parent=parent, weight=1.0, status="achieved")
    GoalFactory(organization=org, parent=parent, weight=9.0, status="draft", p_hit=0.0)
    goals_refresh_progress(org=org)
    child.refresh_from_db()
    parent.refresh_from_db()
    assert child.p_hit == pytest.approx((0.2 + 2.4) / 4)  # 0.65; the metric without odds is left out
    assert parent.p_hit == pytest.approx((0.65 * 3 + 1.0 * 1) / 4)  # the achieved child counts 1


def test_a_goal_without_metrics_rolls_up_its_children_by_weight(org):
    parent = GoalFactory(organization=org)
    goal_with_progress(org, 0.2, parent=parent, weight=1.0)
    goal_with_progress(org, 0.6, parent=parent, weight=3.0)
    goal_with_progress(org, None, parent=parent, weight=10.0)  # no data: left out
    goals_refresh_progress(org=org)
    assert progress_of(parent) == pytest.approx(0.5)


def test_draft_and_cancelled_children_are_left_out(org):
    parent = GoalFactory(organization=org)
    for status, value in (("active", 0.2), ("achieved", 1.0), ("missed", 0.4), ("draft", 0.9), ("cancelled", 0.0)):
        goal_with_progress(org, value, parent=parent, status=status)
    goals_refresh_progress(org=org)
    assert progress_of(parent) == pytest.approx((0.2 + 1.0 + 0.4) / 3)


def test_only_excluded_or_empty_children_leave_no_progress(org):
    parent = GoalFactory(organization=org)
    goal_with_progress(org, 0.9, parent=parent, status="draft")
    GoalFactory(organization=org, parent=parent)
    goals_refresh_progress(org=org)
    assert progress_of(parent) is None


def test_progress_rolls_up_a_multi_level_chain(org):
    company = GoalFactory(organization=org)
    team = GoalFactory(organization=org, parent=company, weight=1.0)
    squad = goal_with_progress(org, 0.3, parent=team)
    sibling = goal_with_progress(org, 0.9, parent=company, weight=2.0)
    paused = GoalFactory(organization=org, parent=company, status="draft", weight=100.0)
    goal_with_progress(org, 0.0, parent=paused)  # under a draft goal: not counted in the company's
    changed = goals_refresh_progress(org=org)
    assert progress_of(squad) == pytest.approx(0.3)
    assert progress_of(team) == pytest.approx(0.3)
    assert progress_of(sibling) == pytest.approx(0.9)
    assert progress_of(paused) == pytest.approx(0.0)
    assert progress_of(company) == pytest.approx((0.3 * 1 + 0.9 * 2) / 3)
    assert changed == 6
    assert goals_refresh_progress(org=org) == 0  # nothing changed the second time


def test_readings_flow_up_to_the_company_goal(org):
    company = GoalFactory(organization=org)
    team = GoalFactory(organization=org, parent=company)
    metric = MetricFactory(goal=team, direction=MetricDirection.DECREASE, baseline=2.0, target=0.5)
    read(metric, utc(2026, 4, 1), 1.4)
    metrics_refresh(org=org, metric_ids=[metric.id])
    goals_refresh_progress(org=org)
    assert progress_of(team) == pytest.approx(0.4)
    assert progress_of(company) == pytest.approx(0.4)


def test_refresh_leaves_other_organizations_alone(org, other_org):
    theirs = GoalFactory(organization=other_org, progress=0.75)
    goal_with_progress(org, 0.5)
    goals_refresh_progress(org=org)
    assert progress_of(theirs) == 0.75
