"""The write references: readings ingested by COPY to a temporary table, one upsert and one
set-based update of every derived value (or binary COPY and nothing derived, the floor), and the
rescore as one statement writing every metric's and goal's progress."""

import json
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.dateparse import parse_datetime

from alignment_service.db import DERIVED_VALUES_LOCK, lock_org
from bench.references.base import authenticated
from goals.models import GoalStatus
from teams.models import Organization
from teams.org_settings import effective_settings

# --- Ingest: COPY to a temporary table, one upsert, one set-based update ----------------------

CREATE_TEMP = """
CREATE TEMPORARY TABLE IF NOT EXISTS bench_incoming (
    metric_id uuid NOT NULL, observed_at timestamptz NOT NULL, value double precision NOT NULL,
    source varchar(100) NOT NULL
) ON COMMIT DELETE ROWS
"""

UPSERT = """
INSERT INTO goals_reading (organization_id, metric_id, observed_at, value, source, note, created_at, updated_at)
SELECT %(org)s, metric_id, observed_at, value, source, '', now(), now() FROM bench_incoming
ORDER BY metric_id, observed_at
ON CONFLICT (metric_id, observed_at) DO UPDATE
SET value = EXCLUDED.value, source = EXCLUDED.source, note = EXCLUDED.note, updated_at = EXCLUDED.updated_at
RETURNING xmax = 0
"""

#: Current value, last reading, progress and forecast (the least-squares line through the
#: readings of the forecast window ending at the latest one, or all readings when fewer than
#: three fall in it) of every touched metric, written in key order.
REFRESH_METRICS = """
WITH touched AS (SELECT DISTINCT metric_id FROM bench_incoming),
latest AS (
    SELECT t.metric_id, l.observed_at, l.value FROM touched t
    CROSS JOIN LATERAL (SELECT observed_at, value FROM goals_reading r WHERE r.metric_id = t.metric_id
                        ORDER BY observed_at DESC LIMIT 1) l
),
windowed AS (
    SELECT r.metric_id, extract(epoch FROM r.observed_at)::float8 AS ts, r.value,
           count(*) OVER (PARTITION BY r.metric_id) AS n
    FROM goals_reading r JOIN latest l ON r.metric_id = l.metric_id
    WHERE r.observed_at >= l.observed_at - make_interval(days => %(window_days)s)
),
points AS (
    SELECT metric_id, ts, value FROM windowed WHERE n >= 3
    UNION ALL
    SELECT r.metric_id, extract(epoch FROM r.observed_at)::float8, r.value FROM goals_reading r
    WHERE r.metric_id IN (SELECT metric_id FROM windowed WHERE n < 3)
),
trend AS (
    SELECT metric_id, avg(value) AS mean_v, avg(ts) AS mean_t, regr_slope(value, ts) AS slope
    FROM points GROUP BY metric_id
),
locked AS MATERIALIZED (
    SELECT id FROM goals_metric WHERE id IN (SELECT metric_id FROM touched) ORDER BY id FOR NO KEY UPDATE
)
UPDATE goals_metric m
SET current = l.value, last_reading_at = l.observed_at, last_reading_ts = extract(epoch FROM l.observed_at),
    progress = greatest(0.0, least(1.0, (l.value - m.baseline) / (m.target - m.baseline))),
    forecast = t.mean_v + coalesce(t.slope, 0.0) * (m.window_end_ts - t.mean_t)
FROM latest l JOIN trend t ON t.metric_id = l.metric_id JOIN locked ON locked.id = l.metric_id
WHERE m.id = l.metric_id
RETURNING m.goal_id
"""

#: The weighted mean of the goals' metrics, then of their parents' children (the seeded
#: organization is two levels deep), locked in key order.
REFRESH_GOALS = """
WITH fresh AS (
    SELECT goal_id AS id, sum(progress * weight) / sum(weight) AS progress FROM goals_metric
    WHERE goal_id = ANY(%(goals)s) AND progress IS NOT NULL GROUP BY goal_id
),
locked AS MATERIALIZED (SELECT id FROM goals_goal WHERE id IN (SELECT id FROM fresh) ORDER BY id FOR NO KEY UPDATE)
UPDATE goals_goal g SET progress = fresh.progress FROM fresh JOIN locked USING (id)
WHERE g.id = fresh.id AND g.progress IS DISTINCT FROM fresh.progress
"""

