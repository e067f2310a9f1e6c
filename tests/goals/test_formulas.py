"""Properties of the derived-value formulas in `goals.formulas` (pure functions, no database)."""

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from goals.formulas import (
    AT_RISK,
    NO_DATA,
    OFF_TRACK,
    ON_TRACK,
    Point,
    expected_progress,
    forecast,
    forecast_points,
    health,
    is_stale,
    least_squares_at,
    progress,
    weighted_mean,
    window,
    window_bounds_ts,
)

DAY = 86400
FAST = settings(max_examples=60, deadline=None)

values = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
instants = st.floats(min_value=1.6e9, max_value=1.9e9, allow_nan=False, allow_infinity=False)
weights = st.floats(min_value=1e-3, max_value=1000, allow_nan=False, allow_infinity=False)
dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
zones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "Asia/Kolkata"])
# Multiples of 1/64 in 0..1: their sums and differences are exact in binary floating point.
sixty_fourths = st.integers(min_value=0, max_value=64).map(lambda n: n / 64)


@st.composite
def bounds(draw: st.DrawFn, *, increasing: bool) -> tuple[float, float]:
    """(baseline, target) with target above the baseline when increasing, below otherwise."""
    baseline, target = draw(values), draw(values)
    assume(baseline != target)
    low, high = sorted((baseline, target))
    return (low, high) if increasing else (high, low)


# --- progress ---------------------------------------------------------------------------------


@FAST
@given(baseline=values, target=values, current=values)
def test_progress_is_clamped_to_unit_interval(baseline, target, current):
    assume(baseline != target)
    result = progress(baseline=baseline, target=target, current=current)
    assert 0.0 <= result <= 1.0


@FAST
@given(baseline=values, target=values)
def test_progress_is_none_without_a_current_value(baseline, target):
    assume(baseline != target)
    assert progress(baseline=baseline, target=target, current=None) is None


@FAST
@given(increasing=st.booleans(), data=st.data(), currents=st.lists(values, min_size=2, max_size=2))
def test_progress_is_monotone_in_current(increasing, data, currents):
    baseline, target = data.draw(bounds(increasing=increasing))
    low, high = sorted(currents)
    at_low = progress(baseline=baseline, target=target, current=low)
    at_high = progress(baseline=baseline, target=target, current=high)
    if increasing:
        assert at_low <= at_high
    else:
        assert at_low >= at_high


@FAST
@given(baseline=values, target=values, current=values)
def test_progress_is_symmetric_under_negation(baseline, target, current):
    assume(baseline != target)
    assert progress(baseline=baseline, target=target, current=current) == progress(
        baseline=-baseline, target=-target, current=-current
    )


@FAST
@given(data=st.data(), current=values)
def test_a_decreasing_metric_mirrors_an_increasing_one(data, current):
    baseline, target = data.draw(bounds(increasing=False))
    mirrored = progress(baseline=-baseline, target=-target, current=-current)
    assert -target > -baseline  # the mirror image is an increasing metric
    assert progress(baseline=baseline, target=target, current=current) == mirrored


@FAST
@given(baseline=values, target=values)
def test_progress_is_zero_at_baseline_and_one_at_target(baseline, target):
    assume(baseline != target)
    assert progress(baseline=baseline, target=target, current=baseline) == 0.0
    assert progress(baseline=baseline, target=target, current=target) == 1.0


@pytest.mark.parametrize(
    ("baseline", "target", "current", "expected"),
    [
        (20.0, 30.0, 24.0, 0.4),  # increasing, partway
        (20.0, 30.0, 35.0, 1.0),  # beyond the target: clamped
        (20.0, 30.0, 15.0, 0.0),  # below the baseline: clamped
        (2.0, 0.5, 1.4, 0.4),  # decreasing, partway
        (2.0, 0.5, 0.2, 1.0),  # decreasing, better than the target
        (2.0, 0.5, 2.6, 0.0),  # decreasing, worse than the baseline
    ],
)
def test_progress_examples(baseline, target, current, expected):
    assert progress(baseline=baseline, target=target, current=current) == pytest.approx(expected)


# --- expected progress and the window ----------------------------------------------------------


@st.composite
def spans(draw: st.DrawFn) -> tuple[float, float]:
    start = draw(instants)
    length = draw(st.floats(min_value=3600, max_value=3650 * DAY))
    return start, start + length


