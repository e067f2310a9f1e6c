"""What an all-hands shows, in one response and a fixed number of queries."""

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, F, OuterRef, Subquery, Value, When, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from feedback import selectors
from feedback.models import ACTIVE_CORRECTION, CourseCorrection, ScoreSnapshot, Severity, SubjectType, Trigger
from goals import formulas
from goals.models import Cycle, GoalStatus
from goals.selectors import goal_list
from teams.models import Organization, Team, TeamKind

TREND_DAYS = 7
LEADERSHIP_TRIGGERS = (Trigger.INTERVENTION_OVERDUE, Trigger.HANDS_OFF_DRIFT, Trigger.PERMANENT_MICROMANAGEMENT)
SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
MAX_RISKS, MAX_OPPORTUNITIES = 50, 20


def _scores_as_of(org: Organization, at: datetime | None) -> dict[tuple[str, str], float]:
    """The organization's and each team's newest score at `at` (now when None): one pass over
    their snapshots, ranked newest first per subject (no subquery per snapshot)."""
    snapshots = ScoreSnapshot.objects.filter(organization=org, subject_type__in=[SubjectType.ORG, SubjectType.TEAM])
    if at is not None:
        snapshots = snapshots.filter(computed_at__lte=at)
    newest = snapshots.annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F("subject_type"), F("subject_id")],
            order_by=[F("computed_at").desc(), F("id").desc()],
        )
    ).filter(rank=1)
    return {
        (subject_type, subject_id): score
        for subject_type, subject_id, score in newest.values_list("subject_type", "subject_id", "score")
    }


def _trend(now: dict[tuple[str, str], float], before: dict[tuple[str, str], float], key: tuple[str, str]) -> Any:
    if key not in now or key not in before:
        return None
    return round(now[key] - before[key], 2)


def dashboard(*, org: Organization) -> dict[str, Any]:
    """Counts come from `GROUP BY`s and only the rows shown are read (no goal or correction is
    loaded to be counted): a fixed number of queries, each as small as what it answers."""
    current = _scores_as_of(org, None)
    week_ago = _scores_as_of(org, timezone.now() - timedelta(days=TREND_DAYS))
    latest = selectors.assessments_latest_first(team=OuterRef("pk"))
    teams = list(
        Team.objects.filter(organization=org, kind=TeamKind.TEAM)
        .annotate(
            recommended_mode=Subquery(latest.values("recommended_mode")[:1]),
            alignment=Subquery(latest.values("alignment")[:1]),
            confidence=Subquery(latest.values("confidence")[:1]),
            quadrant=Subquery(latest.values("quadrant")[:1]),
        )
        .order_by("name", "id")
    )
    active_goals: Any = goal_list(org=org).prefetch_related(None).select_related(None).filter(status=GoalStatus.ACTIVE)
    health_by_team: dict[Any, dict[str, int]] = defaultdict(lambda: dict.fromkeys(formulas.HEALTH_VALUES, 0))
    for team_id, health, count in active_goals.order_by().values_list("team_id", "health").annotate(n=Count("id")):
        health_by_team[team_id][health] = count
    active = CourseCorrection.objects.filter(ACTIVE_CORRECTION, organization=org)
    causes = active.filter(caused_by__isnull=True)  # one alarm per cause: symptoms sit under theirs
    open_by_team: dict[Any, int] = defaultdict(int)
    open_by_team.update(causes.order_by().values_list("team_id").annotate(n=Count("id")))
    severity_rank = Case(*(When(severity=s, then=Value(rank)) for s, rank in SEVERITY_ORDER.items()))
    tolerance = org.effective_settings["health_tolerance"]
    opportunities = (
        active_goals.filter(progress__isnull=False, progress_gap__gt=tolerance)
        .order_by(F("progress_gap").desc(), "due_on", "title", "id")
        .values("id", "title", "team_id", "progress", "expected_progress")[:MAX_OPPORTUNITIES]
    )
    org_key = (SubjectType.ORG, str(org.pk))
    return {
        "org": {"score": current.get(org_key), "trend": _trend(current, week_ago, org_key)},
        "teams": [
            {
                "id": team.id,
                "name": team.name,
                "score": current.get((SubjectType.TEAM, str(team.id))) if team.id in health_by_team else None,
                "trend": _trend(current, week_ago, (SubjectType.TEAM, str(team.id)))
                if team.id in health_by_team
                else None,
                "goals": dict(health_by_team[team.id]),
                "open_corrections": open_by_team[team.id],
                "recommended_mode": team.recommended_mode,
                "alignment": team.alignment,
                "confidence": team.confidence,
                "quadrant": team.quadrant,
            }
            for team in teams
        ],
        "risks": list(causes.order_by(severity_rank, "-created_at", "-id")[:MAX_RISKS]),
        "opportunities": list(opportunities),
        "leadership_signals": list(active.filter(trigger__in=LEADERSHIP_TRIGGERS).order_by("-created_at", "-id")),
    }


def current_cycle(*, org: Organization) -> Cycle | None:
    """The cycle running today, else the one that started last."""
    today = timezone.localdate(timezone=ZoneInfo(org.timezone))
    cycles = Cycle.objects.filter(organization=org, starts_on__lte=today).order_by(
        Case(When(ends_on__gte=today, then=Value(0)), default=Value(1)), "-starts_on", "name"
    )
    return cycles.first()


def score_history(
    *, org: Organization, since: datetime, until: datetime | None = None, step: timedelta = timedelta(days=7)
) -> dict[tuple[str, str], list[tuple[datetime, float]]]:
    """The organization's and each team's score at every `step` from `since` to `until` (now),
    each the newest snapshot at or before that instant (as the dashboard reads them); one query."""
    until = until or timezone.now()
    instants = []
    at = until
    while at >= since:
        instants.append(at)
        at -= step
    instants.reverse()
    rows = (
        ScoreSnapshot.objects.filter(
            organization=org,
            subject_type__in=[SubjectType.ORG, SubjectType.TEAM],
            computed_at__lte=until,
            computed_at__gte=since - step,
        )
        .order_by("computed_at", "id")
        .values_list("subject_type", "subject_id", "computed_at", "score")
    )
    by_subject: dict[tuple[str, str], list[tuple[datetime, float]]] = defaultdict(list)
    for subject_type, subject_id, computed_at, score in rows:
        by_subject[(subject_type, subject_id)].append((computed_at, score))
    return {key: _sampled(snapshots, instants) for key, snapshots in by_subject.items()}


def _sampled(snapshots: list[tuple[datetime, float]], instants: list[datetime]) -> list[tuple[datetime, float]]:
    series, index, score = [], 0, None
    for at in instants:
        while index < len(snapshots) and snapshots[index][0] <= at:
            score = snapshots[index][1]
            index += 1
        if score is not None:
            series.append((at, score))
    return series
