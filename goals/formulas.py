"""Derived values of metrics and goals: every formula in one place (see docs/progress.md).

Pure functions over plain numbers and datetimes, and the rules of the goals' roll-up. The
stored values they give are read and written by `goals.derived`. The database-side twins of `expected_progress`,
`health` and `stale` (SQL annotations used by list filters) live in `goals.selectors` and are
tested against these.
"""

import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from goals.models import GoalStatus

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


#: Goals that a parent's roll-up leaves out: not yet live, or dropped.
ROLLUP_EXCLUDED = (GoalStatus.DRAFT, GoalStatus.CANCELLED)
#: In a parent's `p_hit`, an ended goal counts by its outcome, not by its forecast.
KNOWN_OUTCOME: dict[str, float] = {GoalStatus.ACHIEVED: 1.0, GoalStatus.MISSED: 0.0}


def weighted_mean(pairs: Iterable[tuple[float | None, float]]) -> float | None:
    """Weighted mean of (value, weight) pairs, skipping values that are None."""
    known = [(value, weight) for value, weight in pairs if value is not None]
    total = sum(weight for _, weight in known)
    if not known or total <= 0:
        return None
    return sum(value * weight for value, weight in known) / total


# --- Odds: the prediction band and the probability of hitting the target ----------------------

BAND_LEVEL = 0.8


@dataclass(frozen=True)
class LineFit:
    """A least-squares line with the spread of the readings around it."""

    n: int
    mean_ts: float
    mean_value: float
    slope: float
    sxx: float
    residual_sd: float

    def at(self, ts: float) -> float:
        return self.mean_value + self.slope * (ts - self.mean_ts)

    def prediction_sd(self, ts: float) -> float:
        """Standard error of one new reading at `ts`: s·√(1 + 1/n + (t - t̄)²/Sxx)."""
        return self.residual_sd * math.sqrt(1 + 1 / self.n + (ts - self.mean_ts) ** 2 / self.sxx)


def line_fit(points: Sequence[Point]) -> LineFit | None:
    """The fit, or None with fewer than 3 readings or all at one instant (no spread to learn)."""
    n = len(points)
    if n < 3:
        return None
    mean_ts = sum(p.ts for p in points) / n
    mean_value = sum(p.value for p in points) / n
    sxx = sum((p.ts - mean_ts) ** 2 for p in points)
    if sxx <= 0:
        return None
    slope = sum((p.ts - mean_ts) * (p.value - mean_value) for p in points) / sxx
    squared = sum((p.value - mean_value - slope * (p.ts - mean_ts)) ** 2 for p in points)
    return LineFit(n, mean_ts, mean_value, slope, sxx, math.sqrt(squared / (n - 2)))


@dataclass(frozen=True)
class Odds:
    low: float | None
    high: float | None
    p_hit: float | None


NO_ODDS = Odds(None, None, None)


def odds(fit: LineFit | None, *, at_ts: float, baseline: float, target: float) -> Odds:
    """The 80 % prediction band of the value at `at_ts`, and the probability that it is on the
    target's side of the target (at or above it when target > baseline, at or below otherwise).

    Student's t with n - 2 degrees of freedom: exact when readings scatter normally around a
    straight line.
    """
    if fit is None:
        return NO_ODDS
    center, sd = fit.at(at_ts), fit.prediction_sd(at_ts)
    df = fit.n - 2
    half = t_quantile(0.5 + BAND_LEVEL / 2, df) * sd
    shortfall = (target - center) if target > baseline else (center - target)
    p_hit = (1.0 if shortfall <= 0 else 0.0) if sd == 0 else 1 - t_cdf(shortfall / sd, df)
    return Odds(_finite_or_none(center - half), _finite_or_none(center + half), clamp01(p_hit))


def forecast_odds(
    points: Sequence[Point], *, end_ts: float, now_ts: float, window_days: int, baseline: float, target: float
) -> Odds:
    """`odds` for the readings that form the forecast's trend (see `forecast_points`)."""
    trend = forecast_points(points, now_ts=now_ts, window_days=window_days)
    return trend_outlook(trend, end_ts=end_ts, baseline=baseline, target=target)[1]


