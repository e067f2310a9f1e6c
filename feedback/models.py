"""The iteration loop: check-ins on goals, leadership assessments of teams, and feedback."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from goals.models import Goal
from teams.models import Organization, Team


class CheckIn(models.Model):
    """A progress note on a goal with the author's confidence (0..10) that it will be met."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="check_ins")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    summary = models.TextField()
    confidence = models.PositiveSmallIntegerField()
    blockers = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        verbose_name = "check-in"
        verbose_name_plural = "check-ins"
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(confidence__lte=10), name="checkin_confidence_range")]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["goal", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"Check-in on {self.goal_id} ({self.confidence}/10)"


class Quadrant(models.TextChoices):
    FULL_SUPPORT = "full_support", "Full support"
    DIVERGENCE_PERMITTED = "divergence_permitted", "Divergence permitted"
    NEEDS_GUIDANCE = "needs_guidance", "Needs guidance"
    CRITICAL = "critical", "Critical"


class LeadershipMode(models.TextChoices):
    SCALABLE = "scalable", "Scalable: autonomy, light-touch check-ins"
    SUPPORTED_DIVERGENCE = "supported_divergence", "Supported divergence: watch its metrics"
    SELECTIVE_MICROMANAGEMENT = "selective_micromanagement", "Selective micromanagement: temporary guidance"
    CRITICAL = "critical", "Critical: pursue alignment or rebuild confidence now"


class Assessment(models.Model):
    """A leader's judgement of a team: alignment and confidence, 1..5 each. The latest counts."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="assessments")
    assessor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    alignment = models.PositiveSmallIntegerField()
    confidence = models.PositiveSmallIntegerField()
    note = models.TextField(blank=True, default="")
    quadrant = models.CharField(max_length=24, choices=Quadrant.choices, editable=False)
    recommended_mode = models.CharField(max_length=32, choices=LeadershipMode.choices, editable=False)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(alignment__gte=1, alignment__lte=5, confidence__gte=1, confidence__lte=5),
                name="assessment_scores_range",
            )
        ]
        indexes = [models.Index(fields=["team", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.team_id}: {self.quadrant}"


class SubjectType(models.TextChoices):
    """What a piece of feedback, a score or a course correction is about. Each field allows
    the subset its concept has: `FEEDBACK_TARGETS`, `SCORE_SUBJECTS`, `CORRECTION_SUBJECTS`."""

    GOAL = "goal", "Goal"
    TEAM = "team", "Team"
    STRATEGY = "strategy", "Strategy pillar"
    DIRECTION = "direction", "Direction"
    ORG = "org", "Organization"


def _choices(*subjects: SubjectType) -> list[tuple[str, str]]:
    return [(subject.value, subject.label) for subject in subjects]


FEEDBACK_TARGETS = _choices(SubjectType.GOAL, SubjectType.TEAM, SubjectType.STRATEGY, SubjectType.DIRECTION)
SCORE_SUBJECTS = _choices(SubjectType.GOAL, SubjectType.TEAM, SubjectType.ORG)
CORRECTION_SUBJECTS = _choices(SubjectType.GOAL, SubjectType.TEAM)


class FeedbackKind(models.TextChoices):
    PRAISE = "praise", "Praise"
    CONCERN = "concern", "Concern"
    IDEA = "idea", "Idea"
    CHALLENGE = "challenge", "Challenge"


class FeedbackStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Feedback(models.Model):
    """Feedback on a goal, team, pillar or the direction. An anonymous author is known to
    admins alone."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    target_type = models.CharField(max_length=16, choices=FEEDBACK_TARGETS)
    target_id = models.CharField(max_length=64, blank=True, default="")
    kind = models.CharField(max_length=16, choices=FeedbackKind.choices)
    body = models.TextField()
    anonymous = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=FeedbackStatus.choices, default=FeedbackStatus.OPEN)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "feedback"
        indexes = [
            models.Index(fields=["organization", "target_type", "target_id"]),
            models.Index(fields=["organization", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.target_type} {self.target_id}"


class FeedbackReply(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    anonymous = models.BooleanField(default=False, help_text="The anonymous author of the feedback replying.")
    body = models.TextField()
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "feedback replies"

    def __str__(self) -> str:
        return f"Reply to {self.feedback_id}"


class ScoreSnapshot(models.Model):
    """An explainable score: `components` are weighted contributions in points that add up
    to `score`. A new snapshot is written only when the score or a component changed."""

    id = models.BigAutoField(primary_key=True)
    # No index of its own: those below lead with it (one less to write per snapshot).
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    subject_type = models.CharField(max_length=8, choices=SCORE_SUBJECTS)
    subject_id = models.CharField(max_length=64)
    score = models.FloatField()
    components = models.JSONField(default=dict)
    computed_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-computed_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=0) & Q(score__lte=100), name="score_range"),
            models.UniqueConstraint(
                fields=["organization", "subject_type", "subject_id", "computed_at"], name="score_snapshot_once"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "subject_type", "subject_id", "-computed_at"], name="score_subject"),
            models.Index(fields=["organization", "-computed_at"], name="score_feed"),
        ]

    def __str__(self) -> str:
        return f"{self.subject_type} {self.subject_id}: {self.score}"


