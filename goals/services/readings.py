"""Readings: one at a time or in batches, upserted on (metric, observed_at)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from alignment_service.access import Access
from goals.derived import goals_refresh_progress, metrics_refresh
from goals.models import Metric, Reading
from goals.services.common import owe_rescore, record_activity, writes_derived_values


@dataclass(frozen=True)
class ReadingInput:
    metric: Metric
    value: float
    observed_at: datetime
    source: str = ""
    note: str = ""


@writes_derived_values
def reading_record(*, access: Access, reading: ReadingInput) -> tuple[Reading, bool]:
    """Store a reading; the same (metric, observed_at) again replaces the value."""
    created, _ = readings_ingest(access=access, readings=[reading])
    stored = Reading.objects.get(metric=reading.metric, observed_at=reading.observed_at)
    return stored, created == 1


@writes_derived_values
def readings_ingest(*, access: Access, readings: Sequence[ReadingInput]) -> tuple[int, int]:
    """Upsert validated readings all at once; returns (created, updated)."""
    if not readings:
        return 0, 0
    metric_ids = {r.metric.pk for r in readings}
    instants = [r.observed_at for r in readings]
    existing = set(
        Reading.objects.filter(
            organization=access.org,
            metric_id__in=metric_ids,
            observed_at__gte=min(instants),
            observed_at__lte=max(instants),
        ).values_list("metric_id", "observed_at")
    )
    now = timezone.now()
    rows = [
        Reading(
            organization=access.org, metric=r.metric, observed_at=r.observed_at, value=r.value,
            source=r.source, note=r.note, created_at=now, updated_at=now,
        )
        for r in sorted(readings, key=lambda r: (str(r.metric.pk), r.observed_at))
    ]  # fmt: skip
    # Sorted, so two batches that share readings take their index locks in the same order.
    Reading.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["metric", "observed_at"],
        update_fields=["value", "source", "note", "updated_at"],
    )
    updated = sum(1 for r in readings if (r.metric.pk, r.observed_at) in existing)
    metrics_refresh(org=access.org, metric_ids=metric_ids)
    goals_refresh_progress(org=access.org, goal_ids={r.metric.goal_id for r in readings})
    created = len(readings) - updated
    if len(readings) == 1:
        record_activity(
            access, "reading.recorded", "metric", readings[0].metric.pk,
            f"recorded {readings[0].value:g} for metric {readings[0].metric.key}",
            data={
                "observed_at": readings[0].observed_at.isoformat(), "value": readings[0].value,
                "replaced": bool(updated),
            },
        )  # fmt: skip
    else:
        record_activity(
            access, "readings.ingested", "org", access.org.pk,
            f"ingested {len(readings)} readings for {len(metric_ids)} metric(s)",
            data={"created": created, "updated": updated, "metrics": len(metric_ids)},
        )  # fmt: skip
    owe_rescore(access.org, goals={r.metric.goal_id for r in readings})
    return created, updated
