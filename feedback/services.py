"""Writes for check-ins, assessments and feedback. Each owes the workers a rescore."""

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from alignment_service.access import Access
from alignment_service.activity.services import activity_record
from alignment_service.db import is_transient_db_error
from alignment_service.errors import Conflict, PermissionDenied, ValidationFailed
from alignment_service.notifications.services import notify
from alignment_service.notifications.webhooks import emit_event, redact_anonymous
from alignment_service.outbox.services import outbox_enqueue
from feedback import engine, matrix, selectors
from feedback.allhands import allhands_payload
from feedback.audience import announce
from feedback.models import (
    ACTIVE_CORRECTION,
    AllHandsSnapshot,
    Assessment,
    CheckIn,
    CorrectionStatus,
    CourseCorrection,
    Feedback,
    FeedbackKind,
    FeedbackReply,
    FeedbackStatus,
    ScoreJob,
    SubjectType,
    Trigger,
)
from feedback.rules import INTERVENTION_TRIGGERS
from goals.models import Goal
from goals.services import owe_rescore
from teams.models import Organization, Team, User

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
    emit_event(
        org=access.org, event_type="checkin.created", event_key=f"checkin.created:{check_in.pk}",
        data={"id": str(check_in.pk), "goal": str(goal.pk), "author": check_in.author_id, "summary": summary,
              "confidence": confidence, "blockers": blockers},
    )  # fmt: skip
    owe_rescore(access.org, goals=[goal.pk])
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
    owe_rescore(access.org, teams=[team.pk])
    return assessment


@transaction.atomic
def feedback_create(
    *, access: Access, target_type: str, target_id: str, kind: str, body: str, anonymous: bool = False
) -> Feedback:
    target = selectors.feedback_target(org=access.org, target_type=target_type, target_id=target_id)
    if target is None:
        raise ValidationFailed("No such target in this organization.", code="does_not_exist", attr="target_id")
    if target_type == SubjectType.DIRECTION:
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
    _owe_rescore_of(access, feedback.target_type, feedback.target_id)
    emit_event(
        org=access.org, event_type="feedback.created", event_key=f"feedback.created:{feedback.pk}",
        data=redact_anonymous({
            "id": str(feedback.pk), "target_type": target_type, "target_id": feedback.target_id, "kind": kind,
            "body": body, "anonymous": anonymous, "author": feedback.author_id,
        }),
    )  # fmt: skip
    return feedback


@transaction.atomic
def feedback_set_status(*, access: Access, feedback: Feedback, status: str) -> Feedback:
    """Move feedback forward: open → acknowledged → resolved, by the target's owner or lead."""
    feedback = Feedback.objects.select_for_update(no_key=True).get(pk=feedback.pk, organization=access.org)
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
    _owe_rescore_of(access, feedback.target_type, feedback.target_id)
    return feedback


def _owe_rescore_of(access: Access, subject_type: str, subject_id: Any) -> None:
    """A change to a goal or a team owes a rescore of what it can move; any other, of all."""
    if subject_type in (SubjectType.GOAL, "team"):
        owe_rescore(access.org, **{f"{subject_type}s": [subject_id]})
    else:
        owe_rescore(access.org)


@transaction.atomic
def feedback_reply(*, access: Access, feedback: Feedback, body: str) -> FeedbackReply:
    """Reply to feedback; the anonymous author of the feedback stays anonymous in their replies."""
    anonymous = feedback.anonymous and access.user is not None and feedback.author_id == access.user.pk
    reply = FeedbackReply.objects.create(
        organization=access.org, feedback=feedback, author=access.user, body=body, anonymous=anonymous
    )
    activity_record(
        access=access, verb="feedback.replied", subject_type=feedback.target_type, subject_id=feedback.target_id,
        summary=f"replied to a {feedback.kind}", data={"feedback": str(feedback.pk), "reply": str(reply.pk)},
        anonymous=anonymous,
    )  # fmt: skip
    recipients: set[Any] = {feedback.author_id} - {access.user.pk if access.user else None, None}
    notify(
        org=access.org, recipient_ids=recipients, kind="feedback.replied", title=f"A reply to your {feedback.kind}",
        body=body[:1000], subject_type="feedback", subject_id=feedback.pk, dedupe_key=f"feedback.replied:{reply.pk}",
    )  # fmt: skip
    return reply


# --- Course corrections and scores ---------------------------------------------------------------


def may_steer(access: Access, team: Team | None) -> bool:
    """Admins, the subject team's lead, and members of a steering group above it may steer."""
    if access.is_admin:
        return True
    if access.user is None or team is None:
        return False
    if team.lead_id == access.user.pk:
        return True
    return access.user.pk in selectors.steering_members_above(org=access.org, team=team)


