"""The stall signal (`goals.formulas.stall`) and how `likely_miss` uses it: simulated daily
series (those of `bench.detection`) scored as of each day with the default settings."""

import datetime
import random

import pytest

from alignment_service.access import Access, Role
from bench import detection
from feedback import engine
from feedback.models import CourseCorrection, Trigger
from feedback.rules import find_all
from goals import formulas
from goals.models import RECENT_LINE_FIELDS, Metric, Reading
from goals.services import goals_refresh_progress, metrics_refresh
from goals.services.readings import ReadingInput, readings_ingest
from tests.factories import GoalFactory, MetricFactory

DAY = detection.DAY


def likely_miss_days(values):
    """For each day from 1: (likely_miss fires, it fires from the stall's odds, the metric's stall)."""
    series = detection.Series(detection.STALL, tuple(values), None)
    settings, previous, days = dict(detection.DEFAULTS), {}, {}
    for day in range(1, detection.WINDOW_DAYS):
        world, goal = detection.as_of(series, day, settings, previous)
        previous = dict(world.scores)
        [finding] = [f for f in find_all(world) if f.trigger == Trigger.LIKELY_MISS] or [None]
        days[day] = (finding is not None, finding is not None and "over the last 7 days" in finding.detail,
                     goal.metrics[0].stall)  # fmt: skip
    return days


def simulate(seed, *, speed=1.0, stall_day=None, stall_for=None, later_speed=2.0):
    rng, level, values = random.Random(seed), detection.BASELINE, []
    for day in range(detection.WINDOW_DAYS + 1):
        values.append(level + rng.gauss(0, detection.NOISE))
        stalled = stall_day is not None and day >= stall_day and (stall_for is None or day < stall_day + stall_for)
        recovered = stall_day is not None and stall_for is not None and day >= stall_day + stall_for
        level += 0 if stalled else (later_speed if recovered else speed) * detection.PACE
    return values


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("stall_day", [30, 55])
def test_a_stall_is_flagged_from_the_recent_readings_within_seven_days(seed, stall_day):
    days = likely_miss_days(simulate(seed, speed=1.1, stall_day=stall_day))
    first = min(day for day, (fires, _, _) in days.items() if fires)
    assert stall_day < first <= stall_day + 7
    assert days[first][1]  # the trend of 28 days had not bent yet: the stall's odds fired it
    assert all(days[day][0] for day in range(first, detection.WINDOW_DAYS))


@pytest.mark.parametrize("seed", range(40))
def test_healthy_series_with_noise_of_ten_percent_of_the_pace_never_alarm(seed):
    speed = random.Random(seed).uniform(1.0, 1.25)
    days = likely_miss_days(simulate(100 + seed, speed=speed))
    assert not any(fires for fires, _, _ in days.values())


@pytest.mark.parametrize("seed", range(6))
def test_a_recovering_series_leaves_the_stall_signal_once_it_recovers(seed):
    days = likely_miss_days(simulate(seed, speed=1.1, stall_day=30, stall_for=10, later_speed=2.0))
    assert any(from_stall for _, from_stall, _ in days.values())
    after = range(40 + 3, detection.WINDOW_DAYS)  # three days of catching up at twice the pace
    assert all(days[day][2] is None and not days[day][1] for day in after)


# --- The formula on its own ------------------------------------------------------------------------

START = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def points(values, step_days=1.0):
    return [formulas.Point(START + i * step_days * DAY, v) for i, v in enumerate(values)]


def test_the_fit_from_moments_is_the_fit_of_the_points():
    rng = random.Random(5)
    pts = points([1e6 + 3 * i + rng.gauss(0, 2) for i in range(20)], step_days=0.7)
    origin = pts[-1]
    xs = [p.ts - origin.ts for p in pts]
    ys = [p.value - origin.value for p in pts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    moments = (mx, my, sum((x - mx) ** 2 for x in xs), sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)),
               sum((y - my) ** 2 for y in ys))  # fmt: skip
    fit = formulas.fit_from_moments(len(pts), *moments, origin_ts=origin.ts, origin_value=origin.value)
    expected = formulas.line_fit(pts)
    assert fit is not None
    assert expected is not None
    for name in ("n", "mean_ts", "mean_value", "slope", "sxx", "residual_sd"):
        assert getattr(fit, name) == pytest.approx(getattr(expected, name), rel=1e-9)
    assert formulas.fit_from_moments(2, *moments, origin_ts=origin.ts, origin_value=origin.value) is None
    flat = (mx, my, 0.0, 0.0, moments[4])
    assert formulas.fit_from_moments(len(pts), *flat, origin_ts=origin.ts, origin_value=origin.value) is None


