"""Stored derived values: the goal and metric windows, each metric's current value, progress,
forecast and odds, and each goal's rolled-up progress and odds.

The formulas are `goals.formulas`; this module reads what they need from the database and
writes what they give back, inside the caller's transaction (writers hold the organization's
`derived_values` lock, see `goals.services.common.writes_derived_values`).
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from alignment_service.db import bulk_update_rows, bulk_update_values
from goals import formulas
from goals.formulas import KNOWN_OUTCOME, ROLLUP_EXCLUDED
from goals.models import RECENT_LINE_FIELDS, Goal, Metric, MetricRole, Reading
from teams.models import Organization


def set_goal_window(goal: Goal, org: Organization) -> None:
    goal.window_start_ts, goal.window_end_ts = formulas.window_bounds_ts(goal.starts_on, goal.due_on, org.timezone)


def metric_window(metric: Metric, org: Organization) -> tuple[float, float]:
    goal = metric.goal
    return formulas.window_bounds_ts(metric.starts_on or goal.starts_on, metric.due_on or goal.due_on, org.timezone)


def refresh_metric_windows(org: Organization, metrics: Iterable[Metric]) -> None:
    changed = []
    for metric in metrics:
        metric.window_start_ts, metric.window_end_ts = metric_window(metric, org)
        changed.append(metric)
    bulk_update_values(changed, ["window_start_ts", "window_end_ts"])


METRIC_DERIVED_FIELDS = (
    "current", "last_reading_at", "last_reading_ts", "progress", "forecast", "forecast_low", "forecast_high", "p_hit",
    "reading_count", *RECENT_LINE_FIELDS,
)  # fmt: skip


def metrics_refresh(*, org: Organization, metric_ids: Iterable[Any], added: Mapping[Any, int] | None = None) -> None:
    """Recompute current value, last reading, progress, forecast and its odds, reading count
    and recent line of the given metrics. `added`: the readings each of them gained since its
    last refresh, where the caller knows (their count moves by that rather than being taken
    again)."""
    metric_ids = set(metric_ids)
    window_days = org.effective_settings["forecast_window_days"]
    if connection.vendor == "postgresql":
        metric_ids = _metrics_refresh_sql(org, metric_ids, window_days, added or {})
    if metric_ids:
        _metrics_refresh_python(org, metric_ids, window_days)


def _metrics_refresh_python(org: Organization, metric_ids: set[Any], window_days: int) -> None:
    latest = Reading.objects.filter(metric=OuterRef("pk")).order_by("-observed_at")
    count = Reading.objects.filter(metric=OuterRef("pk")).order_by().values("metric").annotate(n=Count("*"))
    metrics = list(
        Metric.objects.filter(organization=org, id__in=metric_ids).annotate(
            latest_value=Subquery(latest.values("value")[:1]),
            latest_at=Subquery(latest.values("observed_at")[:1]),
            counted=Coalesce(Subquery(count.values("n")), 0),
        )
    )
    points = _forecast_points(org, metrics, window_days)
    recent = _recent_points(org, metrics)
    for metric in metrics:
        latest_at = metric.latest_at
        metric.current = metric.latest_value
        metric.last_reading_at = latest_at
        metric.last_reading_ts = latest_at.timestamp() if latest_at else None
        metric.reading_count = metric.counted
        metric.progress = formulas.progress(baseline=metric.baseline, target=metric.target, current=metric.current)
        metric.forecast, odds = None, formulas.NO_ODDS
        if metric.last_reading_ts is not None:
            trend = formulas.forecast_points(points[metric.id], now_ts=metric.last_reading_ts, window_days=window_days)
            metric.forecast, odds = formulas.trend_outlook(
                trend, end_ts=metric.window_end_ts, baseline=metric.baseline, target=metric.target
            )
        metric.forecast_low, metric.forecast_high, metric.p_hit = odds.low, odds.high, odds.p_hit
        _set_recent_line(metric, formulas.recent_line(recent.get(metric.id, [])))
    bulk_update_values(metrics, [*METRIC_DERIVED_FIELDS])


def _set_recent_line(metric: Metric, line: formulas.LineFit | None) -> None:
    values = _line_values(line)
    for name, value in zip(RECENT_LINE_FIELDS, values, strict=True):
        setattr(metric, name, value)


def _line_values(line: formulas.LineFit | None) -> tuple[Any, ...]:
    """The values of `RECENT_LINE_FIELDS` for `line`."""
    if line is None:
        return (None,) * len(RECENT_LINE_FIELDS)
    return (line.n, line.mean_ts, line.mean_value, line.slope, line.sxx, line.residual_sd)


#: Beyond this magnitude the sums of squares could leave floating-point range, which PostgreSQL
#: answers with an error, not infinity: such metrics (readings stored before values were
#: bounded) are left to the Python path, whose formulas give up on them gracefully.
SQL_SAFE_MAGNITUDE = 1e100

#: The sums of `formulas.TrendStats` over one metric's readings (`l`: its latest reading).
#: Values beyond `SQL_SAFE_MAGNITUDE` mark the metric `extreme` and are left out of the sums.
_TREND_SUMS = """
    SELECT bool_or(abs(r.value) > %(safe)s OR abs(l.origin_value) > %(safe)s) AS extreme, count(*) AS n,
           avg(x.dt) AS mean_dt, avg(x.dv) AS mean_dv, min(x.ts) = max(x.ts) AS flat,
           regr_sxx(x.dv, x.dt) AS sxx, regr_sxy(x.dv, x.dt) AS sxy, regr_syy(x.dv, x.dt) AS syy
    FROM goals_reading r CROSS JOIN LATERAL (
        SELECT date_part('epoch', r.observed_at) AS ts, date_part('epoch', r.observed_at) - l.origin_ts AS dt,
               CASE WHEN abs(r.value) <= %(safe)s AND abs(l.origin_value) <= %(safe)s
                    THEN r.value - l.origin_value END AS dv
    ) x
    WHERE r.metric_id = l.id"""

#: The readings of the `seconds` up to the latest one (the bound on `observed_at` lets the
#: index find them; the one on epoch seconds decides, as Python's formulas do).
_SINCE = """
        AND r.observed_at >= l.observed_at - make_interval(secs => %({seconds})s + 1)
        AND x.ts >= l.origin_ts - %({seconds})s"""

#: Each touched metric's latest reading, the sums of its trend (the readings of the window
#: ending at the latest one, `w`, or all of them, `a`, when fewer than 3 fall in it) and of its
#: recent line (`recent`), and its number of readings where it is not known (`recount`). Each
#: step reads one metric's range of the (metric, observed_at) index, once per metric whatever
#: the planner estimates (a join of two CTEs became a nested loop over both when the statistics
#: lagged behind a new organization's metrics). Epoch seconds come from `date_part`, correctly
#: rounded like Python's `datetime.timestamp()`.
METRIC_TRENDS_SQL = f"""
WITH latest AS (
    SELECT m.id, m.baseline, m.target, m.window_end_ts, m.reading_count, l.observed_at, l.value AS origin_value,
           date_part('epoch', l.observed_at) AS origin_ts
    FROM goals_metric m LEFT JOIN LATERAL (
        SELECT observed_at, value FROM goals_reading r WHERE r.metric_id = m.id ORDER BY observed_at DESC LIMIT 1
    ) l ON true
    WHERE m.organization_id = %(org)s AND m.id = ANY(%(ids)s)
)
SELECT l.id, l.baseline, l.target, l.window_end_ts, l.observed_at, coalesce(s.extreme, false),
       CASE WHEN l.id = ANY(%(recount)s) THEN (SELECT count(*) FROM goals_reading c WHERE c.metric_id = l.id)
            ELSE l.reading_count END,
       l.origin_ts, l.origin_value, s.n, s.mean_dt, s.mean_dv, s.flat, s.sxx, s.sxy, s.syy,
       s.recent_n, s.recent_dt, s.recent_dv, s.recent_sxx, s.recent_sxy, s.recent_syy
