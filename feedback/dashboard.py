"""What an all-hands shows, in one response and a fixed number of queries."""

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from feedback.models import ACTIVE_CORRECTION, Assessment, CourseCorrection, ScoreSnapshot, Severity, Trigger
from goals import progress as formulas
from goals.models import GoalStatus
from goals.selectors import goal_list
from teams.models import Organization, Team, TeamKind

TREND_DAYS = 7
LEADERSHIP_TRIGGERS = (Trigger.INTERVENTION_OVERDUE, Trigger.HANDS_OFF_DRIFT, Trigger.PERMANENT_MICROMANAGEMENT)
SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
MAX_RISKS, MAX_OPPORTUNITIES = 50, 20


def _scores_as_of(org: Organization, at: datetime | None) -> dict[tuple[str, str], float]:
    """Each subject's newest score at `at` (now when None)."""
    newest = ScoreSnapshot.objects.filter(
        organization=org, subject_type=OuterRef("subject_type"), subject_id=OuterRef("subject_id")
    )
    if at is not None:
        newest = newest.filter(computed_at__lte=at)
    ids = (
        ScoreSnapshot.objects.filter(organization=org)
        .values("subject_type", "subject_id")
        .annotate(newest=Subquery(newest.order_by("-computed_at", "-id").values("id")[:1]))
        .values("newest")
    )
    return {
        (s.subject_type, s.subject_id): s.score
        for s in ScoreSnapshot.objects.filter(pk__in=ids).only("subject_type", "subject_id", "score")
    }


def _trend(now: dict[tuple[str, str], float], before: dict[tuple[str, str], float], key: tuple[str, str]) -> Any:
    if key not in now or key not in before:
        return None
    return round(now[key] - before[key], 2)


def dashboard(*, org: Organization) -> dict[str, Any]:
    current = _scores_as_of(org, None)
    week_ago = _scores_as_of(org, timezone.now() - timedelta(days=TREND_DAYS))
    latest_mode = Assessment.objects.filter(team=OuterRef("pk")).order_by("-created_at", "-id")
    teams = list(
        Team.objects.filter(organization=org, kind=TeamKind.TEAM)
        .annotate(recommended_mode=Subquery(latest_mode.values("recommended_mode")[:1]))
        .order_by("name", "id")
    )
    goals: list[Any] = list(goal_list(org=org).filter(status=GoalStatus.ACTIVE))
    active = list(CourseCorrection.objects.filter(ACTIVE_CORRECTION, organization=org).order_by("-created_at", "-id"))
    health_by_team: dict[Any, dict[str, int]] = defaultdict(lambda: dict.fromkeys(formulas.HEALTH_VALUES, 0))
    for goal in goals:
        health_by_team[goal.team_id][goal.health] += 1
    open_by_team: dict[Any, int] = defaultdict(int)
    for correction in active:
        open_by_team[correction.team_id] += 1
    org_key = ("org", str(org.pk))
    tolerance = org.rule_settings["health_tolerance"]
    ahead = sorted(
        (g for g in goals if g.progress is not None and g.progress - g.expected_progress > tolerance),
        key=lambda g: g.expected_progress - g.progress,
    )
    return {
        "org": {"score": current.get(org_key), "trend": _trend(current, week_ago, org_key)},
        "teams": [
            {
                "id": team.id,
                "name": team.name,
                "score": current.get(("team", str(team.id))) if team.id in health_by_team else None,
                "trend": _trend(current, week_ago, ("team", str(team.id))) if team.id in health_by_team else None,
                "goals": dict(health_by_team[team.id]),
                "open_corrections": open_by_team[team.id],
                "recommended_mode": team.recommended_mode,
            }
            for team in teams
        ],
        "risks": sorted(active, key=lambda c: (SEVERITY_ORDER[Severity(c.severity)], -c.created_at.timestamp()))[
            :MAX_RISKS
        ],
        "opportunities": ahead[:MAX_OPPORTUNITIES],
        "leadership_signals": [c for c in active if c.trigger in LEADERSHIP_TRIGGERS],
    }
