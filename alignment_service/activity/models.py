from django.conf import settings
from django.db import models
from django.utils import timezone


class Activity(models.Model):
    """One entry of an organization's feed: who (a person or an API key) did what to which
    subject, and when. `anonymous` hides the person from everyone but admins."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("teams.Organization", on_delete=models.CASCADE, related_name="+")
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_api_key = models.ForeignKey(
        "teams.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    anonymous = models.BooleanField(default=False)
    verb = models.CharField(max_length=60)
    subject_type = models.CharField(max_length=40)
    subject_id = models.CharField(max_length=64)
    summary = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "activity"
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="activity_feed"),
            models.Index(fields=["organization", "subject_type", "subject_id"], name="activity_subject"),
            models.Index(fields=["organization", "actor_user"], name="activity_actor"),
        ]

    def __str__(self) -> str:
        return self.summary