def trend_outlook(
    trend: Sequence[Point], *, end_ts: float, baseline: float, target: float
) -> tuple[float | None, Odds]:
    """The forecast at `end_ts` and its odds from the readings of the trend; none of them when
    the readings run out of floating-point range (values near ±1.7e308 stored before readings
    were bounded), rather than values no column accepts."""
    try:
        stats = trend_stats(trend)
    except (OverflowError, ZeroDivisionError, ValueError):
        return None, NO_ODDS
    return stats_outlook(stats, end_ts=end_ts, baseline=baseline, target=target)


@dataclass(frozen=True)
class TrendStats:
    """The sums a trend's forecast and odds are made of. The database computes them too
    (`goals.derived`), so a batch's thousands of readings never travel to Python.

    Times and values are offsets from the latest reading (the origin): readings microseconds
    apart, or values near 1e15 that differ in their last digits, keep their differences
    exactly, where sums of raw epoch seconds or raw values would round them away.
    """

    origin_ts: float
    origin_value: float
    n: int
    mean_dt: float
    mean_dv: float
    #: All readings at one instant: the forecast is their mean, and there are no odds.
    flat: bool
    #: Σ(dt - mean)², Σ(dt - mean)(dv - mean) and, with 3 readings or more and sxx > 0, the
    #: residual sum of squares around the line.
    sxx: float
    sxy: float
    residual_ss: float | None


def trend_stats(points: Sequence[Point]) -> TrendStats | None:
    """The sums of `points`, None without any."""
    n = len(points)
    if n == 0:
        return None
    origin = max(points, key=lambda p: p.ts)
    offsets = [(p.ts - origin.ts, p.value - origin.value) for p in points]
    mean_dt = sum(dt for dt, _ in offsets) / n
    mean_dv = sum(dv for _, dv in offsets) / n
    flat = min(p.ts for p in points) == origin.ts
    sxx = sum((dt - mean_dt) ** 2 for dt, _ in offsets)
    sxy = sum((dt - mean_dt) * (dv - mean_dv) for dt, dv in offsets)
    residual_ss = None
    if n >= 3 and sxx > 0:
        slope = sxy / sxx
        residual_ss = sum((dv - mean_dv - slope * (dt - mean_dt)) ** 2 for dt, dv in offsets)
    return TrendStats(origin.ts, origin.value, n, mean_dt, mean_dv, flat, sxx, sxy, residual_ss)


def stats_outlook(
    stats: TrendStats | None, *, end_ts: float, baseline: float, target: float
) -> tuple[float | None, Odds]:
    """`trend_outlook` from the sums of the trend's readings: the least-squares line at `end_ts`
    (one reading forecasts itself, readings at one instant their mean) and its `odds`."""
    if stats is None:
        return None, NO_ODDS
    try:
        mean_ts, mean_value = stats.origin_ts + stats.mean_dt, stats.origin_value + stats.mean_dv
        if not all(map(math.isfinite, (mean_ts, mean_value, stats.sxx, stats.sxy, stats.residual_ss or 0.0))):
            return None, NO_ODDS
        forecast = mean_value if stats.flat else mean_value + stats.sxy / stats.sxx * (end_ts - mean_ts)
        fit = None
        if stats.residual_ss is not None:
            residual_sd = math.sqrt(max(stats.residual_ss, 0.0) / (stats.n - 2))
            fit = LineFit(stats.n, mean_ts, mean_value, stats.sxy / stats.sxx, stats.sxx, residual_sd)
        result = odds(fit, at_ts=end_ts, baseline=baseline, target=target)
    except (OverflowError, ZeroDivisionError, ValueError):
        return None, NO_ODDS
    if result.p_hit is not None and not math.isfinite(result.p_hit):
        result = NO_ODDS
    return _finite_or_none(forecast), result


# --- The stall signal: the recent readings' own line, when it falls short of the pace needed ----

STALL_WINDOW_DAYS = 7
STALL_LEVEL = 0.999


@dataclass(frozen=True)
class Stall:
    """What the recent readings alone say, when their slope is significantly below the pace
    still needed to reach the target by the end of the window."""

    forecast: float
    p_hit: float
    recent_slope: float  # a day
    needed_slope: float  # a day


def recent_points(points: Sequence[Point], *, now_ts: float) -> list[Point]:
    """The readings of the last `STALL_WINDOW_DAYS` up to `now_ts` (no fallback to older ones)."""
    return [p for p in points if p.ts >= now_ts - STALL_WINDOW_DAYS * 86400]


