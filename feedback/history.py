"""Scores as of a past instant, from the data known then, and the backfill of score history.

At an instant T the organization is scored from what was known at T: readings observed up to T
(each metric's current value, progress and forecast recomputed from them with the formulas in
`goals.formulas`), check-ins, assessments and feedback created up to T, and the goals created by
T that are active now. The scoring itself is the engine's (`engine.score_world`), and snapshots
are written the engine's way (`engine.write_history_snapshots`). Nothing here steers: no course
correction is opened, resolved or announced, no event is emitted, no stored goal score changes.

Everything is loaded once (a fixed number of queries) and each instant is computed in memory,
so a year of weekly instants costs the same queries as one.
"""

import bisect
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count

from feedback import engine
from feedback.inputs import AssessmentInputs, GoalInputs, MetricInputs, TeamInputs, World
from feedback.models import Assessment, CheckIn, Feedback, FeedbackKind, FeedbackStatus, SubjectType
from goals import formulas
from goals.models import Goal, GoalStatus, Metric, Reading
from teams.models import Organization, Team

Points = dict[tuple[str, str], dict[str, float]]
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Known:
    """Everything that was known up to `until`, each history sorted by time."""

    goals: list[Any]
    metrics: dict[Any, list[Metric]]
    readings: dict[Any, list[formulas.Point]]
    checkins: dict[Any, list[tuple[float, int, Any]]]  # goal → (ts, confidence, author)
    assessments: dict[Any, list[AssessmentInputs]]
    feedback: list[tuple[str, str, float]]  # (goal id, kind, created ts), open now
    teams: list[Team]


def load_known(org: Organization, until: datetime) -> Known:
    goals = list(
        Goal.objects.filter(organization=org, status=GoalStatus.ACTIVE, created_at__lte=until)
        .annotate(strategy_count=Count("strategy_links", distinct=True))
        .order_by("id")
    )
    metrics: dict[Any, list[Metric]] = defaultdict(list)
    for metric in Metric.objects.filter(organization=org, goal__in=[g.id for g in goals]).order_by("id"):
        metrics[metric.goal_id].append(metric)
    readings: dict[Any, list[formulas.Point]] = defaultdict(list)
    rows = Reading.objects.filter(organization=org, observed_at__lte=until).order_by("observed_at", "id")
    for metric_id, observed_at, value in rows.values_list("metric_id", "observed_at", "value").iterator(2000):
        readings[metric_id].append(formulas.Point(observed_at.timestamp(), value))
    checkins: dict[Any, list[tuple[float, int, Any]]] = defaultdict(list)
    for goal_id, created_at, confidence, author_id in (
        CheckIn.objects.filter(organization=org, created_at__lte=until)
        .order_by("created_at", "id")
        .values_list("goal_id", "created_at", "confidence", "author_id")
    ):
        checkins[goal_id].append((created_at.timestamp(), confidence, author_id))
    assessments: dict[Any, list[AssessmentInputs]] = defaultdict(list)
    for a in Assessment.objects.filter(organization=org, created_at__lte=until).order_by("created_at", "id"):
        assessments[a.team_id].append(
            AssessmentInputs(a.alignment, a.confidence, a.recommended_mode, a.created_at.timestamp())
        )
    feedback = [
        (target_id, kind, created_at.timestamp())
        for target_id, kind, created_at in Feedback.objects.filter(
            organization=org, target_type=SubjectType.GOAL, kind__in=[FeedbackKind.CONCERN, FeedbackKind.CHALLENGE],
            created_at__lte=until,
        )
        .exclude(status=FeedbackStatus.RESOLVED)
        .values_list("target_id", "kind", "created_at")
    ]  # fmt: skip
    teams = list(Team.objects.filter(organization=org).select_related("parent").order_by("id"))
    return Known(goals, metrics, readings, checkins, assessments, feedback, teams)


def world_at(org: Organization, known: Known, at: datetime) -> World:
    """The engine's inputs as they stood at `at`."""
    at_ts = at.timestamp()
    window_days = org.effective_settings["forecast_window_days"]
    goals = []
    for goal in known.goals:
        if goal.created_at.timestamp() > at_ts:
            continue
        metrics = tuple(_metric_at(m, _until(known.readings[m.id], at_ts), window_days) for m in known.metrics[goal.id])
        checkins = _until_ts(known.checkins[goal.id], at_ts)
        concerns = sum(1 for t, kind, ts in known.feedback if t == str(goal.id) and ts <= at_ts and kind == "concern")
        challenges = sum(1 for t, kind, ts in known.feedback if t == str(goal.id) and ts <= at_ts and kind != "concern")
        goals.append(
            GoalInputs(
                id=goal.id, title=goal.title, team_id=goal.team_id, parent_id=goal.parent_id, owner_id=goal.owner_id,
                weight=goal.weight, progress=None, window_start_ts=goal.window_start_ts,
                window_end_ts=goal.window_end_ts, hypothesis=goal.hypothesis, strategy_count=goal.strategy_count,
                latest_confidence=checkins[-1][1] if checkins else None,
                last_checkin_ts=checkins[-1][0] if checkins else None,
                open_concerns=concerns, open_challenges=challenges, metrics=metrics,
            )
        )  # fmt: skip
    goals = _with_progress(goals, {m.id: m for ms in known.metrics.values() for m in ms}, known, at_ts)
    return World(
        settings=org.effective_settings, now_ts=at_ts, today=at.astimezone(UTC).date(), goals=goals,
        teams=_teams_at(known, at_ts), scores={}, previous_scores={},
    )  # fmt: skip


