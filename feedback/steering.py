"""Steering beyond the anchors: goalposts moved in the open, permission to diverge on record,
and the decisions a steering group takes on its agenda.

Who decides (see README, roles): the team's parent lead, a member of a steering group above
the team, or an admin approves goalpost proposals; an admin or a steering-group member above
the team approves a divergence; decisions are recorded by admins and by members of a steering
group above the item's team.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

import goals.services
from alignment_service.access import Access, org_admin_ids
from alignment_service.activity.services import activity_record
from alignment_service.errors import Conflict, PermissionDenied, ValidationFailed
from alignment_service.notifications.services import notify
from alignment_service.notifications.webhooks import emit_event
from feedback import selectors
from feedback.models import (
    AgendaItemKind,
    CourseCorrection,
    Feedback,
    GoalpostProposal,
    Quadrant,
    SteeringDecision,
    SubjectType,
)
from goals.models import Divergence, Metric
from teams.models import Organization, Team, User

# --- Who may decide ------------------------------------------------------------------------------


def steers_team(access: Access, team: Team | None) -> bool:
    """An admin, or a member of a steering group that is the team or one of its ancestors."""
    if access.is_admin:
        return True
    if access.user is None or team is None:
        return False
    return access.user.pk in selectors.steering_members_above(org=access.org, team=team)


# --- Goalposts moved in the open -----------------------------------------------------------------


@dataclass(frozen=True)
class Goalposts:
    baseline: float | None = None
    target: float | None = None
    due_on: date | None = None

    def as_fields(self) -> dict[str, Any]:
        return {name: value for name, value in vars(self).items() if value is not None}


@transaction.atomic
def goalpost_propose(
    *,
    access: Access,
    metric: Metric,
    goalposts: Goalposts,
    reason: str,
    prompted_by_correction: CourseCorrection | None = None,
    prompted_by_feedback: Feedback | None = None,
) -> GoalpostProposal:
    """Propose moving a metric's baseline, target or due date, with a reason (visible to all)."""
    fields = goalposts.as_fields()
    if not fields:
        raise ValidationFailed("Propose a new baseline, target or due_on.", code="empty", attr="baseline")
    unchanged = [name for name, value in fields.items() if getattr(metric, name) == value]
    if unchanged:
        raise ValidationFailed("This is the metric's value already.", code="unchanged", attr=unchanged[0])
    if GoalpostProposal.objects.filter(metric=metric, status=GoalpostProposal.Status.PENDING).exists():
        raise Conflict("A proposal for this metric is already waiting for a decision.", code="proposal_pending")
    proposal = GoalpostProposal.objects.create(
        organization=access.org, metric=metric, changes=_jsonable(fields), reason=reason, proposed_by=access.user,
        prompted_by_correction=prompted_by_correction, prompted_by_feedback=prompted_by_feedback,
    )  # fmt: skip
    _announce_proposal(access, proposal, "created", f"proposed moving the goalposts of '{metric.name}': {reason}")
    deciders = _proposal_deciders(access, metric)
    notify(
        org=access.org, recipient_ids=deciders - {access.user.pk if access.user else None}, kind="goalpost_proposal",
        title=f"Goalposts of {metric.name}: a proposal waits for your decision", body=reason,
        subject_type="goalpost_proposal", subject_id=proposal.pk, dedupe_key=f"goalpost_proposal:{proposal.pk}",
    )  # fmt: skip
    return proposal


def _proposal_deciders(access: Access, metric: Metric) -> set[Any]:
    team = metric.goal.team
    deciders = org_admin_ids(org=access.org)
    if team is not None:
        deciders |= selectors.steering_members_above(org=access.org, team=team)
        if team.parent is not None and team.parent.lead_id:
            deciders.add(team.parent.lead_id)
    return deciders


def may_decide_proposal(access: Access, metric: Metric) -> bool:
    team = metric.goal.team
    if steers_team(access, team):
        return True
    return bool(access.user and team and team.parent and team.parent.lead_id == access.user.pk)