FROM latest l LEFT JOIN LATERAL (
    SELECT CASE WHEN w.n >= 3 THEN w.extreme ELSE a.extreme END OR recent.extreme AS extreme,
           CASE WHEN w.n >= 3 THEN w.n ELSE a.n END AS n,
           CASE WHEN w.n >= 3 THEN w.mean_dt ELSE a.mean_dt END AS mean_dt,
           CASE WHEN w.n >= 3 THEN w.mean_dv ELSE a.mean_dv END AS mean_dv,
           CASE WHEN w.n >= 3 THEN w.flat ELSE a.flat END AS flat,
           CASE WHEN w.n >= 3 THEN w.sxx ELSE a.sxx END AS sxx,
           CASE WHEN w.n >= 3 THEN w.sxy ELSE a.sxy END AS sxy,
           CASE WHEN w.n >= 3 THEN w.syy ELSE a.syy END AS syy,
           recent.n AS recent_n, recent.mean_dt AS recent_dt, recent.mean_dv AS recent_dv,
           recent.sxx AS recent_sxx, recent.sxy AS recent_sxy, recent.syy AS recent_syy
    FROM ({_TREND_SUMS}{_SINCE.format(seconds="window")}) w
    LEFT JOIN LATERAL ({_TREND_SUMS} AND w.n < 3) a ON true
    CROSS JOIN LATERAL ({_TREND_SUMS}{_SINCE.format(seconds="recent")}) recent
    WHERE l.observed_at IS NOT NULL
) s ON true
"""  # noqa: S608 (built from constants; every value is a parameter)


def _residual_ss(n: int, sxx: float, sxy: float, syy: float) -> float | None:
    """Σ of squared residuals from the sums, Syy - Sxy²/Sxx (never below 0), where Python's
    `trend_stats` sums them in a second pass: one read of the readings instead of two."""
    return max(syy - sxy * sxy / sxx, 0.0) if n >= 3 and sxx > 0 else None


def _metrics_refresh_sql(
    org: Organization, metric_ids: set[Any], window_days: int, added: Mapping[Any, int]
) -> set[Any]:
    """The refresh in two statements whatever the number of metrics and readings: their trends'
    sums computed by the database, then the values written. Returns the metrics left over."""
    params: dict[str, Any] = {
        "org": org.pk, "ids": list(metric_ids), "window": window_days * 86400, "safe": SQL_SAFE_MAGNITUDE,
        "recent": formulas.STALL_WINDOW_DAYS * 86400, "recount": [pk for pk in metric_ids if pk not in added],
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(METRIC_TRENDS_SQL, params)
        found = cursor.fetchall()
    rows, extreme = [], set()
    for metric_id, baseline, target, end_ts, latest_at, too_large, count, origin_ts, current, *sums in found:
        if too_large:
            extreme.add(metric_id)
            continue
        stats, recent = None, None
        if latest_at is not None:
            n, mean_dt, mean_dv, flat, sxx, sxy, syy, *recent_sums = sums
            residual_ss = _residual_ss(n, sxx, sxy, syy)
            stats = formulas.TrendStats(origin_ts, current, n, mean_dt, mean_dv, flat, sxx, sxy, residual_ss)
            recent = formulas.fit_from_moments(*recent_sums, origin_ts=origin_ts, origin_value=current)
        forecast, odds = formulas.stats_outlook(stats, end_ts=end_ts, baseline=baseline, target=target)
        rows.append((
            metric_id, current, latest_at, latest_at.timestamp() if latest_at else None,
            formulas.progress(baseline=baseline, target=target, current=current),
            forecast, odds.low, odds.high, odds.p_hit, count + added.get(metric_id, 0),
            *_line_values(recent),
        ))  # fmt: skip
    bulk_update_rows(Metric, METRIC_DERIVED_FIELDS, rows)
    return extreme


def _recent_points(org: Organization, metrics: list[Any]) -> dict[Any, list[formulas.Point]]:
    """The readings of each metric's recent line, and maybe a few before them."""
    latest = [metric.latest_at for metric in metrics if metric.latest_at is not None]
    if not latest:
        return {}
    readings = Reading.objects.filter(organization=org, metric_id__in=[metric.id for metric in metrics])
    window = timedelta(days=formulas.STALL_WINDOW_DAYS, seconds=1)
    if min(latest) - datetime.min.replace(tzinfo=UTC) > window:
        readings = readings.filter(observed_at__gte=min(latest) - window)
    return _points(readings.order_by("metric_id", "observed_at"))