class ScoreJob(models.Model):
    """A requested recompute of an organization's scores, polled by the client."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"score job {self.pk} ({self.status})"


class Trigger(models.TextChoices):
    OFF_TRACK = "off_track", "Off track"
    SCORE_BELOW_THRESHOLD = "score_below_threshold", "Score below threshold"
    SCORE_DROP = "score_drop", "Score drop"
    STALE_DATA = "stale_data", "Stale data"
    STALE_CHECKIN = "stale_checkin", "Stale check-in"
    LOW_CONFIDENCE = "low_confidence", "Low confidence"
    HYPOTHESIS_BUSTED = "hypothesis_busted", "Hypothesis busted"
    INTERVENTION = "intervention", "Intervention"
    CRITICAL_QUADRANT = "critical_quadrant", "Critical quadrant"
    INTERVENTION_OVERDUE = "intervention_overdue", "Intervention overdue"
    HANDS_OFF_DRIFT = "hands_off_drift", "Hands-off drift"
    PERMANENT_MICROMANAGEMENT = "permanent_micromanagement", "Permanent micromanagement"
    MANUAL = "manual", "Manual"
    LIKELY_MISS = "likely_miss", "Likely miss"
    GUARDRAIL_BREACHED = "guardrail_breached", "Guardrail breached"
    DIVERGENCE_REVIEW = "divergence_review", "Divergence review"
    FOLLOW_UP_OVERDUE = "follow_up_overdue", "Follow-up overdue"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class CorrectionStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    EXPIRED = "expired", "Expired"


ACTIVE_CORRECTION = Q(status__in=[CorrectionStatus.OPEN, CorrectionStatus.ACKNOWLEDGED])


class CourseCorrection(models.Model):
    """A call to steer: opened by a rule (or a leader), closed when its condition clears.

    At most one open or acknowledged correction per subject and trigger. One explained by
    another (`caused_by`, set by the engine's causal rules) is a symptom of that cause.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: those below lead with it (one less to write per correction).
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    subject_type = models.CharField(max_length=8, choices=CORRECTION_SUBJECTS)
    subject_id = models.CharField(max_length=64)
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    trigger = models.CharField(max_length=32, choices=Trigger.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    detail = models.TextField()
    recommended_mode = models.CharField(max_length=32, choices=LeadershipMode.choices, blank=True, default="")
    status = models.CharField(max_length=14, choices=CorrectionStatus.choices, default=CorrectionStatus.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    review_by = models.DateField(null=True, blank=True)
    extension_reason = models.TextField(blank=True, default="")
    extension_count = models.PositiveSmallIntegerField(default=0)
    # An intervention teaches and ends: what must be true to pull back, the frameworks the
    # leader is teaching, and on pulling back what was taught and whether the criteria were met.
    exit_criteria = models.TextField(blank=True, default="")
    teaching_notes = models.TextField(blank=True, default="")
    taught = models.TextField(blank=True, default="")
    criteria_met = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True, default="")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    caused_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="symptoms",
        help_text="The open correction that explains this one (a symptom neither notifies nor fires webhooks).",
    )  # fmt: skip

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "subject_type", "subject_id", "trigger"],
                condition=ACTIVE_CORRECTION,
                name="one_active_correction_per_subject_trigger",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "status"], name="correction_status"),
            models.Index(fields=["organization", "subject_type", "subject_id"], name="correction_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.trigger} on {self.subject_type} {self.subject_id} ({self.status})"


class AllHandsSnapshot(models.Model):
    """The all-hands view frozen at an instant. `payload` is the data the page rendered (the
    dashboard's response and the score history), so its permalink shows what was shown, forever."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=200)
    payload = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="allhands_snapshot_feed")]

    def __str__(self) -> str:
        return f"{self.title} ({self.created_at:%Y-%m-%d})"


class GoalpostProposal(models.Model):
    """A proposed move of a metric's baseline, target or due date, decided in the open by the
    team's parent lead, a steering-group member above the team, or an admin."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    metric = models.ForeignKey("goals.Metric", on_delete=models.CASCADE, related_name="goalpost_proposals")
    changes = models.JSONField(help_text='The proposed values: any of "baseline", "target", "due_on".')
    reason = models.TextField()
    prompted_by_correction = models.ForeignKey(
        CourseCorrection, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    prompted_by_feedback = models.ForeignKey(
        Feedback, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric"], condition=models.Q(status="pending"), name="one_pending_proposal_per_metric"
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric_id}: {self.changes}"


class AgendaItemKind(models.TextChoices):
    COURSE_CORRECTION = "course_correction", "Course correction"
    DIVERGENCE = "divergence", "Divergence"
    GOALPOST_PROPOSAL = "goalpost_proposal", "Goalpost proposal"
    FEEDBACK = "feedback", "Challenge"


class SteeringDecision(models.Model):
    """A steering group's (or an admin's) decision on an agenda item, with its follow-up."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    item_kind = models.CharField(max_length=20, choices=AgendaItemKind.choices)
    item_id = models.CharField(max_length=64)
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", help_text="The item's team."
    )
    # The goal or team a late follow-up opens its correction on (blank for direction-level items).
    subject_type = models.CharField(max_length=8, blank=True, default="")
    subject_id = models.CharField(max_length=64, blank=True, default="")
    outcome = models.TextField()
    follow_up_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    follow_up_on = models.DateField(null=True, blank=True)
    follow_up_done_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "item_kind", "item_id"], name="decision_item")]

    def __str__(self) -> str:
        return f"{self.item_kind} {self.item_id}: {self.outcome[:40]}"


class RescoreState(models.Model):
    """What the last full rescore of an organization saw (a digest of every input), written by
    the engine alone under its lock: a rescore that finds the same digest soon after has
    nothing to do."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, primary_key=True, related_name="+")
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    scored_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.organization_id} at {self.scored_at}"
