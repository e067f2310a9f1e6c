"""Detection benchmark: how early and how quietly the engine's rules flag trouble.

Simulates goals with one metric read daily over a 90-day window: healthy ones (noise of
sigma = 10 % of the daily pace around a line at or above pace), ones that stall on a random day and
stay flat, and ones that stall for a while and then recover. Each goal is scored *as of* every
day of its window, in memory: the metric's derived values are computed from the readings up to
that instant with the formulas of `goals.formulas` (the trend's odds, and the stall signal of the
last 7 days as the engine loads it), then the scoring of `feedback.scoring`, the rules of
`feedback.rules` and their causal links run on that state. No database.

Figures, for the engine (root corrections) and for linear-pace health alone (`off_track`):
- detection lag: days from a stall (or from a quarter of the window, if the stall came before)
  to the first alarm on the goal or its team;
- false alarms: the share of healthy series with any alarm at any instant;
- Brier score, from a quarter of the window on, of the probability each gives of hitting the
  target against the outcome: `p_hit` for the engine, the `pace` quality (1 on track, falling
  linearly to 0) for linear pace.

    python -m bench.detection --size 300 [--seed 1] [--forecast-window-days 28]
"""

import argparse
import math
import os
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import django
from django.apps import apps

if not apps.ready:  # run as a script: the rules name the models' enums, so load the apps (no database is used)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alignment_service.test_settings")
    os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")
    django.setup()

from feedback import rules, scoring
from feedback.inputs import GoalInputs, MetricInputs, TeamInputs, World
from goals import formulas
from teams.org_settings import DEFAULTS

DAY = 86400.0
WINDOW_DAYS = 90
START_TS = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
BASELINE, TARGET = 0.0, 100.0
PACE = (TARGET - BASELINE) / WINDOW_DAYS  # planned gain a day
NOISE = 0.1 * PACE
QUARTER_DAY = WINDOW_DAYS / 4
HEALTHY, STALL, RECOVER = "healthy", "stall", "recover"


@dataclass(frozen=True)
class Series:
    kind: str
    values: tuple[float, ...]  # the reading of each day 0..WINDOW_DAYS (the last one is the outcome)
    stall_day: int | None

    @property
    def hit(self) -> bool:
        return self.values[-1] >= TARGET


def simulate(rng: random.Random, kind: str) -> Series:
    speed = rng.uniform(1.0, 1.25) if kind == HEALTHY else rng.uniform(1.0, 1.2)
    stall_day = None if kind == HEALTHY else rng.randint(5, 60 if kind == STALL else 50)
    stall_end = WINDOW_DAYS + 1 if kind != RECOVER else (stall_day or 0) + rng.randint(7, 25)
    later_speed = rng.uniform(1.0, 2.0)
    level, values = BASELINE, []
    for day in range(WINDOW_DAYS + 1):
        values.append(level + rng.gauss(0, NOISE))
        if stall_day is None or day < stall_day:
            level += speed * PACE
        elif day >= stall_end:
            level += later_speed * PACE
    return Series(kind, tuple(values), stall_day)


@dataclass
class Trace:
    """What the engine and linear pace said about one series, day by day."""

    series: Series
    engine_alarms: list[int] = field(default_factory=list)
    pace_alarms: list[int] = field(default_factory=list)
    engine_odds: list[float] = field(default_factory=list)
    pace_odds: list[float] = field(default_factory=list)