def _forecast_points(org: Organization, metrics: list[Any], window_days: int) -> dict[Any, list[formulas.Point]]:
    """Readings that form each metric's trend: the window ending at its latest reading, or all
    of its readings when fewer than 3 fall in that window.

    Metrics are grouped by the day their window starts, so a batch that touched thousands of
    metrics read on the same days needs a handful of conditions, not one per metric.
    """
    by_cutoff: dict[date, list[Any]] = defaultdict(list)
    for metric in metrics:
        latest = metric.latest_at
        if latest is not None:
            by_cutoff[_window_start_day(latest, window_days)].append(metric.id)
    points: dict[Any, list[formulas.Point]] = defaultdict(list)
    groups = sorted(by_cutoff.items())
    for chunk in range(0, len(groups), 100):
        condition = Q()
        for cutoff, ids in groups[chunk : chunk + 100]:
            condition |= Q(metric_id__in=ids, observed_at__gte=datetime.combine(cutoff, time.min, tzinfo=UTC))
        points.update(_points(Reading.objects.filter(condition, organization=org)))
    latest_by_metric = {m.id: m.latest_at for m in metrics}
    for metric_id, metric_points in points.items():
        latest = latest_by_metric[metric_id]
        assert latest is not None
        floor = latest.timestamp() - window_days * 86400
        points[metric_id] = [p for p in metric_points if p.ts >= floor]
    sparse = [metric.id for metric in metrics if len(points.get(metric.id, ())) < 3]
    if sparse:
        points.update(_points(Reading.objects.filter(organization=org, metric_id__in=sparse)))
    return points