def _until(points: list[formulas.Point], at_ts: float) -> list[formulas.Point]:
    return points[: bisect.bisect_right([p.ts for p in points], at_ts)]


def _until_ts(rows: list[Any], at_ts: float) -> list[Any]:
    return rows[: bisect.bisect_right([row[0] for row in rows], at_ts)]


def _metric_at(metric: Metric, points: list[formulas.Point], window_days: int) -> MetricInputs:
    """The metric as its readings up to the instant describe it (as `goals.services.metrics_refresh` would)."""
    last_ts = points[-1].ts if points else None
    forecast = (
        formulas.forecast(points, end_ts=metric.window_end_ts, now_ts=last_ts, window_days=window_days)
        if last_ts is not None
        else None
    )
    return MetricInputs(
        metric.id,
        metric.name,
        metric.baseline,
        metric.target,
        metric.weight,
        forecast,
        metric.stale_after_days,
        last_ts,
    )


def _with_progress(goals: list[GoalInputs], metrics: dict[Any, Metric], known: Known, at_ts: float) -> list[GoalInputs]:
    """Each goal's progress from its metrics' latest readings, or rolled up from its children's
    (as `goals.services.goals_refresh_progress` does for the stored value)."""
    children: dict[Any, list[GoalInputs]] = defaultdict(list)
    for goal in goals:
        children[goal.parent_id].append(goal)
    memo: dict[Any, float | None] = {}

    def progress_of(goal: GoalInputs, path: frozenset[Any]) -> float | None:
        if goal.id not in memo:
            if goal.metrics:
                memo[goal.id] = formulas.weighted_mean(
                    (_metric_progress(metrics[m.id], known.readings[m.id], at_ts), m.weight) for m in goal.metrics
                )
            else:
                kids = [k for k in children[goal.id] if k.id not in path]
                memo[goal.id] = formulas.weighted_mean((progress_of(k, path | {goal.id}), k.weight) for k in kids)
        return memo[goal.id]

    return [replace(goal, progress=progress_of(goal, frozenset())) for goal in goals]


def _metric_progress(metric: Metric, points: list[formulas.Point], at_ts: float) -> float | None:
    known = _until(points, at_ts)
    current = known[-1].value if known else None
    return formulas.progress(baseline=metric.baseline, target=metric.target, current=current)


def _teams_at(known: Known, at_ts: float) -> dict[Any, TeamInputs]:
    lead_checkins: dict[tuple[Any, Any], float] = {}
    team_of = {goal.id: goal.team_id for goal in known.goals}
    for goal_id, rows in known.checkins.items():
        for ts, _, author_id in _until_ts(rows, at_ts):
            key = (team_of.get(goal_id), author_id)
            lead_checkins[key] = max(ts, lead_checkins.get(key, ts))
    result = {}
    for team in known.teams:
        assessments = [a for a in known.assessments[team.id] if a.created_ts <= at_ts]
        result[team.id] = TeamInputs(
            id=team.id, name=team.name, lead_id=team.lead_id,
            parent_lead_id=team.parent.lead_id if team.parent else None,
            latest_assessment=assessments[-1] if assessments else None,
            last_lead_checkin_ts=lead_checkins.get((team.id, team.lead_id)),
        )  # fmt: skip
    return result


def score_as_of(org: Organization, at: datetime) -> Points:
    """Points per component of every subject, as the engine would have scored them at `at`."""
    return engine.score_world(world_at(org, load_known(org, at), at), org)


def weekly_instants(start: datetime, end: datetime) -> list[datetime]:
    """Every week back from `end` (exclusive) to `start` (inclusive), oldest first."""
    instants, at = [], end - WEEK
    while at >= start:
        instants.append(at)
        at -= WEEK
    return instants[::-1]


def backfill(org: Organization, instants: list[datetime]) -> int:
    """Write the snapshots the engine would have written at each instant; the number written.

    Idempotent: a subject's snapshot at an instant is written once (a rerun finds it, or finds
    the same score already standing at that instant, and writes nothing).
    """
    if not instants:
        return 0
    instants = sorted(instants)
    known = load_known(org, instants[-1])
    written = 0
    with transaction.atomic():
        for at in instants:
            written += engine.write_history_snapshots(org, engine.score_world(world_at(org, known, at), org), at)
    return written
