"""Reads for the goal and team pages: each a fixed number of queries whatever the history."""

import uuid
from collections import defaultdict
from typing import Any

from feedback.models import CourseCorrection, ScoreSnapshot, SubjectType
from feedback.selectors import assessment_list, calibration, checkin_list, correction_list
from goals.models import Divergence, GoalStatus, Reading, StrategyPillar
from goals.selectors import goal_list, metric_list
from teams.models import Organization, Team


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def goal_page(*, org: Organization, goal_id: str) -> dict[str, Any] | None:
    """A goal with its metrics and their readings, check-ins, corrections, parent, children
    and pillars; None when the organization has no such goal."""
    pk = parse_uuid(goal_id)
    goal = goal_list(org=org).select_related("team", "parent", "owner", "cycle").filter(pk=pk).first() if pk else None
    if goal is None:
        return None
    metrics = list(metric_list(org=org).filter(goal=goal))
    readings: dict[Any, list[tuple[float, float]]] = defaultdict(list)
    rows = Reading.objects.filter(organization=org, metric__in=[m.id for m in metrics]).order_by("observed_at", "id")
    for metric_id, observed_at, value in rows.values_list("metric_id", "observed_at", "value"):
        readings[metric_id].append((observed_at.timestamp(), value))
    return {
        "goal": goal,
        "metrics": [(metric, readings[metric.id]) for metric in metrics],
        "children": list(
            goal_list(org=org).filter(parent=goal).exclude(status=GoalStatus.CANCELLED).select_related("team")
        ),
        "pillars": list(StrategyPillar.objects.filter(organization=org, goal_links__goal=goal).order_by("title")),
        "check_ins": list(checkin_list(org=org).filter(goal=goal).select_related("author").order_by("created_at")),
        "corrections": _corrections(
            correction_list(org=org).filter(subject_type=SubjectType.GOAL, subject_id=str(goal.pk))
        ),
    }


def team_page(*, org: Organization, team_id: str) -> dict[str, Any] | None:
    """A team with its goals, its assessments over time, its corrections, its score history and
    how well its check-ins' confidence foretold the outcomes."""
    pk = parse_uuid(team_id)
    team = Team.objects.filter(organization=org, pk=pk).select_related("lead", "parent").first() if pk else None
    if team is None:
        return None
    scores = (
        ScoreSnapshot.objects.filter(organization=org, subject_type=SubjectType.TEAM, subject_id=str(team.pk))
        .order_by("computed_at", "id")
        .values_list("computed_at", "score")
    )
    return {
        "team": team,
        "goals": list(goal_list(org=org).filter(team=team).exclude(status=GoalStatus.CANCELLED)),
        "assessments": list(
            assessment_list(org=org).filter(team=team).select_related("assessor").order_by("created_at", "id")
        ),
        "corrections": _corrections(correction_list(org=org).filter(team=team)),
        "scores": [(at.timestamp(), score) for at, score in scores],
        "divergences": list(
            Divergence.objects.filter(organization=org, team=team).select_related("success_metric", "approved_by")
        ),
        "calibration": calibration(org=org, team_ids=[team.pk]),
    }


def _corrections(queryset: Any) -> list[CourseCorrection]:
    return list(queryset.select_related("assignee").order_by("-created_at", "-id")[:100])
