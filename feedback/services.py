"""Writes for check-ins, assessments and feedback. Each owes the workers a rescore."""

from typing import Any

from django.db import transaction

from alignment_service.activity.services import activity_record
from alignment_service.api.access import Access
from alignment_service.errors import Conflict, PermissionDenied, ValidationFailed
from alignment_service.notifications.services import notify
from feedback import matrix, selectors
from feedback.models import Assessment, CheckIn, Feedback, FeedbackKind, FeedbackReply, FeedbackStatus, TargetType
from goals.models import Goal
from goals.services import owe_rescore
from teams.models import Team

STATUS_ORDER = [FeedbackStatus.OPEN, FeedbackStatus.ACKNOWLEDGED, FeedbackStatus.RESOLVED]


@transaction.atomic
def checkin_create(*, access: Access, goal: Goal, summary: str, confidence: int, blockers: str = "") -> CheckIn:
    check_in = CheckIn.objects.create(
        organization=access.org,
        goal=goal,
        author=access.user,
        summary=summary,
        confidence=confidence,
        blockers=blockers,
    )
    activity_record(
        access=access, verb="checkin.created", subject_type="goal", subject_id=goal.pk,
        summary=f"checked in on '{goal.title}' with confidence {confidence}/10", data={"check_in": str(check_in.pk)},
    )  # fmt: skip
    owe_rescore(access.org)
    return check_in


def may_assess(access: Access, team: Team) -> bool:
    """Admins, the team's lead and the lead of its parent team may assess it."""
    if access.is_admin:
        return True
    user_id = access.user.pk if access.user else None
    parent_lead = team.parent.lead_id if team.parent_id and team.parent else None
    return user_id is not None and user_id in (team.lead_id, parent_lead)


@transaction.atomic
def assessment_create(*, access: Access, team: Team, alignment: int, confidence: int, note: str = "") -> Assessment:
    """Record a leader's judgement; its quadrant and recommended mode come from the matrix."""
    if not may_assess(access, team):
        raise PermissionDenied("Only the team's lead, its parent team's lead or an admin can assess it.")
    quadrant, mode = matrix.classify(alignment=alignment, confidence=confidence)
    assessment = Assessment.objects.create(
        organization=access.org, team=team, assessor=access.user, alignment=alignment, confidence=confidence,
        note=note, quadrant=quadrant, recommended_mode=mode,
    )  # fmt: skip
    activity_record(
        access=access, verb="assessment.created", subject_type="team", subject_id=team.pk,
        summary=f"assessed {team.name}: alignment {alignment}/5, confidence {confidence}/5 ({quadrant.label.lower()})",
        data={"assessment": str(assessment.pk), "quadrant": quadrant, "recommended_mode": mode},
    )  # fmt: skip
    owe_rescore(access.org)
    return assessment


@transaction.atomic
def feedback_create(
    *, access: Access, target_type: str, target_id: str, kind: str, body: str, anonymous: bool = False
) -> Feedback:
    target = selectors.feedback_target(org=access.org, target_type=target_type, target_id=target_id)
    if target is None:
        raise ValidationFailed("No such target in this organization.", code="does_not_exist", attr="target_id")
    if target_type == TargetType.DIRECTION:
        target_id = ""
    feedback = Feedback.objects.create(
        organization=access.org, target_type=target_type, target_id=target_id, kind=kind, body=body,
        anonymous=anonymous, author=access.user,
    )  # fmt: skip
    label = selectors.target_label(target_type, target)
    activity_record(
        access=access, verb="feedback.created", subject_type=target_type, subject_id=feedback.target_id,
        summary=f"left {'a' if kind != FeedbackKind.IDEA else 'an'} {kind} on {label}",
        data={"feedback": str(feedback.pk), "kind": kind}, anonymous=anonymous,
    )  # fmt: skip
    author_id = access.user.pk if access.user else None
    stewards = selectors.target_stewards(org=access.org, target_type=target_type, target=target) - {author_id}
    notify(
        org=access.org, recipient_ids=stewards, kind="feedback.created", title=f"New {kind} on {label}",
        body=body[:1000], subject_type="feedback", subject_id=feedback.pk, dedupe_key=f"feedback.created:{feedback.pk}",
    )  # fmt: skip
    owe_rescore(access.org)
    return feedback


@transaction.atomic
def feedback_set_status(*, access: Access, feedback: Feedback, status: str) -> Feedback:
    """Move feedback forward: open → acknowledged → resolved, by the target's owner or lead."""
    feedback = Feedback.objects.select_for_update().get(pk=feedback.pk, organization=access.org)
    target = selectors.feedback_target(org=access.org, target_type=feedback.target_type, target_id=feedback.target_id)
    user_id = access.user.pk if access.user else None
    if not access.is_admin and user_id not in selectors.target_stewards(
        org=access.org, target_type=feedback.target_type, target=target
    ):
        raise PermissionDenied("Only the target's owner or lead, or an admin, can change this feedback's status.")
    if status == feedback.status:
        return feedback
    if STATUS_ORDER.index(FeedbackStatus(status)) < STATUS_ORDER.index(FeedbackStatus(feedback.status)):
        raise Conflict(f"Feedback that is {feedback.status} cannot go back to {status}.", code="status_backwards")
    feedback.status = status
    feedback.save(update_fields=["status", "updated_at"])
    activity_record(
        access=access, verb=f"feedback.{status}", subject_type=feedback.target_type, subject_id=feedback.target_id,
        summary=f"marked a {feedback.kind} as {status}", data={"feedback": str(feedback.pk)},
    )  # fmt: skip
    owe_rescore(access.org)
    return feedback


@transaction.atomic
def feedback_reply(*, access: Access, feedback: Feedback, body: str) -> FeedbackReply:
    reply = FeedbackReply.objects.create(organization=access.org, feedback=feedback, author=access.user, body=body)
    activity_record(
        access=access, verb="feedback.replied", subject_type=feedback.target_type, subject_id=feedback.target_id,
        summary=f"replied to a {feedback.kind}", data={"feedback": str(feedback.pk), "reply": str(reply.pk)},
    )  # fmt: skip
    recipients: set[Any] = {feedback.author_id} - {access.user.pk if access.user else None, None}
    notify(
        org=access.org, recipient_ids=recipients, kind="feedback.replied", title=f"A reply to your {feedback.kind}",
        body=body[:1000], subject_type="feedback", subject_id=feedback.pk, dedupe_key=f"feedback.replied:{reply.pk}",
    )  # fmt: skip
    return reply
