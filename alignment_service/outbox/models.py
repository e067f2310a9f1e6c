from django.db import models
from django.utils import timezone


class OutboxMessage(models.Model):
    """Work owed to the workers, written in the same transaction as the change that owes it.

    A pending row (not yet dispatched) with a `dedupe_key` is unique per task: owing the same
    work twice before the workers pick it up coalesces into one row.
    """

    organization = models.ForeignKey(
        "teams.Organization", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    task_name = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict)
    dedupe_key = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task_name", "dedupe_key"],
                condition=models.Q(dispatched_at__isnull=True) & ~models.Q(dedupe_key=""),
                name="outbox_pending_dedupe",
            )
        ]
        indexes = [
            models.Index(fields=["id"], condition=models.Q(dispatched_at__isnull=True), name="outbox_pending"),
            models.Index(fields=["dispatched_at"], name="outbox_dispatched_at"),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} #{self.pk}"
