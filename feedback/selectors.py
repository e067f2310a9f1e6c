"""Reads for check-ins, assessments and feedback."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection
from django.db.models import (
    Avg,
    Case,
    Count,
    F,
    FloatField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.utils import timezone

from alignment_service.access import org_admin_ids
from feedback.models import (
    ACTIVE_CORRECTION,
    Assessment,
    CheckIn,
    CourseCorrection,
    Feedback,
    FeedbackKind,
    FeedbackReply,
    FeedbackStatus,
    ScoreJob,
    ScoreSnapshot,
    SteeringDecision,
    SubjectType,
)
from goals.models import Divergence, Goal, GoalStatus, Metric, StrategyPillar
from teams.models import Organization, Team, TeamKind, TeamMember


def checkin_list(*, org: Organization) -> QuerySet[CheckIn]:
    return CheckIn.objects.filter(organization=org).order_by("-created_at", "-id")


def assessment_list(*, org: Organization) -> QuerySet[Assessment]:
    return Assessment.objects.filter(organization=org).order_by("-created_at", "-id")


def feedback_list(*, org: Organization) -> QuerySet[Feedback]:
    return (
        Feedback.objects.filter(organization=org).annotate(reply_count=Count("replies")).order_by("-created_at", "-id")
    )


def reply_list(*, org: Organization, feedback: Feedback) -> QuerySet[FeedbackReply]:
    return FeedbackReply.objects.filter(organization=org, feedback=feedback).order_by("created_at", "id")


_TARGET_MODELS: dict[str, Any] = {SubjectType.GOAL: Goal, SubjectType.TEAM: Team, SubjectType.STRATEGY: StrategyPillar}


def is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def feedback_target(*, org: Organization, target_type: str, target_id: str) -> Any:
    """The object feedback is about, or None; the direction is the organization itself."""
    if target_type == SubjectType.DIRECTION:
        return org
    model = _TARGET_MODELS[target_type]
    if not is_uuid(target_id):
        return None
    return model.objects.filter(organization=org, pk=target_id).select_related(*_steward_relations(target_type)).first()


def feedback_target_team(*, org: Organization, feedback: Feedback) -> Team | None:
    """The team that answers for feedback's target (None for the direction and company items)."""
    target = feedback_target(org=org, target_type=feedback.target_type, target_id=feedback.target_id)
    if target is None or feedback.target_type == SubjectType.DIRECTION:
        return None
    return target if feedback.target_type == SubjectType.TEAM else target.team


def _steward_relations(target_type: str) -> tuple[str, ...]:
    return ("team",) if target_type in (SubjectType.GOAL, SubjectType.STRATEGY) else ()


def target_label(target_type: str, target: Any) -> str:
    if target_type == SubjectType.DIRECTION:
        return "the direction"
    name = getattr(target, "title", None) or getattr(target, "name", "")
    return f"{target_type} '{name}'"


def target_stewards(*, org: Organization, target_type: str, target: Any) -> set[Any]:
    """Who answers for a target: a goal's or pillar's owner and its team's lead; a team's
    lead; the direction's admins and owners."""
    if target is None:
        return set()
    if target_type == SubjectType.DIRECTION:
        return org_admin_ids(org=org)
    if target_type == SubjectType.TEAM:
        return {target.lead_id} - {None}
    team = target.team
    return {target.owner_id, team.lead_id if team else None} - {None}


def assessments_latest_first(*, team: Team | OuterRef) -> QuerySet[Assessment]:
    """A team's assessments, the one that counts (its latest) first; `team` may be an
    `OuterRef` for a subquery."""
    return Assessment.objects.filter(Q(team=team)).order_by("-created_at", "-id")


def latest_assessment(*, team: Team | None) -> Assessment | None:
    """The assessment of the team that counts: its latest."""
    if team is None:
        return None
    return assessments_latest_first(team=team).first()


def steering_group_ids_above(teams: dict[Any, Team], team_id: Any) -> list[Any]:
    """The steering groups among a team and its ancestors, given every team of the org by id."""
    steering, current, seen = [], teams.get(team_id), set()
    while current is not None and current.id not in seen:
        seen.add(current.id)
        if current.kind == TeamKind.STEERING_GROUP:
            steering.append(current.id)
        current = teams.get(current.parent_id) if current.parent_id else None
    return steering