def test_a_recent_line_that_overflows_is_no_line():
    assert formulas.recent_line(points([1e200, -1e200, 1e200, -1e200])) is None
    assert formulas.recent_line([]) is None


def stall_of(values, **kwargs):
    pts = points(values)
    recent = formulas.line_fit(formulas.recent_points(pts, now_ts=pts[-1].ts))
    bounds = {"baseline": 0.0, "target": 100.0} | kwargs
    return formulas.stall(recent, latest_ts=pts[-1].ts, end_ts=START + 90 * DAY, **bounds)


def test_flat_recent_readings_after_a_steady_climb_are_a_stall_with_the_flat_line_s_odds():
    values = [1.0 * day + 0.05 * (-1) ** day for day in range(30)] + [29.0 + 0.05 * (-1) ** day for day in range(6)]
    result = stall_of(values)
    assert result is not None
    assert result.forecast < 40
    assert result.p_hit < 0.001
    assert result.recent_slope < 0.5 < 1 < result.needed_slope


def test_no_stall_on_pace_without_enough_recent_readings_or_once_the_window_is_over():
    assert stall_of([100 / 90 * day + 0.05 * (-1) ** day for day in range(36)]) is None
    weekly = points([7.0 * week for week in range(5)] + [28.0], step_days=7)  # one reading in the last 7 days
    assert formulas.line_fit(formulas.recent_points(weekly, now_ts=weekly[-1].ts)) is None
    flat = formulas.line_fit(points([29.0 + 0.05 * (-1) ** day for day in range(8)]))
    assert formulas.stall(flat, latest_ts=START + 7 * DAY, end_ts=START + 7 * DAY, baseline=0, target=100) is None


def test_a_stall_of_a_decreasing_metric_is_when_it_stops_falling():
    falling = [100 - 1.2 * day + 0.05 * (-1) ** day for day in range(30)]  # ahead of the 1.11 a day needed
    assert stall_of([*falling, *[65.2] * 6], baseline=100.0, target=0.0) is not None
    assert stall_of([*falling, *[64.0 - 1.2 * day for day in range(6)]], baseline=100.0, target=0.0) is None


# --- Stored on each metric with every reading write, read by the engine -------------------------

T = datetime.datetime(2026, 10, 1, 12, 0, tzinfo=datetime.UTC)  # 75 % into the factories' 2026 window


def stalled_metric(org, *, flat_days):
    """Daily readings on pace (to 100 by the end of 2026) for 40 days, flat for the last `flat_days`."""
    metric = MetricFactory(goal=GoalFactory(organization=org, title="Grow"), baseline=0.0, target=100.0)
    pace = 100 / 365
    for days_before in range(40, -1, -1):
        day = 273 - max(days_before, flat_days)
        observed_at = T - datetime.timedelta(days=days_before)
        Reading.objects.create(
            organization=org, metric=metric, observed_at=observed_at, value=pace * day + 0.02 * (-1) ** days_before
        )
    metrics_refresh(org=org, metric_ids=[metric.pk])
    goals_refresh_progress(org=org)
    return Metric.objects.get(pk=metric.pk)


def stored_line(metric):
    metric.refresh_from_db()
    return None if metric.recent_n is None else formulas.LineFit(*(getattr(metric, f) for f in RECENT_LINE_FIELDS))


