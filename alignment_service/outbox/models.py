from django.db import models
from django.utils import timezone


class OutboxMessage(models.Model):
    """Work owed to the workers, written in the same transaction as the change that owes it.

    A row is owed until the task that did its work reports it done (`completed_at`), not
    when it is published: a message lost with the broker's memory, or a worker killed in the
    middle, leaves the row owed, and it is published again once `next_attempt_at` passes.
    Rows that share a `dedupe_key` (per task) go out as one message: the owed rescores of an
    organization coalesce. Every write inserts its own row, so concurrent writers never wait
    for one another here.
    """

    organization = models.ForeignKey(
        "teams.Organization", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    task_name = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict)
    dedupe_key = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatch_id = models.UUIDField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["id"], condition=models.Q(completed_at__isnull=True), name="outbox_owed"),
            models.Index(
                fields=["dispatch_id"], condition=models.Q(completed_at__isnull=True), name="outbox_in_flight"
            ),
            models.Index(fields=["completed_at"], name="outbox_completed_at"),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} #{self.pk}"
