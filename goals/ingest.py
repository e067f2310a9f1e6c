"""Validation of reading batches: up to 10,000 items checked in one pass, every bad item named.

A serializer per item costs more than the database write itself at this size, so the batch is
checked here with plain Python; the rules are those of `ReadingWriteSerializer`.
"""

import math
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError

from goals import readings, selectors
from goals.services import ReadingInput
from teams.models import Organization

SOURCE_MAX_LENGTH = 100


class BatchErrors:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.by_item: dict[str, dict[str, list[str]]] = {}

    def add(self, index: int, field: str | None, message: str) -> None:
        if self.count >= self.limit:
            return
        self.count += 1
        self.by_item.setdefault(str(index), {}).setdefault(field or "non_field_errors", []).append(message)

    def raise_if_any(self) -> None:
        if self.by_item:
            raise ValidationError({"readings": self.by_item})


def parse_batch(*, org: Organization, payload: Any) -> list[ReadingInput]:
    """Turn a batch body into readings, or raise a 400 naming every bad item (up to 1,000)."""
    items = _items(payload)
    errors = BatchErrors(settings.BATCH_MAX_ERRORS)
    references = {item["metric"] for item in items if isinstance(item, dict) and isinstance(item.get("metric"), str)}
    metrics = selectors.metrics_by_reference(org=org, references=references)
    latest_allowed = readings.latest_observed_at()
    magnitude = settings.NUMBER_MAX_MAGNITUDE  # read once: a settings lookup costs ~1 µs an item
    parsed: list[ReadingInput | None] = []
    first_index: dict[tuple[Any, datetime], int] = {}
    for index, item in enumerate(items):
        reading = _parse_item(index, item, metrics, latest_allowed, magnitude, errors)
        parsed.append(reading)
        if reading is None:
            continue
        instant = (reading.metric.pk, reading.observed_at)
        if instant in first_index:
            message = "The same metric and observed_at appear twice in this batch."
            errors.add(first_index[instant], "observed_at", message)
            errors.add(index, "observed_at", message)
        else:
            first_index[instant] = index
    errors.raise_if_any()
    return [reading for reading in parsed if reading is not None]


def _items(payload: Any) -> list[Any]:
    if not isinstance(payload, dict) or "readings" not in payload:
        raise ValidationError({"readings": ["This field is required."]}, code="required")
    items = payload["readings"]
    if not isinstance(items, list):
        raise ValidationError({"readings": ["Expected a list of readings."]}, code="not_a_list")
    if not items:
        raise ValidationError({"readings": ["Send at least one reading."]}, code="empty")
    if len(items) > settings.BATCH_MAX_READINGS:
        raise ValidationError(
            {"readings": [f"Send at most {settings.BATCH_MAX_READINGS} readings per batch."]}, code="max_length"
        )
    return items


def _parse_item(
    index: int, item: Any, metrics: dict[str, Any], latest_allowed: datetime, magnitude: float, errors: BatchErrors
) -> ReadingInput | None:
    if not isinstance(item, dict):
        errors.add(index, None, "Expected an object with metric, value and observed_at.")
        return None
    failures = errors.count
    metric = _metric(index, item.get("metric"), metrics, errors)
    value = _value(index, item.get("value", None), "value" in item, magnitude, errors)
    observed_at = _observed_at(index, item.get("observed_at"), latest_allowed, errors)
    source = item.get("source", "")
    if not isinstance(source, str) or len(source) > SOURCE_MAX_LENGTH:
        errors.add(index, "source", f"Must be a string of at most {SOURCE_MAX_LENGTH} characters.")
    if errors.count > failures or metric is None or value is None or observed_at is None:
        return None
    return ReadingInput(metric=metric, value=value, observed_at=observed_at, source=source)


def _metric(index: int, reference: Any, metrics: dict[str, Any], errors: BatchErrors) -> Any:
    if not isinstance(reference, str) or not reference:
        errors.add(index, "metric", "Name the metric by its key or id.")
        return None
    metric = metrics.get(reference)
    if metric is None:
        errors.add(index, "metric", f"No metric '{reference[:100]}' in this organization.")
    return metric


def _value(index: int, value: Any, present: bool, magnitude: float, errors: BatchErrors) -> float | None:
    if not present:
        errors.add(index, "value", "This field is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors.add(index, "value", "Must be a number.")
        return None
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        errors.add(index, "value", "Must be a finite number.")
        return None
    if abs(number) > magnitude:
        errors.add(index, "value", f"Must be between -{magnitude:g} and {magnitude:g}.")
        return None
    return number


def _observed_at(index: int, raw: Any, latest_allowed: datetime, errors: BatchErrors) -> datetime | None:
    if not isinstance(raw, str):
        errors.add(index, "observed_at", "Must be an ISO 8601 timestamp with an offset.")
        return None
    try:
        parsed = parse_datetime(raw)
    except ValueError:
        parsed = None
    if parsed is None:
        errors.add(index, "observed_at", "Must be an ISO 8601 timestamp with an offset.")
        return None
    if timezone.is_naive(parsed):
        errors.add(index, "observed_at", "Timestamps must include a UTC offset, e.g. 2026-01-31T09:00:00Z.")
        return None
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        errors.add(index, "observed_at", "This instant is out of range.")
        return None
    if parsed > latest_allowed:
        errors.add(index, "observed_at", readings.too_far_ahead_message())
        return None
    return parsed