def steering_members_above(*, org: Organization, team: Team) -> set[Any]:
    """Members of the steering groups that are the team itself or one of its ancestors."""
    teams = {t.id: t for t in Team.objects.filter(organization=org).only("id", "parent_id", "kind")}
    steering = steering_group_ids_above(teams, team.pk)
    return set(TeamMember.objects.filter(team_id__in=steering).values_list("user_id", flat=True))


def correction_list(*, org: Organization) -> QuerySet[CourseCorrection]:
    return CourseCorrection.objects.filter(organization=org).order_by("-created_at", "-id")


def correction_detail_list(*, org: Organization) -> QuerySet[CourseCorrection]:
    """Corrections with the symptoms each explains (same organization by construction)."""
    symptoms = CourseCorrection.objects.filter(organization=org).order_by("trigger", "subject_type", "id")
    return correction_list(org=org).prefetch_related(Prefetch("symptoms", queryset=symptoms))


def score_list(*, org: Organization) -> QuerySet[ScoreSnapshot]:
    return ScoreSnapshot.objects.filter(organization=org)


def score_job(*, org: Organization, job_id: Any) -> ScoreJob | None:
    return ScoreJob.objects.filter(organization=org, pk=job_id).first()


# --- Calibration ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationRow:
    """How well one author's (or one team's) check-in confidence foretold the outcomes."""

    id: Any
    name: str
    checkins: int
    goals: int
    mean_confidence: float
    hit_rate: float
    brier: float
    bias: float


@dataclass(frozen=True)
class Calibration:
    authors: list[CalibrationRow]
    teams: list[CalibrationRow]


def _outcome(now_ts: float) -> Case:
    """1 for an achieved goal, 0 for a missed one; a goal past due_on counts 1 if it reached its
    target (progress 1) and 0 otherwise; null while it can still go either way."""
    return Case(
        When(goal__status=GoalStatus.ACHIEVED, then=Value(1.0)),
        When(goal__status=GoalStatus.MISSED, then=Value(0.0)),
        When(goal__window_end_ts__lte=now_ts, goal__progress__gte=1.0, then=Value(1.0)),
        When(goal__window_end_ts__lte=now_ts, then=Value(0.0)),
        default=None,
        output_field=FloatField(),
    )


def calibration(
    *, org: Organization, team_ids: Iterable[Any] | None = None, now_ts: float | None = None
) -> Calibration:
    """Brier score and bias of check-in confidence (0..10 read as a probability) against the
    outcomes of ended goals, per author and per team: two grouped queries, whatever the size.
    `bias` > 0 means over-confident. `team_ids` narrows both to check-ins on those teams' goals."""
    now_ts = timezone.now().timestamp() if now_ts is None else now_ts
    rows = CheckIn.objects.filter(organization=org).exclude(goal__status__in=[GoalStatus.DRAFT, GoalStatus.CANCELLED])
    if team_ids is not None:
        rows = rows.filter(goal__team_id__in=list(team_ids))
    scored = rows.annotate(outcome=_outcome(now_ts), p=Cast(F("confidence"), FloatField()) / 10.0).filter(
        outcome__isnull=False
    )
    measures = {
        "checkins": Count("id"),
        "goals": Count("goal_id", distinct=True),
        "mean_confidence": Avg("p"),
        "hit_rate": Avg("outcome"),
        "brier": Avg((F("p") - F("outcome")) * (F("p") - F("outcome"))),
        "bias": Avg(F("p") - F("outcome")),
    }
    authors = (
        scored.filter(author__isnull=False)
        .values("author_id", "author__username")
        .annotate(**measures)
        .order_by("author__username", "author_id")
    )
    teams = (
        scored.filter(~Q(goal__team_id=None))
        .values("goal__team_id", "goal__team__name")
        .annotate(**measures)
        .order_by("goal__team__name", "goal__team_id")
    )
    return Calibration(
        authors=[_row(r, r["author_id"], r["author__username"]) for r in authors],
        teams=[_row(r, r["goal__team_id"], r["goal__team__name"]) for r in teams],
    )


def _row(values: dict[str, Any], row_id: Any, name: str) -> CalibrationRow:
    return CalibrationRow(
        id=row_id, name=name, checkins=values["checkins"], goals=values["goals"],
        mean_confidence=round(values["mean_confidence"], 4), hit_rate=round(values["hit_rate"], 4),
        brier=round(values["brier"], 4), bias=round(values["bias"], 4),
    )  # fmt: skip


# --- What a rescore reads (see `feedback.world`) --------------------------------------------------