def _require_steerer(access: Access, team: Team | None) -> None:
    if not may_steer(access, team):
        raise PermissionDenied(
            "Only the subject team's lead, a member of its steering group or an admin can steer this correction."
        )


@transaction.atomic
def correction_open_manual(
    *, access: Access, subject_type: str, subject: Goal | Team, detail: str, severity: str,
    review_by: date | None = None, assignee: User | None = None,
) -> CourseCorrection:  # fmt: skip
    team = subject.team if isinstance(subject, Goal) else subject
    _require_steerer(access, team)
    if CourseCorrection.objects.filter(
        ACTIVE_CORRECTION, organization=access.org, subject_type=subject_type, subject_id=str(subject.pk),
        trigger=Trigger.MANUAL,
    ).exists():  # fmt: skip
        raise Conflict("A manual correction is already open on this subject.", code="correction_exists")
    latest = selectors.latest_assessment(team=team)
    correction = CourseCorrection.objects.create(
        organization=access.org, subject_type=subject_type, subject_id=str(subject.pk), team=team,
        trigger=Trigger.MANUAL, severity=severity, detail=detail, review_by=review_by, opened_by=access.user,
        assignee=assignee or (team.lead if team else None),
        recommended_mode=latest.recommended_mode if latest else "",
    )  # fmt: skip
    activity_record(
        access=access, verb="course_correction.opened", subject_type=subject_type, subject_id=subject.pk,
        summary=f"opened a manual course correction: {detail[:200]}", data={"correction": str(correction.pk)},
    )  # fmt: skip
    announce(correction, "course_correction.opened")
    return correction


def _lock_active(access: Access, correction: CourseCorrection) -> CourseCorrection:
    correction = (
        CourseCorrection.objects.select_for_update(no_key=True, of=("self",))
        .select_related("team")
        .get(pk=correction.pk, organization=access.org)
    )
    _require_steerer(access, correction.team)
    if correction.status not in (CorrectionStatus.OPEN, CorrectionStatus.ACKNOWLEDGED):
        raise Conflict(f"This correction is already {correction.status}.", code="correction_closed")
    return correction


@transaction.atomic
def correction_acknowledge(*, access: Access, correction: CourseCorrection) -> CourseCorrection:
    correction = _lock_active(access, correction)
    if correction.status == CorrectionStatus.ACKNOWLEDGED:
        return correction
    correction.status = CorrectionStatus.ACKNOWLEDGED
    correction.acknowledged_at = timezone.now()
    correction.save(update_fields=["status", "acknowledged_at"])
    activity_record(
        access=access, verb="course_correction.acknowledged", subject_type=correction.subject_type,
        subject_id=correction.subject_id, summary=f"acknowledged a {correction.trigger} correction",
        data={"correction": str(correction.pk)},
    )  # fmt: skip
    announce(correction, "course_correction.acknowledged")
    return correction


def _require_intervention(correction: CourseCorrection, **given: Any) -> None:
    """Only interventions carry exit criteria and teaching notes, and record what was taught."""
    named = [name for name, value in given.items() if value is not None]
    if named and correction.trigger not in INTERVENTION_TRIGGERS:
        raise ValidationFailed("Only interventions (intervention, critical_quadrant) carry this.", attr=named[0])


@transaction.atomic
def correction_resolve(
    *,
    access: Access,
    correction: CourseCorrection,
    resolution: str,
    taught: str | None = None,
    criteria_met: bool | None = None,
) -> CourseCorrection:
    """Close a correction; pulling back from an intervention records what was taught and
    whether its exit criteria were met."""
    correction = _lock_active(access, correction)
    _require_intervention(correction, taught=taught, criteria_met=criteria_met)
    if correction.trigger in INTERVENTION_TRIGGERS:
        missing = {"taught": taught, "criteria_met": criteria_met}
        absent = {name: ["Pulling back from an intervention records this."] for name, v in missing.items() if v is None}
        if absent:
            raise DjangoValidationError(absent, code="required")
        correction.taught, correction.criteria_met = taught or "", criteria_met
    correction.status = CorrectionStatus.RESOLVED
    correction.resolution = resolution
    correction.resolved_at = timezone.now()
    correction.resolved_by = access.user
    correction.save(update_fields=["status", "resolution", "resolved_at", "resolved_by", "taught", "criteria_met"])
    data: dict[str, Any] = {"correction": str(correction.pk), "resolution": resolution}
    if correction.trigger in INTERVENTION_TRIGGERS:
        data |= {"taught": correction.taught, "criteria_met": correction.criteria_met}
    activity_record(
        access=access, verb="course_correction.resolved", subject_type=correction.subject_type,
        subject_id=correction.subject_id, summary=f"resolved a {correction.trigger} correction", data=data,
    )  # fmt: skip
    announce(correction, "course_correction.resolved")
    _owe_rescore_of(access, correction.subject_type, correction.subject_id)
    return correction


