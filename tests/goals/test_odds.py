"""The forecast's odds (`goals.formulas`): Student-t quantiles, the 80 % prediction band and
`p_hit`, checked against known values and against simulated series whose truth is known."""

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goals.formulas import BAND_LEVEL, Point, forecast_odds, line_fit, odds, t_cdf, t_quantile

DAY = 86400.0
JUNE_1 = 1_780_272_000.0  # 2026-06-01 00:00 UTC


@pytest.mark.parametrize(
    ("df", "expected"),
    [(1, 3.077684), (2, 1.885618), (3, 1.637744), (5, 1.475884), (10, 1.372184), (30, 1.310415), (1000, 1.282399)],
)
def test_t_quantiles_match_the_tables(df, expected):
    assert t_quantile(0.9, df) == pytest.approx(expected, abs=1e-6)
    assert t_cdf(expected, df) == pytest.approx(0.9, abs=1e-6)


@settings(max_examples=80, deadline=None)
@given(t=st.floats(min_value=-50, max_value=50), df=st.integers(min_value=1, max_value=500))
def test_t_cdf_is_a_symmetric_distribution_function(t, df):
    p = t_cdf(t, df)
    assert 0 <= p <= 1
    assert p + t_cdf(-t, df) == pytest.approx(1, abs=1e-9)
    assert t_cdf(t + 0.5, df) >= p


def test_the_worked_example_of_the_docs():
    """docs/progress.md: readings 120, 126, 135 a week apart, target 150 at day 30."""
    points = [Point(JUNE_1 + day * DAY, value) for day, value in ((0, 120), (7, 126), (14, 135))]
    result = odds(line_fit(points), at_ts=JUNE_1 + 30 * DAY, baseline=100, target=150)
    assert result.low == pytest.approx(141.86331, abs=1e-4)
    assert result.high == pytest.approx(161.42241, abs=1e-4)
    assert result.p_hit == pytest.approx(0.65189, abs=1e-4)


def test_p_hit_reads_the_direction_from_the_bounds():
    falling = [Point(JUNE_1 + day * DAY, 2.0 - 0.02 * day + 0.01 * (-1) ** day) for day in range(20)]
    fit = line_fit(falling)
    towards_lower = odds(fit, at_ts=JUNE_1 + 60 * DAY, baseline=2.0, target=1.0)
    towards_higher = odds(fit, at_ts=JUNE_1 + 60 * DAY, baseline=1.0, target=1.5)
    assert towards_lower.p_hit == pytest.approx(1.0, abs=1e-6)  # the line reaches 0.8
    assert towards_higher.p_hit == pytest.approx(0.0, abs=1e-6)
    assert towards_lower.low < 0.8 < towards_lower.high


def test_too_few_readings_or_one_instant_give_no_odds():
    two = [Point(JUNE_1, 1.0), Point(JUNE_1 + DAY, 2.0)]
    same_instant = [Point(JUNE_1, value) for value in (1.0, 2.0, 3.0)]
    for points in (two, same_instant):
        assert odds(line_fit(points), at_ts=JUNE_1 + 9 * DAY, baseline=0, target=10).p_hit is None


def test_a_perfect_line_is_certain():
    points = [Point(JUNE_1 + day * DAY, 10.0 + day) for day in range(5)]
    hit = odds(line_fit(points), at_ts=JUNE_1 + 10 * DAY, baseline=0, target=20)
    miss = odds(line_fit(points), at_ts=JUNE_1 + 10 * DAY, baseline=0, target=20.5)
    assert (hit.low, hit.high, hit.p_hit) == (pytest.approx(20), pytest.approx(20), 1.0)
    assert miss.p_hit == 0.0


def test_the_forecast_window_chooses_the_readings():
    """Old readings outside `forecast_window_days` do not widen the band."""
    old = [Point(JUNE_1 - (60 - day) * DAY, 500.0 * (-1) ** day) for day in range(5)]
    recent = [Point(JUNE_1 + day * DAY, 10.0 + day + 0.1 * (-1) ** day) for day in range(10)]
    result = forecast_odds(
        old + recent, end_ts=JUNE_1 + 30 * DAY, now_ts=recent[-1].ts, window_days=28, baseline=0, target=30
    )
    assert result.high - result.low < 2


def simulated_series(rng: random.Random) -> tuple[list[Point], float, float, float]:
    """A straight line plus normal noise, read on random days; and one more reading at the due
    date drawn from the same truth: (readings, due instant, truth's value at due, the noise)."""
    n = rng.randint(3, 30)
    slope, level, noise = rng.uniform(-5, 5), rng.uniform(-100, 100), rng.uniform(0.1, 20)
    days = sorted(rng.sample(range(60), n))
    points = [Point(JUNE_1 + day * DAY, level + slope * day + rng.gauss(0, noise)) for day in days]
    due = rng.randint(60, 120)
    return points, JUNE_1 + due * DAY, level + slope * due + rng.gauss(0, noise), noise


def test_the_band_covers_eighty_percent_of_simulated_outcomes():
    rng = random.Random(20261201)
    trials, covered = 4000, 0
    for _ in range(trials):
        points, due_ts, outcome, _ = simulated_series(rng)
        band = odds(line_fit(points), at_ts=due_ts, baseline=0, target=1)
        covered += band.low <= outcome <= band.high
    assert BAND_LEVEL - 0.03 <= covered / trials <= BAND_LEVEL + 0.03


def test_p_hit_is_calibrated_on_simulated_outcomes():
    """Among series given p_hit in a bin, the share that reach the target matches the bin."""
    rng = random.Random(11)
    bins: dict[int, list[tuple[float, bool]]] = {b: [] for b in range(5)}
    for _ in range(4000):
        points, due_ts, outcome, noise = simulated_series(rng)
        fit = line_fit(points)
        target = fit.at(due_ts) + rng.uniform(-3, 3) * noise
        p = odds(fit, at_ts=due_ts, baseline=target - 1, target=target).p_hit
        bins[min(4, int(p * 5))].append((p, outcome >= target))
    for b, items in bins.items():
        predicted = sum(p for p, _ in items) / len(items)
        observed = sum(hit for _, hit in items) / len(items)
        assert abs(predicted - observed) < 0.05, (b, predicted, observed, len(items))
    brier = sum((p - hit) ** 2 for items in bins.values() for p, hit in items) / 4000
    assert brier < 0.2  # a constant 0.5 would score 0.25
    assert math.isfinite(brier)
