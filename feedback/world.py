"""Loading the world a rescore scores and steers from (`feedback.inputs.World`): everything
set-based, a fixed number of queries whatever the size of the organization."""

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any, cast

from django.db.models import Count, Max, OuterRef, Subquery

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
from feedback.models import (
    ACTIVE_CORRECTION,
    Assessment,
    CheckIn,
    CourseCorrection,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    ScoreSnapshot,
    SteeringDecision,
    TargetType,
)
from goals.models import Divergence, Goal, GoalStatus, Metric, MetricRole, Reading
from teams.models import Organization, Team


def load_world(org: Organization, now: datetime) -> World:
    now_ts = now.timestamp()
    goals = _load_goals(org)
    teams = _load_teams(org)
    previous = {
        (s.subject_type, s.subject_id): s.score
        for s in ScoreSnapshot.objects.filter(organization=org, pk__in=latest_snapshot_ids(org))
    }
    active = [
        ActiveCorrection(c.subject_type, c.subject_id, c.trigger, c.review_by, c.extension_count)
        for c in CourseCorrection.objects.filter(ACTIVE_CORRECTION, organization=org)
    ]
    today = now.astimezone(UTC).date()
    return World(
        rules=org.rule_settings, now_ts=now_ts, today=today, goals=goals, teams=teams,
        scores={}, previous_scores=previous, active=active,
        divergences_due=_divergences_due(org, today), follow_ups_due=_follow_ups_due(org, today),
    )  # fmt: skip


def _divergences_due(org: Organization, today: date) -> list[DueDivergence]:
    rows = Divergence.objects.filter(organization=org, status=Divergence.Status.ACTIVE, review_on__lt=today)
    return [DueDivergence(d.team_id, d.approach, d.review_on) for d in rows.order_by("team_id")]


def _follow_ups_due(org: Organization, today: date) -> list[DueFollowUp]:
    rows = SteeringDecision.objects.filter(
        organization=org, follow_up_on__lt=today, follow_up_done_at__isnull=True
    ).exclude(subject_id="")
    return [
        DueFollowUp(d.pk, d.subject_type, d.subject_id, d.team_id, d.outcome, cast(date, d.follow_up_on))
        for d in rows.order_by("follow_up_on", "id")
    ]


def latest_snapshot_ids(org: Organization, up_to: datetime | None = None) -> Any:
    newest = ScoreSnapshot.objects.filter(
        organization=org, subject_type=OuterRef("subject_type"), subject_id=OuterRef("subject_id")
    ).order_by("-computed_at", "-id")
    if up_to is not None:
        newest = newest.filter(computed_at__lte=up_to)
    return (
        ScoreSnapshot.objects.filter(organization=org)
        .values("subject_type", "subject_id")
        .annotate(newest=Subquery(newest.values("id")[:1]))
        .values("newest")
    )


def _load_goals(org: Organization) -> list[GoalInputs]:
    latest_checkin = CheckIn.objects.filter(goal=OuterRef("pk")).order_by("-created_at", "-id")
    rows = (
        Goal.objects.filter(organization=org, status=GoalStatus.ACTIVE)
        .annotate(
            strategy_count=Count("strategy_links", distinct=True),
            latest_confidence=Subquery(latest_checkin.values("confidence")[:1]),
            last_checkin_at=Subquery(latest_checkin.values("created_at")[:1]),
        )
        .order_by("id")
    )
    metrics: dict[Any, list[MetricInputs]] = defaultdict(list)
    nth_reading = Reading.objects.filter(metric=OuterRef("pk")).order_by("-observed_at").values("id")
    min_readings = org.rule_settings["likely_miss_min_readings"]
    rows_of_metrics = Metric.objects.filter(organization=org, goal__status=GoalStatus.ACTIVE).annotate(
        nth_reading=Subquery(nth_reading[min_readings - 1 : min_readings])
    )
    guardrails: dict[Any, list[GuardrailInputs]] = defaultdict(list)
    for m in rows_of_metrics.order_by("id"):
        if m.role == MetricRole.GUARDRAIL:
            if m.threshold is not None:
                guardrails[m.goal_id].append(GuardrailInputs(m.id, m.name, m.direction, m.threshold, m.current, m.unit))
            continue
        metrics[m.goal_id].append(
            MetricInputs(
                m.id,
                m.name,
                m.baseline,
                m.target,
                m.weight,
                m.forecast,
                m.stale_after_days,
                m.last_reading_ts,
                m.forecast_low,
                m.forecast_high,
                m.p_hit,
                enough_readings=m.nth_reading is not None,
            )
        )
    concerns, challenges = _open_feedback_counts(org, TargetType.GOAL)
    return [
        GoalInputs(
            id=g.id,
            title=g.title,
            team_id=g.team_id,
            parent_id=g.parent_id,
            owner_id=g.owner_id,
            weight=g.weight,
            progress=g.progress,
            window_start_ts=g.window_start_ts,
            window_end_ts=g.window_end_ts,
            hypothesis=g.hypothesis,
            strategy_count=g.strategy_count,
            latest_confidence=g.latest_confidence,
            last_checkin_ts=_ts(g.last_checkin_at),
            open_concerns=concerns[str(g.id)],
            open_challenges=challenges[str(g.id)],
            metrics=tuple(metrics[g.id]),
            guardrails=tuple(guardrails[g.id]),
        )
        for g in rows
    ]


def _open_feedback_counts(org: Organization, target_type: str) -> tuple[dict[str, int], dict[str, int]]:
    concerns: dict[str, int] = defaultdict(int)
    challenges: dict[str, int] = defaultdict(int)
    rows = (
        Feedback.objects.filter(
            organization=org, target_type=target_type, kind__in=[FeedbackKind.CONCERN, FeedbackKind.CHALLENGE]
        )
        .exclude(status=FeedbackStatus.RESOLVED)
        .values("target_id", "kind")
        .annotate(n=Count("id"))
    )
    for row in rows:
        (concerns if row["kind"] == FeedbackKind.CONCERN else challenges)[row["target_id"]] += row["n"]
    return concerns, challenges


def _load_teams(org: Organization) -> dict[Any, TeamInputs]:
    latest = Assessment.objects.filter(team=OuterRef("pk")).order_by("-created_at", "-id")
    teams = (
        Team.objects.filter(organization=org)
        .select_related("parent")
        .annotate(
            a_alignment=Subquery(latest.values("alignment")[:1]),
            a_confidence=Subquery(latest.values("confidence")[:1]),
            a_mode=Subquery(latest.values("recommended_mode")[:1]),
            a_created=Subquery(latest.values("created_at")[:1]),
        )
    )
    lead_checkins = {
        (row["goal__team_id"], row["author_id"]): row["last"]
        for row in CheckIn.objects.filter(organization=org, goal__team__isnull=False)
        .values("goal__team_id", "author_id")
        .annotate(last=Max("created_at"))
    }
    result = {}
    for team in teams:
        assessment = None
        if team.a_alignment is not None:
            assessment = AssessmentInputs(team.a_alignment, team.a_confidence, team.a_mode, _ts(team.a_created) or 0.0)
        result[team.id] = TeamInputs(
            id=team.id, name=team.name, lead_id=team.lead_id,
            parent_lead_id=team.parent.lead_id if team.parent else None,
            latest_assessment=assessment,
            last_lead_checkin_ts=_ts(lead_checkins.get((team.id, team.lead_id))),
        )  # fmt: skip
    return result


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None