@goals.services.writes_derived_values
def goalpost_decide(*, access: Access, proposal: GoalpostProposal, approve: bool, note: str = "") -> GoalpostProposal:
    """Approve (apply the change, with the reason and both people in the metric's history) or
    reject a pending proposal."""
    proposal = (
        GoalpostProposal.objects.select_for_update(no_key=True, of=("self",))
        .select_related("metric__goal__team__parent", "proposed_by")
        .get(pk=proposal.pk, organization=access.org)
    )
    if proposal.status != GoalpostProposal.Status.PENDING:
        raise Conflict(f"This proposal is already {proposal.status}.", code="proposal_decided")
    if not may_decide_proposal(access, proposal.metric):
        raise PermissionDenied(
            "Only the team's parent lead, a member of a steering group above it or an admin decides this."
        )
    if access.user is not None and proposal.proposed_by_id == access.user.pk:
        raise PermissionDenied("Someone else decides a proposal of yours.")
    if approve:
        changes = {**proposal.changes}
        if "due_on" in changes:
            changes["due_on"] = date.fromisoformat(changes["due_on"])
        goals.services.metric_update(
            access=access, metric=proposal.metric, reason=proposal.reason, proposed_by=proposal.proposed_by,
            **changes,
        )  # fmt: skip
    proposal.status = GoalpostProposal.Status.APPROVED if approve else GoalpostProposal.Status.REJECTED
    proposal.decided_by, proposal.decided_at, proposal.decision_note = access.user, timezone.now(), note
    proposal.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    verb = "approved" if approve else "rejected"
    _announce_proposal(access, proposal, verb, f"{verb} moving the goalposts of '{proposal.metric.name}'")
    if proposal.proposed_by_id:
        notify(
            org=access.org, recipient_ids=[proposal.proposed_by_id], kind="goalpost_proposal",
            title=f"Your proposal for {proposal.metric.name} was {verb}", body=note or proposal.reason,
            subject_type="goalpost_proposal", subject_id=proposal.pk,
            dedupe_key=f"goalpost_proposal.{verb}:{proposal.pk}",
        )  # fmt: skip
    return proposal


def _announce_proposal(access: Access, proposal: GoalpostProposal, verb: str, summary: str) -> None:
    _announce(access, f"goalpost_proposal.{verb}", ("metric", proposal.metric_id), proposal_payload(proposal), summary)


def _announce(access: Access, event_type: str, subject: tuple[str, Any], data: dict[str, Any], summary: str) -> None:
    """The activity entry and the webhook event of a steering record's change (same data)."""
    activity_record(
        access=access, verb=event_type, subject_type=subject[0], subject_id=subject[1], summary=summary, data=data
    )
    emit_event(org=access.org, event_type=event_type, data=data, event_key=f"{event_type}:{data['id']}")


def proposal_payload(proposal: GoalpostProposal) -> dict[str, Any]:
    return {
        "id": str(proposal.pk), "metric": str(proposal.metric_id), "changes": proposal.changes,
        "reason": proposal.reason, "status": proposal.status, "proposed_by": proposal.proposed_by_id,
        "decided_by": proposal.decided_by_id, "decision_note": proposal.decision_note,
    }  # fmt: skip


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value.isoformat() if isinstance(value, date) else value for name, value in fields.items()}


# --- Permission to diverge -----------------------------------------------------------------------


@transaction.atomic
def divergence_record(
    *,
    access: Access,
    team: Team,
    approach: str,
    rationale: str,
    success_metric: Metric,
    success_value: float,
    approved_by: User,
    review_on: date,
) -> Divergence:
    """Put a team's permission to diverge on record (its latest assessment must permit it)."""
    team = Team.objects.select_for_update(no_key=True).get(pk=team.pk, organization=access.org)
    if not (access.is_admin or (access.user is not None and team.lead_id == access.user.pk)):
        raise PermissionDenied("Only the team's lead or an admin records a divergence.")
    latest = selectors.latest_assessment(team=team)
    if latest is None or latest.quadrant != Quadrant.DIVERGENCE_PERMITTED:
        raise Conflict(
            "The team's latest assessment does not permit divergence (low alignment, high confidence).",
            code="divergence_not_permitted",
        )
    approvers = org_admin_ids(org=access.org) | selectors.steering_members_above(org=access.org, team=team)
    if approved_by.pk not in approvers:
        raise ValidationFailed(
            "Must be an admin or a member of a steering group above the team.", code="not_an_approver",
            attr="approved_by",
        )  # fmt: skip
    if review_on <= timezone.now().date():
        raise ValidationFailed("Must be in the future.", code="past", attr="review_on")
    if Divergence.objects.filter(team=team, status=Divergence.Status.ACTIVE).exists():
        raise Conflict("This team has an active divergence; close it first.", code="divergence_active")
    divergence = Divergence.objects.create(
        organization=access.org, team=team, approach=approach, rationale=rationale, success_metric=success_metric,
        success_value=success_value, approved_by=approved_by, review_on=review_on, recorded_by=access.user,
    )  # fmt: skip
    _announce_divergence(access, divergence, "recorded", f"recorded that {team.name} may diverge: {approach[:200]}")
    goals.services.owe_rescore(access.org)
    return divergence


