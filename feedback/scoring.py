"""Explainable alignment scores (see docs/scoring.md): pure functions over loaded inputs.

Each component is a quality between 0 and 1; its weight (the organization's `weight_*`
settings, normalised to 100 points) turns it into points, and the points add up to the score.
Unknown inputs (no readings, no check-in, no assessment) count as a neutral 0.5; only
freshness counts missing data against the goal.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from feedback.inputs import AssessmentInputs, GoalInputs, MetricInputs
from goals import formulas
from teams.org_settings import SCORE_COMPONENTS

COMPONENTS = SCORE_COMPONENTS
NEUTRAL = 0.5
DAY = 86400.0


def forecast_share(metric: MetricInputs) -> float | None:
    """How far the forecast gets from baseline to target (unclamped; 1 = reaches the target)."""
    if metric.forecast is None:
        return None
    return (metric.forecast - metric.baseline) / (metric.target - metric.baseline)


def elapsed_share(goal: GoalInputs, now_ts: float) -> float:
    return formulas.expected_progress(start_ts=goal.window_start_ts, end_ts=goal.window_end_ts, now_ts=now_ts)


def goal_qualities(
    goal: GoalInputs, assessment: AssessmentInputs | None, settings: Mapping[str, Any], now_ts: float
) -> dict[str, float]:
    """Each component's quality (0..1) for one active goal."""
    return {
        "linkage": _linkage(goal),
        "pace": _pace(goal, settings, now_ts),
        "forecast": _forecast(goal),
        "confidence": NEUTRAL if goal.latest_confidence is None else goal.latest_confidence / 10,
        "assessment": NEUTRAL if assessment is None else (assessment.alignment + assessment.confidence - 2) / 8,
        "feedback": 1 / (1 + goal.open_concerns + goal.open_challenges),
        "freshness": _freshness(goal, settings, now_ts),
    }


def _linkage(goal: GoalInputs) -> float:
    """Half for a place in the cascade (a parent, or being a company goal), half for a pillar."""
    in_cascade = goal.team_id is None or goal.parent_id is not None
    return 0.5 * in_cascade + 0.5 * (goal.strategy_count > 0)


def _pace(goal: GoalInputs, settings: Mapping[str, Any], now_ts: float) -> float:
    """1 while on track; falls linearly to 0 when behind pace by twice `at_risk_gap` more."""
    if goal.progress is None:
        return NEUTRAL
    gap = goal.progress - elapsed_share(goal, now_ts)
    shortfall = max(0.0, -(gap + settings["health_tolerance"]))
    return formulas.clamp01(1 - shortfall / (2 * settings["at_risk_gap"]))


def _forecast(goal: GoalInputs) -> float:
    """Weighted share of the way to target that the metrics' forecasts reach, clamped."""
    shares = [(forecast_share(m), m.weight) for m in goal.metrics]
    mean = formulas.weighted_mean((None if s is None else formulas.clamp01(s), w) for s, w in shares)
    return NEUTRAL if mean is None else mean


def _freshness(goal: GoalInputs, settings: Mapping[str, Any], now_ts: float) -> float:
    """Half for metrics with recent data, half for a check-in within the expected interval."""
    if goal.metrics:
        fresh = [
            m.last_reading_ts is not None
            and not formulas.is_stale(
                stale_after_days=m.stale_after_days, last_reading_ts=m.last_reading_ts, now_ts=now_ts
            )
            for m in goal.metrics
        ]
        data = sum(fresh) / len(fresh)
    else:
        data = NEUTRAL
    interval = settings["checkin_interval_days"] * DAY
    since = now_ts - max(goal.window_start_ts, goal.last_checkin_ts or goal.window_start_ts)
    checkins = formulas.clamp01(2 - max(since, 0.0) / interval)
    return 0.5 * data + 0.5 * checkins


def weights(settings: Mapping[str, Any]) -> dict[str, float]:
    """Each component's share of 100 points."""
    raw = {name: float(settings[f"weight_{name}"]) for name in COMPONENTS}
    total = sum(raw.values())
    return {name: 100 * value / total for name, value in raw.items()}


def to_points(qualities: Mapping[str, float], component_weights: Mapping[str, float]) -> dict[str, float]:
    return rounded({name: component_weights[name] * qualities[name] for name in COMPONENTS})


def rounded(exact: Mapping[str, float]) -> dict[str, float]:
    """Components to two decimals whose sum is the exact total to two decimals: the rounding
    difference goes to the largest component, so seven shares of a perfect 100 still add to 100."""
    points = {name: round(exact[name], 2) for name in COMPONENTS}
    difference = round(round(sum(exact.values()), 2) - sum(points.values()), 2)
    if difference:
        largest = max(COMPONENTS, key=lambda name: (exact[name], name))
        points[largest] = round(points[largest] + difference, 2)
    return points


def total(points: Mapping[str, float]) -> float:
    """The score: the sum of its components (each already rounded to two decimals)."""
    return round(sum(points.values()), 2)


def weighted_points(items: Iterable[tuple[Mapping[str, float], float]]) -> dict[str, float] | None:
    """Component-wise weighted mean of several subjects' points (a team's or the org's)."""
    items = list(items)
    weight_sum = sum(weight for _, weight in items)
    if not items or weight_sum <= 0:
        return None
    return rounded({name: sum(points[name] * weight for points, weight in items) / weight_sum for name in COMPONENTS})