def _window_start_day(latest: datetime, window_days: int) -> date:
    day = latest.astimezone(UTC).date()
    return day - timedelta(days=window_days) if day > date.min + timedelta(days=window_days) else date.min


def _points(readings: Any) -> dict[Any, list[formulas.Point]]:
    points: dict[Any, list[formulas.Point]] = defaultdict(list)
    for metric_id, observed_at, value in readings.values_list("metric_id", "observed_at", "value").iterator(
        chunk_size=5000
    ):
        points[metric_id].append(formulas.Point(observed_at.timestamp(), value))
    return points


def goals_refresh_progress(*, org: Organization, goal_ids: Iterable[Any] | None = None) -> int:
    """Recompute stored goal progress and `p_hit`; write only what changed.

    A goal with metrics averages its metrics' values by weight (metrics without one are left
    out); a goal without metrics averages its children's by their weight, draft and cancelled
    children left out (for `p_hit`, an achieved child counts 1 and a missed one 0: its outcome
    is known). With `goal_ids` (the goals whose metrics changed), only they and their ancestors
    are recomputed, from their siblings' stored values; without, all.
    """
    columns = ("id", "parent_id", "weight", "status", *ROLLUP_FIELDS)
    goals = {row[0]: _RollupGoal(*row) for row in Goal.objects.filter(organization=org).values_list(*columns)}
    scope = set(goals) if goal_ids is None else _with_ancestors(goals, goal_ids)
    metrics_by_goal: dict[Any, list[tuple[float | None, float | None, float]]] = defaultdict(list)
    metric_rows = Metric.objects.filter(organization=org, role=MetricRole.KEY_RESULT)
    if goal_ids is not None:
        metric_rows = metric_rows.filter(goal_id__in=scope)
    for goal_id, *values in metric_rows.values_list("goal_id", "progress", "p_hit", "weight"):
        metrics_by_goal[goal_id].append(tuple(values))  # type: ignore[arg-type]
    children: dict[Any, list[_RollupGoal]] = defaultdict(list)
    for goal in goals.values():
        children[goal.parent_id].append(goal)
    changed: dict[Any, _RollupGoal] = {}
    for index, field in enumerate(ROLLUP_FIELDS):
        rolled = _roll_up(goals, scope, children, metrics_by_goal, field, index)
        for goal_id, value in rolled.items():
            if value != getattr(goals[goal_id], field):
                setattr(goals[goal_id], field, value)
                changed[goal_id] = goals[goal_id]
    key = Goal._meta.pk
    assert key is not None
    rows = [(key.get_db_prep_save(goal.id, connection), goal.progress, goal.p_hit) for goal in changed.values()]
    bulk_update_rows(Goal, ROLLUP_FIELDS, rows)
    return len(changed)


