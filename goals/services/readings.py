"""Readings: one at a time or in batches, upserted on (metric, observed_at)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from alignment_service.access import Access
from alignment_service.db import array_literal
from goals.derived import goals_refresh_progress, metrics_refresh
from goals.models import Metric, Reading
from goals.services.common import owe_rescore, record_activity, writes_derived_values
from teams.models import Organization


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
    upsert = _upsert_postgres if connection.vendor == "postgresql" else _upsert
    added = upsert(access.org, readings)
    metrics_refresh(org=access.org, metric_ids=metric_ids, added=added)
    goals_refresh_progress(org=access.org, goal_ids={r.metric.goal_id for r in readings})
    created = sum(added.values())
    updated = len(readings) - created
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


#: One statement for the whole batch, in key order (so two batches that share readings take
#: their index locks in the same order); `xmax = 0` tells an inserted row from a replaced one.
UPSERT_SQL = """
WITH written AS (
    INSERT INTO goals_reading (organization_id, metric_id, observed_at, value, source, note, created_at, updated_at)
    SELECT %s, metric_id, observed_at, value, source, note, %s, %s
    FROM unnest(%s::uuid[], %s::timestamptz[], %s::float8[], %s::varchar(100)[], %s::text[])
        AS incoming (metric_id, observed_at, value, source, note)
    ORDER BY metric_id, observed_at
    ON CONFLICT (metric_id, observed_at) DO UPDATE
    SET value = EXCLUDED.value, source = EXCLUDED.source, note = EXCLUDED.note, updated_at = EXCLUDED.updated_at
    RETURNING metric_id, xmax = 0 AS inserted
)
SELECT metric_id, count(*) FILTER (WHERE inserted) FROM written GROUP BY metric_id
"""


def _upsert_postgres(org: Organization, readings: Sequence[ReadingInput]) -> dict[Any, int]:
    """Write `readings` in one statement; returns how many each metric gained (the rest
    replaced stored values).

    Each column is one array literal, built by joins: psycopg adapts a list element by element
    in Python, about 50 ms for the columns of 10,000 readings. Instants go in UTC (PostgreSQL
    refuses offsets beyond ±15:59, which Python accepts).
    """
    now = timezone.now()
    texts = {pk: str(pk) for pk in {r.metric.pk for r in readings}}
    columns = [
        array_literal((texts[r.metric.pk] for r in readings), quote=False),
        array_literal((r.observed_at.astimezone(UTC).isoformat() for r in readings), quote=False),
        array_literal((repr(float(r.value)) for r in readings), quote=False),
        array_literal(r.source for r in readings),
        array_literal(r.note for r in readings),
    ]
    with connection.cursor() as cursor:
        cursor.execute(UPSERT_SQL, [org.pk, now, now, *columns])
        return dict(cursor.fetchall())


def _upsert(org: Organization, readings: Sequence[ReadingInput]) -> dict[Any, int]:
    """`_upsert_postgres` through the ORM, for SQLite: the stored instants are read first."""
    instants = [r.observed_at for r in readings]
    existing = set(
        Reading.objects.filter(
            organization=org,
            metric_id__in={r.metric.pk for r in readings},
            observed_at__gte=min(instants),
            observed_at__lte=max(instants),
        ).values_list("metric_id", "observed_at")
    )
    now = timezone.now()
    rows = [
        Reading(
            organization=org, metric=r.metric, observed_at=r.observed_at, value=r.value,
            source=r.source, note=r.note, created_at=now, updated_at=now,
        )
        for r in readings
    ]  # fmt: skip
    Reading.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["metric", "observed_at"],
        update_fields=["value", "source", "note", "updated_at"],
    )
    added: dict[Any, int] = {}
    for r in readings:
        added[r.metric.pk] = added.get(r.metric.pk, 0) + ((r.metric.pk, r.observed_at) not in existing)
    return added
