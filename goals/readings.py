"""The rules of a reading's timestamp, shared by the one-reading serializer and the batch
validator (`goals.ingest`), which checks thousands of items without a serializer each."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone


def latest_observed_at() -> datetime:
    """The latest `observed_at` a reading may have now (`READING_MAX_FUTURE_SECONDS` ahead)."""
    return timezone.now() + timedelta(seconds=settings.READING_MAX_FUTURE_SECONDS)


def too_far_ahead_message() -> str:
    """What a reading too far in the future is told, in the setting's own terms."""
    seconds = settings.READING_MAX_FUTURE_SECONDS
    amount, unit = (seconds // 60, "minute") if seconds % 60 == 0 else (seconds, "second")
    return f"Must not be more than {amount} {unit}{'' if amount == 1 else 's'} in the future."