@FAST
@given(span=spans(), now=instants)
def test_expected_progress_is_clamped(span, now):
    start, end = span
    assert 0.0 <= expected_progress(start_ts=start, end_ts=end, now_ts=now) <= 1.0


@FAST
@given(span=spans(), before=st.floats(min_value=0, max_value=1e8))
def test_expected_progress_is_zero_before_and_at_the_start(span, before):
    start, end = span
    assert expected_progress(start_ts=start, end_ts=end, now_ts=start - before) == 0.0


@FAST
@given(span=spans(), after=st.floats(min_value=0, max_value=1e8))
def test_expected_progress_is_one_at_and_after_the_end(span, after):
    start, end = span
    assert expected_progress(start_ts=start, end_ts=end, now_ts=end + after) == 1.0


@FAST
@given(span=spans(), times=st.lists(instants, min_size=2, max_size=2))
def test_expected_progress_is_monotone_in_time(span, times):
    start, end = span
    earlier, later = sorted(times)
    assert expected_progress(start_ts=start, end_ts=end, now_ts=earlier) <= expected_progress(
        start_ts=start, end_ts=end, now_ts=later
    )


def test_expected_progress_midway():
    assert expected_progress(start_ts=1000.0, end_ts=3000.0, now_ts=2000.0) == 0.5


@FAST
@given(starts_on=dates, length=st.integers(min_value=0, max_value=800), tz_name=zones)
def test_window_runs_from_local_midnight_to_the_midnight_after_due_on(starts_on, length, tz_name):
    due_on = starts_on + timedelta(days=length)
    tz = ZoneInfo(tz_name)
    start, end = window(starts_on, due_on, tz_name)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    assert (local_start.date(), local_start.hour, local_start.minute) == (starts_on, 0, 0)
    assert (local_end.date(), local_end.hour, local_end.minute) == (due_on + timedelta(days=1), 0, 0)
    assert window_bounds_ts(starts_on, due_on, tz_name) == (start.timestamp(), end.timestamp())
    # About whole days long: DST shifts move the end by at most an hour.
    assert abs((end - start).total_seconds() - (length + 1) * DAY) <= 3600


def test_window_across_the_spring_dst_change_in_berlin():
    start, end = window(date(2026, 3, 1), date(2026, 3, 31), "Europe/Berlin")
    assert start == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)  # 00:00 CET (UTC+1)
    assert end == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # 00:00 CEST (UTC+2) on 1 April
    start_ts, end_ts = window_bounds_ts(date(2026, 3, 1), date(2026, 3, 31), "Europe/Berlin")
    assert end_ts - start_ts == 31 * DAY - 3600  # the clocks skipped an hour on 29 March


def test_window_across_the_autumn_dst_change_in_berlin():
    start_ts, end_ts = window_bounds_ts(date(2026, 10, 1), date(2026, 10, 31), "Europe/Berlin")
    assert end_ts - start_ts == 31 * DAY + 3600  # the clocks went back an hour on 25 October


def test_window_in_tokyo_is_nine_hours_before_the_one_in_utc():
    utc_start, utc_end = window_bounds_ts(date(2026, 1, 1), date(2026, 12, 31), "UTC")
    tokyo_start, tokyo_end = window_bounds_ts(date(2026, 1, 1), date(2026, 12, 31), "Asia/Tokyo")
    assert utc_start - tokyo_start == 9 * 3600
    assert utc_end - tokyo_end == 9 * 3600
    assert utc_start == datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert utc_end == datetime(2027, 1, 1, tzinfo=UTC).timestamp()


# --- health ------------------------------------------------------------------------------------


@st.composite
def thresholds(draw: st.DrawFn) -> tuple[float, float]:
    """(tolerance, at_risk_gap) in 64ths, tolerance strictly below at_risk_gap."""
    tolerance = draw(st.integers(min_value=0, max_value=31))
    at_risk_gap = draw(st.integers(min_value=tolerance + 1, max_value=32))
    return tolerance / 64, at_risk_gap / 64