@transaction.atomic
def correction_update(
    *,
    access: Access,
    correction: CourseCorrection,
    review_by: date | None = None,
    extension_reason: str | None = None,
    exit_criteria: str | None = None,
    teaching_notes: str | None = None,
) -> CourseCorrection:
    """Extend a correction's review date (with a reason), or set an intervention's plan."""
    correction = _lock_active(access, correction)
    _require_intervention(correction, exit_criteria=exit_criteria, teaching_notes=teaching_notes)
    if review_by is not None:
        correction = _extend(access, correction, review_by, extension_reason or "")
    plan = {"exit_criteria": exit_criteria, "teaching_notes": teaching_notes}
    plan = {name: value for name, value in plan.items() if value is not None}
    if plan:
        for name, value in plan.items():
            setattr(correction, name, value)
        correction.save(update_fields=list(plan))
        activity_record(
            access=access, verb="course_correction.planned", subject_type=correction.subject_type,
            subject_id=correction.subject_id, summary=f"set the plan of a {correction.trigger} correction",
            data={"correction": str(correction.pk), **plan},
        )  # fmt: skip
    return correction


def _extend(access: Access, correction: CourseCorrection, review_by: date, extension_reason: str) -> CourseCorrection:
    """Move the review date, with a reason; every extension is counted (and watched)."""
    if review_by < timezone.now().date():
        raise ValidationFailed("Must not be in the past.", code="past", attr="review_by")
    old = correction.review_by
    correction.review_by = review_by
    correction.extension_reason = extension_reason
    correction.extension_count += 1
    correction.save(update_fields=["review_by", "extension_reason", "extension_count"])
    activity_record(
        access=access, verb="course_correction.extended", subject_type=correction.subject_type,
        subject_id=correction.subject_id, summary=f"moved a correction's review date from {old} to {review_by}",
        data={"correction": str(correction.pk), "old": str(old), "new": str(review_by), "reason": extension_reason},
    )  # fmt: skip
    _owe_rescore_of(access, correction.subject_type, correction.subject_id)
    return correction


@transaction.atomic
def score_job_request(*, access: Access) -> ScoreJob:
    job = ScoreJob.objects.create(organization=access.org, requested_by=access.user)
    outbox_enqueue(
        org=access.org, task_name="feedback.run_score_job",
        kwargs={"org_id": str(access.org.pk), "job_id": str(job.pk)}, dedupe_key=f"score_job:{access.org.pk}",
    )  # fmt: skip
    activity_record(access=access, verb="scores.recompute_requested", subject_type="org", subject_id=access.org.pk,
                    summary="asked for the scores to be recomputed", data={"job": str(job.pk)})  # fmt: skip
    return job


def score_jobs_run(*, org_id: str) -> str:
    """One rescore for every job of the organization waiting now. A rescore that lost a race
    (another one running, a deadlock) leaves them running for the retry; a bug fails them."""
    ids = list(ScoreJob.objects.filter(organization_id=org_id, status__in=ScoreJob.ACTIVE).values_list("pk", flat=True))
    ScoreJob.objects.filter(pk__in=ids, started_at__isnull=True).update(started_at=timezone.now())
    ScoreJob.objects.filter(pk__in=ids).update(status=ScoreJob.Status.RUNNING)
    try:
        engine.rescore_org(org=Organization.objects.get(pk=org_id))
    except Exception as exc:
        if not (isinstance(exc, engine.RescoreBusy) or is_transient_db_error(exc)):
            ScoreJob.objects.filter(pk__in=ids).update(
                status=ScoreJob.Status.FAILED, finished_at=timezone.now(), error=type(exc).__name__
            )
        raise
    ScoreJob.objects.filter(pk__in=ids).update(status=ScoreJob.Status.SUCCEEDED, finished_at=timezone.now())
    return "succeeded"


@transaction.atomic
def allhands_snapshot_create(*, access: Access, title: str) -> AllHandsSnapshot:
    """Freeze the all-hands view as of now (admins only)."""
    if not access.is_admin:
        raise PermissionDenied("Only an admin can freeze the all-hands view.")
    title = title.strip()[:200] or f"All-hands {timezone.now():%Y-%m-%d}"
    snapshot = AllHandsSnapshot.objects.create(
        organization=access.org, title=title, payload=allhands_payload(org=access.org), created_by=access.user
    )
    activity_record(
        access=access, verb="allhands.frozen", subject_type="org", subject_id=access.org.pk,
        summary=f"froze the all-hands view as '{title}'", data={"snapshot": str(snapshot.pk)},
    )  # fmt: skip
    return snapshot