@transaction.atomic
def divergence_close(*, access: Access, divergence: Divergence, note: str = "") -> Divergence:
    """Close a divergence and report whether its success criteria were met."""
    divergence = (
        Divergence.objects.select_for_update(no_key=True, of=("self",))
        .select_related("team", "success_metric")
        .get(pk=divergence.pk, organization=access.org)
    )
    if divergence.status != Divergence.Status.ACTIVE:
        raise Conflict("This divergence is already closed.", code="divergence_closed")
    team = divergence.team
    if not (steers_team(access, team) or (access.user is not None and team.lead_id == access.user.pk)):
        raise PermissionDenied("Only the team's lead, a member of a steering group above it or an admin closes this.")
    met = divergence.criteria_met()
    divergence.status, divergence.closed_at, divergence.closed_by = (
        Divergence.Status.CLOSED,
        timezone.now(),
        access.user,
    )
    divergence.outcome = Divergence.Outcome.MET if met else Divergence.Outcome.MISSED
    divergence.outcome_value, divergence.closing_note = divergence.success_metric.current, note
    divergence.save(update_fields=["status", "closed_at", "closed_by", "outcome", "outcome_value", "closing_note"])
    reached = "met" if met else "missed"
    _announce_divergence(access, divergence, "closed", f"closed {team.name}'s divergence: criteria {reached}")
    goals.services.owe_rescore(access.org)
    return divergence


def _announce_divergence(access: Access, divergence: Divergence, verb: str, summary: str) -> None:
    _announce(
        access, f"divergence.{verb}", (SubjectType.TEAM, divergence.team_id), divergence_payload(divergence), summary
    )


def divergence_payload(divergence: Divergence) -> dict[str, Any]:
    return {
        "id": str(divergence.pk), "team": str(divergence.team_id), "approach": divergence.approach,
        "rationale": divergence.rationale, "success_metric": str(divergence.success_metric_id),
        "success_value": divergence.success_value, "approved_by": divergence.approved_by_id,
        "review_on": divergence.review_on.isoformat(), "status": divergence.status,
        "outcome": divergence.outcome or None, "outcome_value": divergence.outcome_value,
    }  # fmt: skip


# --- Decisions on the agenda ---------------------------------------------------------------------


@transaction.atomic
def decision_record(
    *,
    access: Access,
    item_kind: str,
    item_id: str,
    outcome: str,
    follow_up_owner: User | None = None,
    follow_up_on: date | None = None,
) -> SteeringDecision:
    """Record a decision on an agenda item, with an optional follow-up (owner and date)."""
    team, subject = item_team(access, item_kind, item_id)
    if not steers_team(access, team):
        raise PermissionDenied("Only an admin or a member of a steering group above the item's team decides it.")
    if (follow_up_owner is None) != (follow_up_on is None):
        attr = "follow_up_on" if follow_up_on is None else "follow_up_owner"
        raise ValidationFailed("A follow-up has an owner and a date.", code="required", attr=attr)
    if follow_up_on is not None and follow_up_on < timezone.now().date():
        raise ValidationFailed("Must not be in the past.", code="past", attr="follow_up_on")
    decision = SteeringDecision.objects.create(
        organization=access.org, item_kind=item_kind, item_id=item_id, team=team, outcome=outcome,
        subject_type=subject[0], subject_id=subject[1],
        follow_up_owner=follow_up_owner, follow_up_on=follow_up_on, decided_by=access.user,
    )  # fmt: skip
    data = decision_payload(decision)
    activity_record(
        access=access, verb="decision.recorded", subject_type=item_kind, subject_id=item_id,
        summary=f"decided on a {AgendaItemKind(item_kind).label.lower()}: {outcome[:200]}", data=data,
    )  # fmt: skip
    emit_event(org=access.org, event_type="decision.recorded", data=data, event_key=f"decision.recorded:{decision.pk}")
    if follow_up_owner is not None:
        notify(
            org=access.org, recipient_ids=[follow_up_owner.pk], kind="decision.follow_up",
            title=f"A steering decision needs your follow-up by {follow_up_on}", body=outcome,
            subject_type="decision", subject_id=decision.pk, dedupe_key=f"decision.follow_up:{decision.pk}",
        )  # fmt: skip
    goals.services.owe_rescore(access.org)
    return decision