@FAST
@given(expected=sixty_fourths, limits=thresholds())
def test_health_boundaries_are_inclusive(expected, limits):
    tolerance, at_risk_gap = limits
    assume(expected - at_risk_gap > 0)  # progress one step below the outer boundary stays ≥ 0

    def at(progress_value: float) -> str:
        return health(progress=progress_value, expected=expected, tolerance=tolerance, at_risk_gap=at_risk_gap)

    on_edge = expected - tolerance
    risk_edge = expected - at_risk_gap
    step = 2.0**-20  # "just below" (beyond the 1e-9 boundary tolerance); sums here stay exact
    assert on_edge - expected == -tolerance
    assert risk_edge - expected == -at_risk_gap
    assert (on_edge - step) - expected == -tolerance - step
    assert at(on_edge) == ON_TRACK
    assert at(on_edge - step) == AT_RISK
    assert at(risk_edge) == AT_RISK
    assert at(risk_edge - step) == OFF_TRACK
    assert at(expected) == ON_TRACK


@FAST
@given(progress_value=st.floats(min_value=0, max_value=1), expected=st.floats(min_value=0, max_value=1))
def test_health_with_default_thresholds_follows_the_gap(progress_value, expected):
    gap = progress_value - expected
    result = health(progress=progress_value, expected=expected, tolerance=0.05, at_risk_gap=0.20)
    assert result == (ON_TRACK if gap >= -0.05 else AT_RISK if gap >= -0.20 else OFF_TRACK)


@FAST
@given(expected=st.floats(min_value=0, max_value=1), limits=thresholds())
def test_health_without_progress_is_no_data(expected, limits):
    tolerance, at_risk_gap = limits
    assert health(progress=None, expected=expected, tolerance=tolerance, at_risk_gap=at_risk_gap) == NO_DATA


@FAST
@given(values=st.lists(st.floats(min_value=0, max_value=1), min_size=2, max_size=2), expected=sixty_fourths)
def test_health_never_worsens_as_progress_grows(values, expected):
    rank = {ON_TRACK: 0, AT_RISK: 1, OFF_TRACK: 2}
    low, high = sorted(values)
    at_low = health(progress=low, expected=expected, tolerance=0.05, at_risk_gap=0.20)
    at_high = health(progress=high, expected=expected, tolerance=0.05, at_risk_gap=0.20)
    assert rank[at_high] <= rank[at_low]


def test_health_on_a_decimal_boundary_is_on_track():
    assert health(progress=0.5, expected=0.55, tolerance=0.05, at_risk_gap=0.20) == ON_TRACK
    assert health(progress=0.02, expected=0.07, tolerance=0.05, at_risk_gap=0.20) == ON_TRACK
    assert health(progress=0.7, expected=0.9, tolerance=0.05, at_risk_gap=0.20) == AT_RISK


# --- staleness ---------------------------------------------------------------------------------


@FAST
@given(last=st.none() | instants, now=instants)
def test_no_freshness_contract_means_stale_is_none(last, now):
    assert is_stale(stale_after_days=None, last_reading_ts=last, now_ts=now) is None


@FAST
@given(days=st.integers(min_value=0, max_value=3650), now=instants)
def test_a_metric_without_readings_is_stale(days, now):
    assert is_stale(stale_after_days=days, last_reading_ts=None, now_ts=now) is True


@FAST
@given(days=st.integers(min_value=0, max_value=3650), now=st.integers(min_value=1_600_000_000, max_value=1_900_000_000))
def test_stale_boundary(days, now):
    edge = float(now - days * DAY)
    assert is_stale(stale_after_days=days, last_reading_ts=edge, now_ts=now) is False
    assert is_stale(stale_after_days=days, last_reading_ts=edge - 1, now_ts=now) is True
    assert is_stale(stale_after_days=days, last_reading_ts=float(now), now_ts=now) is False


# --- forecast ----------------------------------------------------------------------------------


@FAST
@given(
    slope=st.floats(min_value=-1e3, max_value=1e3),
    intercept=values,
    stamps=st.lists(st.integers(min_value=1_600_000_000, max_value=1_900_000_000), min_size=2, max_size=12),
    at=instants,
)
def test_least_squares_is_exact_on_linear_data(slope, intercept, stamps, at):
    assume(len(set(stamps)) >= 2)
    points = [Point(float(ts), slope * ts + intercept) for ts in stamps]
    scale = abs(slope) * 1.9e9 + abs(intercept) + 1.0
    assert least_squares_at(points, at) == pytest.approx(slope * at + intercept, rel=1e-9, abs=1e-9 * scale)