@dataclass(slots=True)
class _RollupGoal:
    """What a roll-up reads of a goal, loaded as a row: a model instance per goal of the
    organization cost 3 times the query (15 against 5 ms for 2,000 goals)."""

    id: Any
    parent_id: Any
    weight: float
    status: str
    progress: float | None
    p_hit: float | None


ROLLUP_FIELDS = ("progress", "p_hit")


def _roll_up(
    goals: dict[Any, _RollupGoal],
    scope: set[Any],
    children: dict[Any, list[_RollupGoal]],
    metrics_by_goal: dict[Any, list[tuple[float | None, float | None, float]]],
    field: str,
    index: int,
) -> dict[Any, float | None]:
    computed: dict[Any, float | None] = {}

    def value_of(goal: _RollupGoal) -> float | None:
        return computed.get(goal.id, getattr(goal, field)) if goal.id in scope else getattr(goal, field)

    def as_child(goal: _RollupGoal) -> float | None:
        if field == "p_hit" and goal.status in KNOWN_OUTCOME:
            return KNOWN_OUTCOME[goal.status]
        return value_of(goal)

    def compute(root: _RollupGoal) -> None:
        """Post-order over the subtree of `root`, without recursion: chains may be deep."""
        pending: list[tuple[_RollupGoal, list[_RollupGoal] | None]] = [(root, None)]
        on_path: set[Any] = set()
        while pending:
            goal, kids = pending.pop()
            if kids is not None:
                on_path.discard(goal.id)
                computed[goal.id] = formulas.weighted_mean((as_child(k), k.weight) for k in kids)
            elif goal.id in scope and goal.id not in computed:
                if goal.id in metrics_by_goal:
                    computed[goal.id] = formulas.weighted_mean((row[index], row[2]) for row in metrics_by_goal[goal.id])
                    continue
                kids = [k for k in children[goal.id] if k.status not in ROLLUP_EXCLUDED and k.id not in on_path]
                on_path.add(goal.id)
                pending.append((goal, kids))
                pending.extend((kid, None) for kid in kids)

    for goal_id in scope:
        compute(goals[goal_id])
    return {goal_id: computed.get(goal_id) for goal_id in scope}


def _with_ancestors(goals: dict[Any, _RollupGoal], goal_ids: Iterable[Any]) -> set[Any]:
    scope: set[Any] = set()
    for goal_id in goal_ids:
        while goal_id in goals and goal_id not in scope:
            scope.add(goal_id)
            goal_id = goals[goal_id].parent_id
    return scope
