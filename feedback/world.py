"""Loading the world a rescore scores and steers from (`feedback.inputs.World`), through the
selectors: a fixed number of queries whatever the size of the organization, each thing read
once, as plain values (no model instance but the active corrections, which the engine updates).

A scoped load (`Scope`) reads the active goals of the scope alone; teams, active corrections
and what is due are always read whole, because the rules that span teams (an overdue
intervention, a leader's pattern across teams) read them.
"""

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, cast

from feedback import selectors
from feedback.inputs import (
    ActiveCorrection,
    AssessmentInputs,
    DueDivergence,
    DueFollowUp,
    GoalInputs,
    GuardrailInputs,
    MetricInputs,
    TeamInputs,
    World,
)
from feedback.models import CourseCorrection, FeedbackKind, SubjectType
from goals import formulas
from goals.models import RECENT_LINE_FIELDS, GoalStatus, MetricRole
from teams.models import Organization

Subject = tuple[str, str]


@dataclass(frozen=True)
class GoalNode:
    parent_id: str | None
    team_id: str | None
    status: str
    weight: float


@dataclass(frozen=True)
class Scope:
    """The subjects a scoped rescore scores and steers: goals and teams, by id as text."""

    goal_ids: frozenset[str]
    team_ids: frozenset[str]

    def holds(self, subject_type: str, subject_id: str) -> bool:
        if subject_type == SubjectType.GOAL:
            return subject_id in self.goal_ids
        return subject_type == SubjectType.TEAM and subject_id in self.team_ids


@dataclass(slots=True)
class StoredCorrection:
    """An active course correction with the fields the engine reads and writes, loaded as a
    row: a model instance each cost 4 times the query for an organization's thousands."""

    id: uuid.UUID
    subject_type: str
    subject_id: str
    team_id: Any
    trigger: str
    severity: str
    detail: str
    recommended_mode: str
    status: str
    review_by: date | None
    extension_count: int
    resolution: str
    resolved_at: datetime | None
    caused_by_id: uuid.UUID | None

    @property
    def pk(self) -> uuid.UUID:
        return self.id


STORED_CORRECTION_FIELDS = tuple(StoredCorrection.__dataclass_fields__)

#: A correction as the engine handles it: stored (and active) or opened by this rescore.
Correction = CourseCorrection | StoredCorrection


@dataclass
class Loaded:
    """The world, and what the engine needs beside it."""

    world: World
    tree: dict[str, GoalNode]
    corrections: dict[tuple[str, str, str], StoredCorrection]
    latest: dict[Subject, tuple[float, dict[str, float]]] = field(default_factory=dict)


def goal_tree(org: Organization) -> dict[str, GoalNode]:
    return {
        str(pk): GoalNode(str(parent) if parent else None, str(team) if team else None, status, weight)
        for pk, parent, team, status, weight in selectors.goal_tree(org=org)
    }


def widen(
    tree: dict[str, GoalNode], teams: dict[Any, TeamInputs], goal_ids: Iterable[str], team_ids: Iterable[str]
) -> Scope:
    """What a change to these goals and teams can move: the goals and their ancestors (whose
    progress rolls up), their teams and every active goal of those teams (a team's score and
    rules read all of them), and for a changed team every team of its leaders (whose pattern
    across teams is a rule)."""
    goals: set[str] = set()
    for goal_id in goal_ids:
        current: str | None = str(goal_id)
        while current is not None and current not in goals:
            goals.add(current)
            current = tree[current].parent_id if current in tree else None
    changed_teams = {str(team_id) for team_id in team_ids}
    leaders = {
        leader for team in teams.values() if str(team.id) in changed_teams
        for leader in (team.lead_id, team.parent_lead_id) if leader is not None
    }  # fmt: skip
    scoped_teams = changed_teams | {tree[g].team_id for g in goals if g in tree and tree[g].team_id}  # type: ignore[misc]
    scoped_teams |= {str(t.id) for t in teams.values() if {t.lead_id, t.parent_lead_id} & leaders}
    goals |= {g for g, node in tree.items() if node.team_id in scoped_teams and node.status == GoalStatus.ACTIVE}
    return Scope(frozenset(goals), frozenset(cast(set[str], scoped_teams)))


TEAM_FIELDS = ("id", "name", "lead_id", "parent__lead_id", "a_alignment", "a_confidence", "a_mode", "a_created")


def load_teams(org: Organization) -> dict[Any, TeamInputs]:
    lead_checkins = {
        (row["goal__team_id"], row["author_id"]): row["last"] for row in selectors.last_checkins_by_author(org=org)
    }
    result = {}
    rows = selectors.scoring_teams(org=org).values_list(*TEAM_FIELDS)
    for team_id, name, lead_id, parent_lead_id, alignment, confidence, mode, created in rows:
        assessment = None
        if alignment is not None:
            assessment = AssessmentInputs(alignment, confidence, mode, _ts(created) or 0.0)
        result[team_id] = TeamInputs(
            id=team_id, name=name, lead_id=lead_id, parent_lead_id=parent_lead_id, latest_assessment=assessment,
            last_lead_checkin_ts=_ts(lead_checkins.get((team_id, lead_id))),
        )  # fmt: skip
    return result