REFRESH_PARENTS = """
WITH parents AS (SELECT DISTINCT parent_id AS id FROM goals_goal WHERE id = ANY(%(goals)s) AND parent_id IS NOT NULL),
fresh AS (
    SELECT c.parent_id AS id, sum(c.progress * c.weight) / sum(c.weight) AS progress FROM goals_goal c
    WHERE c.parent_id IN (SELECT id FROM parents) AND c.progress IS NOT NULL AND c.status NOT IN ('draft', 'cancelled')
    GROUP BY c.parent_id
),
locked AS MATERIALIZED (SELECT id FROM goals_goal WHERE id IN (SELECT id FROM fresh) ORDER BY id FOR NO KEY UPDATE)
UPDATE goals_goal g SET progress = fresh.progress FROM fresh JOIN locked USING (id)
WHERE g.id = fresh.id AND g.progress IS DISTINCT FROM fresh.progress
"""


def _incoming(org: Organization, payload: Any) -> list[tuple[Any, Any, float, str]] | None:
    items = payload.get("readings") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not items:
        return None
    keys = {item.get("metric") for item in items if isinstance(item, dict)}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT key, id FROM goals_metric WHERE organization_id = %s AND key = ANY(%s)", [org.pk, list(keys)]
        )
        ids = dict(cursor.fetchall())
    rows = []
    for item in items:
        metric_id = ids.get(item.get("metric")) if isinstance(item, dict) else None
        observed_at = parse_datetime(item.get("observed_at", "")) if metric_id else None
        value = item.get("value") if observed_at else None
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        rows.append((metric_id, observed_at, float(value), str(item.get("source", ""))))
    return rows


def _copy_incoming(rows: list[tuple[Any, Any, float, str]], *, binary: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute(CREATE_TEMP)
        raw = cursor.cursor
        statement = "COPY bench_incoming (metric_id, observed_at, value, source) FROM STDIN"
        with raw.copy(statement + (" (FORMAT BINARY)" if binary else "")) as copy:
            if binary:
                copy.set_types(["uuid", "timestamptz", "float8", "varchar"])
            for row in rows:
                copy.write_row(row)


def ingest_pipeline(org: Organization, rows: list[tuple[Any, Any, float, str]], *, derive: bool = True) -> int:
    """Write `rows` and, with `derive`, every derived value they change. Returns rows created."""
    with transaction.atomic():
        lock_org(DERIVED_VALUES_LOCK, org.pk)
        _copy_incoming(rows, binary=not derive)
        with connection.cursor() as cursor:
            cursor.execute(UPSERT, {"org": org.pk})
            created = sum(1 for (inserted,) in cursor.fetchall() if inserted)
            if derive:
                window_days = effective_settings(org.settings)["forecast_window_days"]
                cursor.execute(REFRESH_METRICS, {"window_days": window_days})
                goals = list({goal_id for (goal_id,) in cursor.fetchall()})
                cursor.execute(REFRESH_GOALS, {"goals": goals})
                cursor.execute(REFRESH_PARENTS, {"goals": goals})
    return created


def _ingest_view(derive: bool) -> Any:
    @authenticated
    def view(request: HttpRequest, org: Organization) -> HttpResponse:
        rows = _incoming(org, json.loads(request.body))
        if rows is None:
            return JsonResponse({"detail": "invalid"}, status=400)
        created = ingest_pipeline(org, rows, derive=derive)
        return JsonResponse({"created": created, "updated": len(rows) - created})

    return view


readings_sql_pipeline = _ingest_view(derive=True)
readings_binary_copy = _ingest_view(derive=False)


# --- Rescore: one statement computing and writing every metric's and goal's progress ----------

RESCORE_SQL = """
WITH metric_progress AS (
    SELECT id, goal_id, weight, greatest(0.0, least(1.0, (current - baseline) / (target - baseline))) AS progress
    FROM goals_metric WHERE organization_id = %(org)s
),
written_metrics AS (
    UPDATE goals_metric m SET progress = mp.progress FROM metric_progress mp WHERE m.id = mp.id RETURNING m.id
),
leaf AS (
    SELECT goal_id AS id, sum(progress * weight) / sum(weight) AS progress FROM metric_progress
    WHERE progress IS NOT NULL GROUP BY goal_id
),
parent AS (
    SELECT g.parent_id AS id, sum(leaf.progress * g.weight) / sum(g.weight) AS progress
    FROM goals_goal g JOIN leaf ON leaf.id = g.id
    WHERE g.parent_id IS NOT NULL AND g.status = %(active)s GROUP BY g.parent_id
),
goal_progress AS (
    SELECT id, progress FROM leaf UNION ALL SELECT id, progress FROM parent WHERE id NOT IN (SELECT id FROM leaf)
)
UPDATE goals_goal g SET progress = gp.progress FROM goal_progress gp WHERE g.id = gp.id
"""


def rescore_statement(org: Organization) -> None:
    with connection.cursor() as cursor:
        cursor.execute(RESCORE_SQL, {"org": org.pk, "active": GoalStatus.ACTIVE})
