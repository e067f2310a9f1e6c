"""Derived values of metrics and goals: every formula in one place (see docs/progress.md).

Pure functions over plain numbers and datetimes. The database-side twins of `expected_progress`,
`health` and `stale` (SQL annotations used by list filters) live in `goals.selectors` and are
tested against these.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ON_TRACK = "on_track"
AT_RISK = "at_risk"
OFF_TRACK = "off_track"
NO_DATA = "no_data"
HEALTH_VALUES = (ON_TRACK, AT_RISK, OFF_TRACK, NO_DATA)
BOUNDARY_EPSILON = 1e-9


def clamp01(value: float) -> float:
    return min(1.0, max(0.0, value))


def window(starts_on: date, due_on: date, tz_name: str) -> tuple[datetime, datetime]:
    """A goal's window in its organization's time zone: [starts_on 00:00, due_on 24:00).

    On the last day of the calendar (9999-12-31, which the API refuses but old rows may hold)
    the window ends at 23:59:59.999999, since the next midnight cannot be represented.
    """
    tz = ZoneInfo(tz_name)
    start = datetime.combine(starts_on, time.min, tzinfo=tz)
    if due_on == date.max:
        return start, datetime.combine(due_on, time.max, tzinfo=tz)
    end = datetime.combine(due_on + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


def window_bounds_ts(starts_on: date, due_on: date, tz_name: str) -> tuple[float, float]:
    start, end = window(starts_on, due_on, tz_name)
    return start.timestamp(), end.timestamp()


def progress(*, baseline: float, target: float, current: float | None) -> float | None:
    """Share of the way from baseline to target, clamped to 0..1.

    The same formula serves decreasing metrics: with target < baseline both the distance
    covered and the distance to cover are negative.
    """
    if current is None:
        return None
    return clamp01((current - baseline) / (target - baseline))


def expected_progress(*, start_ts: float, end_ts: float, now_ts: float) -> float:
    """Share of the window elapsed at `now`, clamped to 0..1."""
    return clamp01((now_ts - start_ts) / (end_ts - start_ts))


def health(*, progress: float | None, expected: float, tolerance: float, at_risk_gap: float) -> str:
    """on_track if gap ≥ -tolerance; at_risk if gap ≥ -at_risk_gap; else off_track.

    Comparisons allow `BOUNDARY_EPSILON`, so a gap of exactly -0.05 in decimal terms is on the
    boundary (on track) despite binary floating point; the database uses the same expression.
    """
    if progress is None:
        return NO_DATA
    gap = progress - expected
    if gap >= -tolerance - BOUNDARY_EPSILON:
        return ON_TRACK
    if gap >= -at_risk_gap - BOUNDARY_EPSILON:
        return AT_RISK
    return OFF_TRACK


def is_stale(*, stale_after_days: int | None, last_reading_ts: float | None, now_ts: float) -> bool | None:
    """None when the metric has no freshness contract; else True without a recent reading."""
    if stale_after_days is None:
        return None
    return last_reading_ts is None or last_reading_ts < now_ts - stale_after_days * 86400


@dataclass(frozen=True)
class Point:
    ts: float
    value: float


def forecast_points(points: Sequence[Point], *, now_ts: float, window_days: int) -> list[Point]:
    """The readings that form the trend: the last `window_days`, or all when fewer than 3."""
    recent = [p for p in points if p.ts >= now_ts - window_days * 86400]
    return recent if len(recent) >= 3 else list(points)


def least_squares_at(points: Sequence[Point], at_ts: float) -> float | None:
    """The least-squares line through `points`, evaluated at `at_ts`.

    One point forecasts itself; points all at one instant forecast their mean.
    """
    n = len(points)
    if n == 0:
        return None
    mean_t = sum(p.ts for p in points) / n
    mean_v = sum(p.value for p in points) / n
    if min(p.ts for p in points) == max(p.ts for p in points):
        return mean_v
    spread = sum((p.ts - mean_t) ** 2 for p in points)
    slope = sum((p.ts - mean_t) * (p.value - mean_v) for p in points) / spread
    return mean_v + slope * (at_ts - mean_t)


def forecast(points: Sequence[Point], *, end_ts: float, now_ts: float, window_days: int) -> float | None:
    """Projected value at the end of `due_on` from the trend of recent readings; None when the
    trend runs out of floating-point range (readings near ±1.7e308 stored before values were
    bounded), rather than a value no column accepts."""
    value = least_squares_at(forecast_points(points, now_ts=now_ts, window_days=window_days), end_ts)
    return value if value is None or math.isfinite(value) else None


def weighted_mean(pairs: Iterable[tuple[float | None, float]]) -> float | None:
    """Weighted mean of (value, weight) pairs, skipping values that are None."""
    known = [(value, weight) for value, weight in pairs if value is not None]
    total = sum(weight for _, weight in known)
    if not known or total <= 0:
        return None
    return sum(value * weight for value, weight in known) / total