@pytest.mark.django_db
def test_the_stored_line_is_the_fit_of_the_recent_readings(org):
    metric = stalled_metric(org, flat_days=4)
    readings = sorted(
        (formulas.Point(r.observed_at.timestamp(), r.value) for r in Reading.objects.filter(metric=metric)),
        key=lambda p: p.ts,
    )
    fit = stored_line(metric)
    expected = formulas.line_fit(formulas.recent_points(readings, now_ts=readings[-1].ts))
    assert fit is not None
    assert expected is not None
    assert fit.n == expected.n == 8
    for name in ("mean_ts", "mean_value", "slope", "sxx", "residual_sd"):
        assert getattr(fit, name) == pytest.approx(getattr(expected, name), rel=1e-6, abs=1e-12)
    assert metric.reading_count == 41


@pytest.mark.django_db
def test_a_metric_without_three_recent_readings_has_no_line(org):
    sparse = MetricFactory(goal=GoalFactory(organization=org))
    for days_before in (20, 6, 0):
        Reading.objects.create(
            organization=org, metric=sparse, observed_at=T - datetime.timedelta(days=days_before), value=1
        )
    metrics_refresh(org=org, metric_ids=[sparse.pk])
    assert stored_line(sparse) is None
    assert sparse.reading_count == 3


@pytest.mark.django_db
def test_readings_ingested_move_the_count_and_the_line(org, owner):
    metric = stalled_metric(org, flat_days=4)
    before = stored_line(metric)
    replaced = ReadingInput(metric=metric, value=0.0, observed_at=T)  # the latest one, lower
    new = ReadingInput(metric=metric, value=0.0, observed_at=T + datetime.timedelta(hours=6))
    assert readings_ingest(access=Access(org=org, user=owner, role=Role.OWNER), readings=[replaced, new]) == (1, 1)
    after = stored_line(metric)
    assert metric.reading_count == 42
    assert before is not None
    assert after is not None
    assert after.slope < before.slope
    readings = [formulas.Point(r.observed_at.timestamp(), r.value) for r in metric.readings.order_by("observed_at")]
    expected = formulas.recent_line(readings)
    assert expected is not None
    assert after.n == expected.n == 8  # the one of 7 days before T fell out of the window
    for name in ("mean_ts", "mean_value", "slope", "sxx", "residual_sd"):
        assert getattr(after, name) == pytest.approx(getattr(expected, name), rel=1e-6, abs=1e-12)


@pytest.mark.django_db
def test_a_rescore_opens_likely_miss_from_the_stall_of_the_last_days(org):
    stalled_metric(org, flat_days=5)
    engine.rescore_org(org=org, now=T)
    [correction] = CourseCorrection.objects.filter(organization=org, trigger=Trigger.LIKELY_MISS)
    assert "over the last 7 days" in correction.detail
    assert not CourseCorrection.objects.filter(organization=org, trigger=Trigger.OFF_TRACK).exists()


def test_the_worked_example_of_the_docs():
    """docs/progress.md: one a day for 24 days, then flat at 23 for 4; target 88 at day 90."""

    def at(flat_from):
        pts = [formulas.Point(START + day * DAY, float(min(day, flat_from - 1))) for day in range(28)]
        recent = formulas.line_fit(formulas.recent_points(pts, now_ts=pts[-1].ts))
        stalled = formulas.stall(recent, latest_ts=pts[-1].ts, end_ts=START + 90 * DAY, baseline=0.0, target=88.0)
        return pts, recent, stalled

    pts, recent, result = at(24)
    assert recent is not None
    assert recent.slope * DAY == pytest.approx(17 / 42)
    assert recent.residual_sd == pytest.approx(0.66069, abs=1e-5)
    assert recent.at(pts[-1].ts) == pytest.approx(23.66667, abs=1e-5)
    trend = formulas.odds(formulas.line_fit(pts), at_ts=START + 90 * DAY, baseline=0, target=88)
    assert trend.p_hit == pytest.approx(0.0226, abs=1e-4)
    assert result is not None
    assert result.needed_slope == pytest.approx(1.02116, abs=1e-5)
    assert result.forecast == pytest.approx(49.16667, abs=1e-5)
    assert result.p_hit == pytest.approx(0.00063, abs=1e-5)
    assert at(25)[2] is None  # three flat days: 4.0 standard errors short, not yet 5.2