def fit_from_moments(
    n: int, mean_dx: float, mean_dy: float, sxx: float, sxy: float, syy: float, *, origin_ts: float, origin_value: float
) -> LineFit | None:
    """`line_fit` from the means of dx = ts - origin_ts and dy = value - origin_value and their
    centred sums of squares and products (what PostgreSQL's `avg` and `regr_sxx`, `regr_sxy`,
    `regr_syy` return), or None as `line_fit` would be."""
    if n < 3 or not sxx > 0:
        return None
    slope = sxy / sxx
    squared = max(0.0, syy - slope * sxy)
    return _finite(LineFit(n, origin_ts + mean_dx, origin_value + mean_dy, slope, sxx, math.sqrt(squared / (n - 2))))


def recent_line(points: Sequence[Point]) -> LineFit | None:
    """The line of the readings of the last `STALL_WINDOW_DAYS` up to the latest of `points`
    (in time order), as each metric stores it; None where `line_fit` gives none or overflows.

    Fitted with time and value measured from the latest reading, as the database sums them:
    epoch seconds hold a quarter of a microsecond, too coarse for readings close together."""
    if not points:
        return None
    origin = points[-1]
    recent = recent_points(points, now_ts=origin.ts)
    try:
        fit = line_fit([Point(p.ts - origin.ts, p.value - origin.value) for p in recent])
    except OverflowError:
        return None
    if fit is None:
        return None
    return _finite(replace(fit, mean_ts=fit.mean_ts + origin.ts, mean_value=fit.mean_value + origin.value))


def _finite(fit: LineFit | None) -> LineFit | None:
    if fit is None or not all(map(math.isfinite, (fit.mean_ts, fit.mean_value, fit.slope, fit.sxx, fit.residual_sd))):
        return None
    return fit


def stall(recent: LineFit | None, *, latest_ts: float, end_ts: float, baseline: float, target: float) -> Stall | None:
    """The recent line's forecast and odds at `end_ts` when its slope is below the pace needed
    from its level at the latest reading to the target by `end_ts`, by more than
    `t(STALL_LEVEL, n - 2)` standard errors of the slope (s / sqrt(Sxx)); else None.

    "Below" is towards the baseline, so a decreasing metric stalls when it stops falling.
    """
    if recent is None or end_ts <= latest_ts:
        return None
    sign = 1.0 if target > baseline else -1.0
    needed = (target - recent.at(latest_ts)) / (end_ts - latest_ts)
    shortfall = sign * (needed - recent.slope)
    if shortfall <= t_quantile(STALL_LEVEL, recent.n - 2) * recent.residual_sd / math.sqrt(recent.sxx):
        return None
    forecast, outlook = _fit_outlook(recent, end_ts=end_ts, baseline=baseline, target=target)
    if forecast is None or outlook.p_hit is None:
        return None
    return Stall(forecast, outlook.p_hit, recent.slope * 86400, needed * 86400)


def _fit_outlook(fit: LineFit, *, end_ts: float, baseline: float, target: float) -> tuple[float | None, Odds]:
    try:
        result = odds(fit, at_ts=end_ts, baseline=baseline, target=target)
        forecast = _finite_or_none(fit.at(end_ts))
    except (OverflowError, ZeroDivisionError, ValueError):
        return None, NO_ODDS
    return forecast, result if result.p_hit is not None and math.isfinite(result.p_hit) else NO_ODDS


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) and abs(value) <= sys.float_info.max else None


def t_cdf(t: float, df: int) -> float:
    """P(T ≤ t) for Student's t with `df` degrees of freedom, through the regularised
    incomplete beta function: P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2)."""
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * _incomplete_beta(df / 2, 0.5, df / (df + t * t))
    return 1 - tail if t > 0 else tail


@lru_cache(maxsize=256)
def t_quantile(p: float, df: int) -> float:
    """The t with P(T ≤ t) = p (0.5 < p < 1), by bisection on `t_cdf`."""
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, high * 2
    for _ in range(100):
        middle = (low + high) / 2
        if t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), by its continued fraction (modified Lentz), using the symmetry
    I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x > (a + 1) / (a + b + 2):
        return 1 - _incomplete_beta(b, a, 1 - x)
    return math.exp(log_front) * _beta_fraction(a, b, x) / a


def _beta_fraction(a: float, b: float, x: float) -> float:
    tiny, c, d = 1e-300, 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return result