@FAST
@given(ts=instants, value=values, at=instants)
def test_one_point_forecasts_itself(ts, value, at):
    assert least_squares_at([Point(ts, value)], at) == value


@FAST
@given(
    ts=st.integers(min_value=1_600_000_000, max_value=1_900_000_000),
    readings=st.lists(values, min_size=1, max_size=10),
    at=instants,
)
def test_points_at_one_instant_forecast_their_mean(ts, readings, at):
    points = [Point(float(ts), value) for value in readings]
    assert least_squares_at(points, at) == pytest.approx(math.fsum(readings) / len(readings), rel=1e-9, abs=1e-6)


def test_points_at_one_fractional_instant_forecast_their_mean():
    points = [Point(1717986919.3361158, value) for value in (0.0, 0.0, 0.0, 1.0, 0.0)]
    assert least_squares_at(points, 1.6e9) == pytest.approx(0.2)


def test_no_points_forecast_nothing():
    assert least_squares_at([], 0.0) is None
    assert forecast([], end_ts=10.0, now_ts=0.0, window_days=28) is None


def test_least_squares_example():
    # Three readings a day apart rising 2, 3, 5: slope 1.5 a day, mean 10/3 at day 1.
    points = [Point(0.0, 2.0), Point(DAY, 3.0), Point(2 * DAY, 5.0)]
    assert least_squares_at(points, 10 * DAY) == pytest.approx(10 / 3 + 1.5 * 9)


@FAST
@given(
    now=st.integers(min_value=1_700_000_000, max_value=1_800_000_000),
    window_days=st.integers(min_value=1, max_value=90),
    ages=st.lists(st.integers(min_value=0, max_value=200 * DAY), min_size=0, max_size=15, unique=True),
)
def test_forecast_points_take_the_window_or_all(now, window_days, ages):
    points = [Point(float(now - age), float(index)) for index, age in enumerate(ages)]
    recent = [p for p in points if p.ts >= now - window_days * DAY]
    chosen = forecast_points(points, now_ts=now, window_days=window_days)
    assert chosen == (recent if len(recent) >= 3 else points)


def test_forecast_points_window_boundary_is_inclusive():
    now = 1_800_000_000
    edge = Point(float(now - 28 * DAY), 1.0)
    just_out = Point(float(now - 28 * DAY - 1), 2.0)
    inside = [Point(float(now - DAY), 3.0), Point(float(now), 4.0)]
    assert forecast_points([just_out, edge, *inside], now_ts=now, window_days=28) == [edge, *inside]
    # Two inside the window are not enough: then every reading counts.
    assert forecast_points([just_out, *inside], now_ts=now, window_days=28) == [just_out, *inside]


def test_forecast_ignores_old_readings_off_the_line():
    now = 1_800_000_000.0
    on_line = [Point(now - d * DAY, 100.0 - 2.0 * d) for d in (0, 5, 10, 20)]
    off_line = [Point(now - d * DAY, 1e6) for d in (40, 60)]
    end = now + 30 * DAY
    assert forecast(off_line + on_line, end_ts=end, now_ts=now, window_days=28) == pytest.approx(160.0)


# --- weighted mean -----------------------------------------------------------------------------


@FAST
@given(pairs=st.lists(st.tuples(st.none() | st.floats(min_value=-1e6, max_value=1e6), weights), max_size=10))
def test_weighted_mean_lies_between_the_known_values(pairs):
    known = [value for value, _ in pairs if value is not None]
    result = weighted_mean(pairs)
    if not known:
        assert result is None
    else:
        slack = 1e-9 * max(abs(v) for v in known) + 1e-12
        assert min(known) - slack <= result <= max(known) + slack


@FAST
@given(pairs=st.lists(st.tuples(st.floats(min_value=0, max_value=1), weights), min_size=1, max_size=10))
def test_weighted_mean_skips_none(pairs):
    with_gaps = [(None, 5.0), *pairs, (None, 1000.0)]
    assert weighted_mean(with_gaps) == weighted_mean(pairs)


def test_weighted_mean_examples():
    assert weighted_mean([]) is None
    assert weighted_mean([(None, 1.0), (None, 2.0)]) is None
    assert weighted_mean([(0.2, 1.0), (0.8, 3.0)]) == pytest.approx(0.65)
    assert weighted_mean([(0.2, 1.0), (None, 3.0), (0.6, 1.0)]) == pytest.approx(0.4)
