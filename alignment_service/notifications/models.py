import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Notification(models.Model):
    """An item of a person's in-app inbox. `dedupe_key` makes recording it idempotent, so a
    redelivered task never notifies twice."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("teams.Organization", on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=60)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, default="")
    subject_type = models.CharField(max_length=40)
    subject_id = models.CharField(max_length=64)
    dedupe_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "dedupe_key"], name="notification_once_per_recipient")
        ]
        indexes = [models.Index(fields=["recipient", "-created_at"], name="notification_inbox")]

    def __str__(self) -> str:
        return f"{self.recipient_id}: {self.title}"


class WebhookEventType(models.TextChoices):
    """Every event a webhook endpoint can subscribe to (an empty subscription means all)."""

    COURSE_CORRECTION_OPENED = "course_correction.opened", "A course correction was opened"
    COURSE_CORRECTION_ACKNOWLEDGED = "course_correction.acknowledged", "A course correction was acknowledged"
    COURSE_CORRECTION_RESOLVED = "course_correction.resolved", "A course correction was resolved"
    SCORE_THRESHOLD_CROSSED = "score.threshold_crossed", "A score crossed the organization's threshold"
    GOAL_CREATED = "goal.created", "A goal was created"
    GOAL_UPDATED = "goal.updated", "A goal was updated"
    CHECKIN_CREATED = "checkin.created", "A check-in was recorded"
    FEEDBACK_CREATED = "feedback.created", "Feedback was given"
    GUARDRAIL_BREACHED = "guardrail.breached", "A goal crossed one of its guardrails"
    DIVERGENCE_RECORDED = "divergence.recorded", "A team's permission to diverge was recorded"
    DIVERGENCE_CLOSED = "divergence.closed", "A divergence closed, its criteria met or missed"
    GOALPOST_PROPOSAL_CREATED = "goalpost_proposal.created", "A move of a metric's goalposts was proposed"
    GOALPOST_PROPOSAL_APPROVED = "goalpost_proposal.approved", "A goalpost proposal was approved and applied"
    GOALPOST_PROPOSAL_REJECTED = "goalpost_proposal.rejected", "A goalpost proposal was rejected"
    DECISION_RECORDED = "decision.recorded", "A steering decision was recorded"
    WEBHOOK_PING = "webhook.ping", "A test event sent on request"


class WebhookEndpoint(models.Model):
    """A receiver of an organization's events, signed with its own secret.

    The secret is kept in clear because every delivery is signed with it (HMAC); the API shows it
    only when the endpoint is created and when it is rotated. An inactive endpoint receives
    nothing; `disabled_at`/`disabled_reason` say why the system (or an admin) switched it off.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("teams.Organization", on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list, blank=True, help_text="Event types; empty means every event.")
    active = models.BooleanField(default=True)
    secret = models.CharField(max_length=100, editable=False)
    description = models.CharField(max_length=500, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    consecutive_failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "active"], name="webhook_endpoint_org_active")]

    def __str__(self) -> str:
        return self.url

    def subscribes_to(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERING = "delivering", "Delivering"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event owed to one endpoint, with its retry schedule held here (`next_attempt_at`).

    `payload` is frozen when the event is emitted, and `event_id` is stable across retries and
    redeliveries so receivers can drop duplicates; (endpoint, event_id) is unique, so emitting
    the same event twice is harmless. `schedule_offset` is the attempt count at the last
    redelivery: the retry schedule restarts from there.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("teams.Organization", on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=64)
    event_type = models.CharField(max_length=60)
    payload = models.JSONField()
    status = models.CharField(
        max_length=12, choices=WebhookDeliveryStatus.choices, default=WebhookDeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    schedule_offset = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once_per_event")]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "-created_at", "-id"], name="webhook_delivery_log"),
            models.Index(fields=["created_at"], name="webhook_delivery_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → {self.endpoint_id}"