def latest_snapshots(*, org: Organization, up_to: datetime | None = None) -> QuerySet[ScoreSnapshot]:
    """The newest snapshot of every subject (as of `up_to`, when given): one `DISTINCT ON` on
    PostgreSQL, a subquery per subject elsewhere (the same rows)."""
    snapshots = ScoreSnapshot.objects.filter(organization=org)
    if up_to is not None:
        snapshots = snapshots.filter(computed_at__lte=up_to)
    if connection.vendor == "postgresql":
        return snapshots.order_by("subject_type", "subject_id", "-computed_at", "-id").distinct(
            "subject_type", "subject_id"
        )
    newest = snapshots.filter(subject_type=OuterRef("subject_type"), subject_id=OuterRef("subject_id"))
    newest_id = Subquery(newest.order_by("-computed_at", "-id").values("id")[:1])
    return snapshots.filter(id=newest_id).order_by("subject_type", "subject_id")


def active_corrections(*, org: Organization) -> QuerySet[CourseCorrection]:
    return CourseCorrection.objects.filter(ACTIVE_CORRECTION, organization=org).order_by("-created_at", "-id")


def goal_tree(*, org: Organization) -> QuerySet[Goal, tuple[Any, Any, Any, str, float]]:
    """Every goal as `(id, parent_id, team_id, status, weight)`."""
    return (
        Goal.objects.filter(organization=org)
        .order_by("id")
        .values_list("id", "parent_id", "team_id", "status", "weight")
    )


def scoring_goals(*, org: Organization) -> QuerySet[Goal]:
    """Active goals with what scoring reads beyond their fields: pillar links and latest check-in."""
    latest_checkin = CheckIn.objects.filter(goal=OuterRef("pk")).order_by("-created_at", "-id")
    return (
        Goal.objects.filter(organization=org, status=GoalStatus.ACTIVE)
        .annotate(
            strategy_count=Count("strategy_links", distinct=True),
            latest_confidence=Subquery(latest_checkin.values("confidence")[:1]),
            last_checkin_at=Subquery(latest_checkin.values("created_at")[:1]),
        )
        .order_by("id")
    )


def scoring_metrics(*, org: Organization) -> QuerySet[Metric]:
    """Metrics of active goals."""
    return Metric.objects.filter(organization=org, goal__status=GoalStatus.ACTIVE).order_by("id")


def open_goal_feedback_counts(*, org: Organization) -> QuerySet[Feedback, dict[str, Any]]:
    """Open concerns and challenges per goal: rows `{"target_id", "kind", "n"}`."""
    return (
        Feedback.objects.filter(
            organization=org, target_type=SubjectType.GOAL, kind__in=[FeedbackKind.CONCERN, FeedbackKind.CHALLENGE]
        )
        .exclude(status=FeedbackStatus.RESOLVED)
        .values("target_id", "kind")
        .annotate(n=Count("id"))
        .order_by()
    )


def scoring_teams(*, org: Organization) -> QuerySet[Team]:
    """Teams with their parent's lead and their latest assessment."""
    latest = Assessment.objects.filter(team=OuterRef("pk")).order_by("-created_at", "-id")
    return (
        Team.objects.filter(organization=org)
        .annotate(
            a_alignment=Subquery(latest.values("alignment")[:1]),
            a_confidence=Subquery(latest.values("confidence")[:1]),
            a_mode=Subquery(latest.values("recommended_mode")[:1]),
            a_created=Subquery(latest.values("created_at")[:1]),
        )
        .order_by("id")
    )


def last_checkins_by_author(*, org: Organization) -> QuerySet[CheckIn, dict[str, Any]]:
    """The last check-in per (team of the goal, author): rows `{"goal__team_id", "author_id", "last"}`."""
    return (
        CheckIn.objects.filter(organization=org, goal__team__isnull=False)
        .values("goal__team_id", "author_id")
        .annotate(last=Max("created_at"))
        .order_by()
    )


def divergences_due(*, org: Organization, today: date) -> QuerySet[Divergence]:
    rows = Divergence.objects.filter(organization=org, status=Divergence.Status.ACTIVE, review_on__lt=today)
    return rows.order_by("team_id", "id")


def follow_ups_due(*, org: Organization, today: date) -> QuerySet[SteeringDecision]:
    rows = SteeringDecision.objects.filter(organization=org, follow_up_on__lt=today, follow_up_done_at__isnull=True)
    return rows.exclude(subject_id="").order_by("follow_up_on", "id")