def load_world(
    org: Organization,
    now: datetime,
    *,
    tree: dict[str, GoalNode] | None = None,
    teams: dict[Any, TeamInputs] | None = None,
    scope: Scope | None = None,
) -> Loaded:
    today = now.astimezone(UTC).date()
    rows = selectors.active_corrections(org=org).values_list(*STORED_CORRECTION_FIELDS)
    corrections = {(c.subject_type, c.subject_id, c.trigger): c for c in (StoredCorrection(*row) for row in rows)}
    world = World(
        settings=org.effective_settings, now_ts=now.timestamp(), today=today,
        goals=_load_goals(org, None if scope is None else scope.goal_ids),
        teams=teams if teams is not None else load_teams(org), scores={}, previous_scores={},
        active=[
            ActiveCorrection(c.subject_type, c.subject_id, c.trigger, c.review_by, c.extension_count)
            for c in corrections.values()
        ],
        divergences_due=_divergences_due(org, today), follow_ups_due=_follow_ups_due(org, today),
    )  # fmt: skip
    loaded = Loaded(world, tree if tree is not None else goal_tree(org), corrections)
    loaded.latest = latest_points(org)
    world.previous_scores = {subject: score for subject, (score, _) in loaded.latest.items()}
    return loaded


def latest_points(org: Organization, up_to: datetime | None = None) -> dict[Subject, tuple[float, dict[str, float]]]:
    rows = selectors.latest_snapshots(org=org, up_to=up_to).values_list(
        "subject_type", "subject_id", "score", "components"
    )
    return {(subject_type, subject_id): (score, components) for subject_type, subject_id, score, components in rows}


def _divergences_due(org: Organization, today: date) -> list[DueDivergence]:
    rows = selectors.divergences_due(org=org, today=today).values_list("team_id", "approach", "review_on")
    return [DueDivergence(*row) for row in rows]


def _follow_ups_due(org: Organization, today: date) -> list[DueFollowUp]:
    rows = selectors.follow_ups_due(org=org, today=today).values_list(
        "id", "subject_type", "subject_id", "team_id", "outcome", "follow_up_on"
    )
    return [DueFollowUp(pk, kind, subject, team, text, cast(date, on)) for pk, kind, subject, team, text, on in rows]


GOAL_FIELDS = (
    "id", "title", "team_id", "parent_id", "owner_id", "weight", "progress", "window_start_ts", "window_end_ts",
    "hypothesis", "strategy_count", "latest_confidence", "last_checkin_at",
)  # fmt: skip
METRIC_FIELDS = (
    "id", "goal_id", "role", "name", "baseline", "target", "weight", "forecast", "stale_after_days",
    "last_reading_ts", "forecast_low", "forecast_high", "p_hit", "reading_count", "direction", "threshold", "current",
    "unit", "window_end_ts", *RECENT_LINE_FIELDS,
)  # fmt: skip


def _load_goals(org: Organization, goal_ids: Collection[str] | None) -> list[GoalInputs]:
    goals = selectors.scoring_goals(org=org)
    metric_rows = selectors.scoring_metrics(org=org)
    feedback = selectors.open_goal_feedback_counts(org=org)
    if goal_ids is not None:
        goals = goals.filter(id__in=goal_ids)
        metric_rows = metric_rows.filter(goal_id__in=goal_ids)
        feedback = feedback.filter(target_id__in=goal_ids)
    min_readings = org.effective_settings["likely_miss_min_readings"]
    metrics: dict[Any, list[MetricInputs]] = defaultdict(list)
    guardrails: dict[Any, list[GuardrailInputs]] = defaultdict(list)
    for m in metric_rows.values_list(*METRIC_FIELDS):
        (pk, goal_id, role, name, baseline, target, weight, forecast, stale_after, last_ts, low, high, p_hit, count,
         direction, threshold, current, unit, end_ts, recent_n, *recent_line) = m  # fmt: skip
        if role == MetricRole.GUARDRAIL:
            if threshold is not None:
                guardrails[goal_id].append(GuardrailInputs(pk, name, direction, threshold, current, unit))
            continue
        recent = formulas.LineFit(recent_n, *recent_line) if recent_n is not None else None
        metrics[goal_id].append(
            MetricInputs(
                pk, name, baseline, target, weight, forecast, stale_after, last_ts, low, high, p_hit,
                enough_readings=count >= min_readings,
                stall=None if last_ts is None else formulas.stall(
                    recent, latest_ts=last_ts, end_ts=end_ts, baseline=baseline, target=target
                ),
            )
        )  # fmt: skip
    concerns: dict[str, int] = defaultdict(int)
    challenges: dict[str, int] = defaultdict(int)
    for row in feedback:
        (concerns if row["kind"] == FeedbackKind.CONCERN else challenges)[row["target_id"]] += row["n"]
    return [
        GoalInputs(
            id=pk, title=title, team_id=team_id, parent_id=parent_id, owner_id=owner_id, weight=weight,
            progress=progress, window_start_ts=start_ts, window_end_ts=end_ts, hypothesis=hypothesis,
            strategy_count=strategy_count, latest_confidence=confidence, last_checkin_ts=_ts(last_checkin),
            open_concerns=concerns[str(pk)], open_challenges=challenges[str(pk)],
            metrics=tuple(metrics[pk]), guardrails=tuple(guardrails[pk]),
        )
        for (pk, title, team_id, parent_id, owner_id, weight, progress, start_ts, end_ts, hypothesis, strategy_count,
             confidence, last_checkin) in goals.values_list(*GOAL_FIELDS)
    ]  # fmt: skip


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None
