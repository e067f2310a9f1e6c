"""Reads for check-ins, assessments and feedback."""

import uuid
from typing import Any

from django.db.models import Count, QuerySet

from alignment_service.api.access import Role
from feedback.models import (
    Assessment,
    CheckIn,
    CourseCorrection,
    Feedback,
    FeedbackReply,
    ScoreJob,
    ScoreSnapshot,
    TargetType,
)
from goals.models import Goal, StrategyPillar
from teams.models import Membership, Organization, Team, TeamKind, TeamMember


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


_TARGET_MODELS: dict[str, Any] = {TargetType.GOAL: Goal, TargetType.TEAM: Team, TargetType.STRATEGY: StrategyPillar}


def is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def feedback_target(*, org: Organization, target_type: str, target_id: str) -> Any:
    """The object feedback is about, or None; the direction is the organization itself."""
    if target_type == TargetType.DIRECTION:
        return org
    model = _TARGET_MODELS[target_type]
    if not is_uuid(target_id):
        return None
    return model.objects.filter(organization=org, pk=target_id).select_related(*_steward_relations(target_type)).first()


def feedback_target_team(*, org: Organization, feedback: Feedback) -> Team | None:
    """The team that answers for feedback's target (None for the direction and company items)."""
    target = feedback_target(org=org, target_type=feedback.target_type, target_id=feedback.target_id)
    if target is None or feedback.target_type == TargetType.DIRECTION:
        return None
    return target if feedback.target_type == TargetType.TEAM else target.team


def _steward_relations(target_type: str) -> tuple[str, ...]:
    return ("team",) if target_type in (TargetType.GOAL, TargetType.STRATEGY) else ()


def target_label(target_type: str, target: Any) -> str:
    if target_type == TargetType.DIRECTION:
        return "the direction"
    name = getattr(target, "title", None) or getattr(target, "name", "")
    return f"{target_type} '{name}'"


def target_stewards(*, org: Organization, target_type: str, target: Any) -> set[Any]:
    """Who answers for a target: a goal's or pillar's owner and its team's lead; a team's
    lead; the direction's admins and owners."""
    if target is None:
        return set()
    if target_type == TargetType.DIRECTION:
        return set(
            Membership.objects.filter(organization=org, role__in=[Role.ADMIN, Role.OWNER]).values_list(
                "user_id", flat=True
            )
        )
    if target_type == TargetType.TEAM:
        return {target.lead_id} - {None}
    team = target.team
    return {target.owner_id, team.lead_id if team else None} - {None}


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


def score_list(*, org: Organization) -> QuerySet[ScoreSnapshot]:
    return ScoreSnapshot.objects.filter(organization=org)


def score_job(*, org: Organization, job_id: Any) -> ScoreJob | None:
    return ScoreJob.objects.filter(organization=org, pk=job_id).first()