def as_of(series: Series, day: int, settings: dict[str, Any], previous: dict[Any, float]) -> tuple[World, GoalInputs]:
    """The state of the series' goal as of `day` 12:00, from the readings up to it."""
    now_ts = START_TS + (day + 0.5) * DAY
    end_ts = START_TS + WINDOW_DAYS * DAY
    points = [formulas.Point(START_TS + (d + 0.25) * DAY, v) for d, v in enumerate(series.values[: day + 1])]
    latest = points[-1]
    trend = formulas.forecast_points(points, now_ts=latest.ts, window_days=settings["forecast_window_days"])
    odds = formulas.odds(formulas.line_fit(trend), at_ts=end_ts, baseline=BASELINE, target=TARGET)
    recent_fit = formulas.line_fit(formulas.recent_points(points, now_ts=latest.ts))
    metric = MetricInputs(
        "m", "Metric", BASELINE, TARGET, 1.0, formulas.least_squares_at(trend, end_ts), 7, latest.ts,
        odds.low, odds.high, odds.p_hit, enough_readings=len(points) >= settings["likely_miss_min_readings"],
        stall=formulas.stall(recent_fit, latest_ts=latest.ts, end_ts=end_ts, baseline=BASELINE, target=TARGET),
    )  # fmt: skip
    checkin_ts = START_TS + (day // 7 * 7 + 0.4) * DAY
    goal = GoalInputs(
        id="g", title="Goal", team_id="t", parent_id="p", owner_id=1, weight=1.0,
        progress=formulas.progress(baseline=BASELINE, target=TARGET, current=latest.value),
        window_start_ts=START_TS, window_end_ts=end_ts, hypothesis="", strategy_count=1, latest_confidence=7,
        last_checkin_ts=checkin_ts, metrics=(metric,),
    )  # fmt: skip
    team = TeamInputs("t", "Team", 1, 2, None, checkin_ts)
    world = World(
        settings=settings, now_ts=now_ts, today=datetime.fromtimestamp(now_ts, UTC).date(), goals=[goal],
        teams={"t": team}, scores={}, previous_scores=previous,
    )  # fmt: skip
    points_by_subject = scoring.to_points(
        scoring.goal_qualities(goal, None, settings, now_ts), scoring.weights(settings)
    )
    score = scoring.total(points_by_subject)
    world.scores = {("goal", "g"): score, ("team", "t"): score}
    return world, goal


def trace(series: Series, settings: dict[str, Any]) -> Trace:
    result = Trace(series)
    previous: dict[Any, float] = {}
    for day in range(1, WINDOW_DAYS):
        world, goal = as_of(series, day, settings, previous)
        findings = {f.key: f for f in rules.find_all(world)}
        causes = rules.link_causes(findings, {"g": "t"})
        if any(cause is None for cause in causes.values()):
            result.engine_alarms.append(day)
        if (*goal_key(), "off_track") in findings:
            result.pace_alarms.append(day)
        if day >= QUARTER_DAY:
            p_hit = goal.metrics[0].p_hit
            if p_hit is not None:
                result.engine_odds.append(p_hit)
            result.pace_odds.append(scoring.goal_qualities(goal, None, settings, world.now_ts)["pace"])
        previous = dict(world.scores)
    return result


def goal_key() -> tuple[str, str]:
    return ("goal", "g")


@dataclass(frozen=True)
class Figures:
    lag_median: float
    lag_p90: float
    flagged_within_7: float
    missed_stalls: int
    quiet_healthy: float
    brier: float


def figures(traces: Sequence[Trace], alarms: str, odds: str) -> Figures:
    lags, missed = [], 0
    for t in traces:
        if t.series.kind != STALL or t.series.stall_day is None:
            continue
        reference = max(t.series.stall_day, math.ceil(QUARTER_DAY))
        after = [day for day in getattr(t, alarms) if day >= reference]
        if after:
            lags.append(after[0] - reference)
        else:
            missed += 1
    healthy = [t for t in traces if t.series.kind == HEALTHY]
    quiet = sum(1 for t in healthy if not getattr(t, alarms)) / len(healthy) if healthy else 1.0
    squared = [(p - t.series.hit) ** 2 for t in traces for p in getattr(t, odds)]
    stalls = len(lags) + missed
    return Figures(
        lag_median=statistics.median(lags) if lags else math.inf,
        lag_p90=sorted(lags)[int(0.9 * (len(lags) - 1))] if lags else math.inf,
        flagged_within_7=sum(1 for lag in lags if lag <= 7) / stalls if stalls else 1.0,
        missed_stalls=missed,
        quiet_healthy=quiet,
        brier=sum(squared) / len(squared) if squared else math.nan,
    )


def run(size: int, seed: int = 1, **overrides: Any) -> tuple[Figures, Figures]:
    """(engine, linear pace) over `size` simulated goals: 40 % healthy, 40 % stall, 20 % recover,
    with the default organization settings changed by `overrides`."""
    rng = random.Random(seed)
    kinds = [HEALTHY, STALL, HEALTHY, STALL, RECOVER]
    settings = {**DEFAULTS, **overrides}
    traces = [trace(simulate(rng, kinds[n % len(kinds)]), settings) for n in range(size)]
    return figures(traces, "engine_alarms", "engine_odds"), figures(traces, "pace_alarms", "pace_odds")


def table(engine: Figures, pace: Figures) -> str:
    rows = [
        ("stall detection lag, median (days)", "lag_median", "{:.1f}"),
        ("stall detection lag, 90th percentile (days)", "lag_p90", "{:.1f}"),
        ("stalls flagged within 7 days", "flagged_within_7", "{:.1%}"),
        ("stalls never flagged", "missed_stalls", "{:d}"),
        ("healthy series without any alarm", "quiet_healthy", "{:.1%}"),
        ("Brier score of the odds (lower is better)", "brier", "{:.4f}"),
    ]
    lines = [f"{'':46} {'engine':>10} {'linear pace':>12}"]
    for label, name, fmt in rows:
        lines.append(f"{label:46} {fmt.format(getattr(engine, name)):>10} {fmt.format(getattr(pace, name)):>12}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=300, help="simulated goals (default 300)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--forecast-window-days", type=int, default=DEFAULTS["forecast_window_days"], help="the org setting"
    )
    args = parser.parse_args(argv)
    engine, pace = run(args.size, args.seed, forecast_window_days=args.forecast_window_days)
    print(
        f"{args.size} simulated goals, {WINDOW_DAYS}-day windows, daily readings, seed {args.seed}, "
        f"forecast_window_days {args.forecast_window_days}"
    )
    print(table(engine, pace))


if __name__ == "__main__":
    main()