@transaction.atomic
def decision_complete_follow_up(*, access: Access, decision: SteeringDecision) -> SteeringDecision:
    decision = (
        SteeringDecision.objects.select_for_update(no_key=True, of=("self",))
        .select_related("team")
        .get(pk=decision.pk, organization=access.org)
    )
    if decision.follow_up_on is None:
        raise Conflict("This decision has no follow-up.", code="no_follow_up")
    if decision.follow_up_done_at is not None:
        return decision
    owner = access.user is not None and decision.follow_up_owner_id == access.user.pk
    if not (owner or steers_team(access, decision.team)):
        raise PermissionDenied("Only the follow-up's owner, its steering group or an admin completes it.")
    decision.follow_up_done_at = timezone.now()
    decision.save(update_fields=["follow_up_done_at"])
    activity_record(
        access=access, verb="decision.followed_up", subject_type=decision.item_kind, subject_id=decision.item_id,
        summary="completed a steering decision's follow-up", data={"decision": str(decision.pk)},
    )  # fmt: skip
    goals.services.owe_rescore(access.org)
    return decision


def decision_payload(decision: SteeringDecision) -> dict[str, Any]:
    return {
        "id": str(decision.pk), "item_kind": decision.item_kind, "item_id": decision.item_id,
        "team": str(decision.team_id) if decision.team_id else None, "outcome": decision.outcome,
        "follow_up_owner": decision.follow_up_owner_id,
        "follow_up_on": decision.follow_up_on.isoformat() if decision.follow_up_on else None,
        "decided_by": decision.decided_by_id,
    }  # fmt: skip


def item_team(access: Access, item_kind: str, item_id: str) -> tuple[Team | None, tuple[str, str]]:
    """The team an agenda item belongs to and the goal or team it is about; 400 if no such item."""
    try:
        return _item_team(access.org, item_kind, item_id)
    except (
        CourseCorrection.DoesNotExist, Divergence.DoesNotExist, GoalpostProposal.DoesNotExist, Feedback.DoesNotExist,
        ValueError, TypeError, DjangoValidationError,
    ):  # fmt: skip
        raise ValidationFailed("No such item in this organization.", code="does_not_exist", attr="item_id") from None


def _item_team(org: Organization, item_kind: str, item_id: str) -> tuple[Team | None, tuple[str, str]]:
    if item_kind == AgendaItemKind.COURSE_CORRECTION:
        correction = CourseCorrection.objects.select_related("team").get(organization=org, pk=item_id)
        return correction.team, (correction.subject_type, correction.subject_id)
    if item_kind == AgendaItemKind.DIVERGENCE:
        divergence = Divergence.objects.select_related("team").get(organization=org, pk=item_id)
        return divergence.team, (SubjectType.TEAM, str(divergence.team_id))
    if item_kind == AgendaItemKind.GOALPOST_PROPOSAL:
        proposal = GoalpostProposal.objects.select_related("metric__goal__team").get(organization=org, pk=item_id)
        return proposal.metric.goal.team, (SubjectType.GOAL, str(proposal.metric.goal_id))
    feedback = Feedback.objects.get(organization=org, pk=item_id)
    team = selectors.feedback_target_team(org=org, feedback=feedback)
    if feedback.target_type == SubjectType.GOAL:
        return team, (SubjectType.GOAL, feedback.target_id)
    return team, (SubjectType.TEAM, str(team.pk)) if team is not None else ("", "")
