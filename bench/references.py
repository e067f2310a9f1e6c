"""Hand-written ceilings for every figure of the benchmark.

Each reference does the same work as the endpoint it is measured against, written the
shortest way the machine allows: plain Django views (served by the same gunicorn, through the
same middleware) with one hand-written authentication query, `.values()` and `JsonResponse`,
and set-based SQL. They are reviewed like code: a reference that does less work than the
service, or does it slower than it could, makes a ratio lie.
"""

import json
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from alignment_service.db import DERIVED_VALUES_LOCK, lock_org
from goals import formulas
from goals.models import GoalStatus, GoalStrategy
from goals.selectors import goal_list
from teams import credentials
from teams.models import Organization
from teams.org_settings import effective_settings

GOAL_FIELDS = (
    "id", "title", "description", "team_id", "owner_id", "parent_id", "cycle_id", "starts_on", "due_on",
    "weight", "hypothesis", "status", "progress", "expected_progress", "health", "p_hit", "current_score__score",
    "version", "created_at", "updated_at",
)  # fmt: skip

AUTH_SQL = """
SELECT o.id, o.name, o.slug, o.timezone, o.settings, o.created_at, m.role
FROM teams_authtoken t
JOIN teams_user u ON u.id = t.user_id
JOIN teams_membership m ON m.user_id = u.id
JOIN teams_organization o ON o.id = m.organization_id
WHERE t.key_hash = %s AND t.expires_at > now() AND u.is_active AND o.slug = %s
"""


class Unauthorized(Exception):
    pass


def _org(request: HttpRequest, slug: str) -> Organization:
    """The caller's organization in one query (token, user, membership and org joined)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise Unauthorized
    with connection.cursor() as cursor:
        cursor.execute(AUTH_SQL, [credentials.digest(header[7:]), slug])
        row = cursor.fetchone()
    if row is None:
        raise Unauthorized
    settings = _json(row[4])
    return Organization(id=row[0], name=row[1], slug=row[2], timezone=row[3], settings=settings, created_at=row[5])


def authenticated(view: Any) -> Any:
    def run(request: HttpRequest, org: str) -> HttpResponse:
        try:
            organization = _org(request, org)
        except Unauthorized:
            return JsonResponse({"detail": "not found"}, status=404)
        return view(request, organization)

    return csrf_exempt(run)


# --- An authenticated detail ------------------------------------------------------------------


@authenticated
def org_detail(request: HttpRequest, org: Organization) -> HttpResponse:
    return JsonResponse(
        {
            "id": str(org.pk),
            "name": org.name,
            "slug": org.slug,
            "timezone": org.timezone,
            "settings": effective_settings(org.settings),
            "created_at": org.created_at.isoformat(),
        }
    )


# --- The goals list ---------------------------------------------------------------------------


@authenticated
def goals_page(request: HttpRequest, org: Organization) -> HttpResponse:
    limit, offset = int(request.GET.get("limit", 50)), int(request.GET.get("offset", 0))
    queryset = goal_list(org=org)
    count = queryset.count()
    rows = list(queryset.values(*GOAL_FIELDS)[offset : offset + limit])
    links: dict[Any, list[str]] = defaultdict(list)
    pairs = GoalStrategy.objects.filter(goal_id__in=[r["id"] for r in rows]).order_by("pillar_id")
    for goal_id, pillar_id in pairs.values_list("goal_id", "pillar_id"):
        links[goal_id].append(str(pillar_id))
    results = []
    for row in rows:
        row["strategies"] = links[row["id"]]
        row["alignment_score"] = row.pop("current_score__score")
        for name in ("team", "owner", "parent", "cycle"):
            row[name] = row.pop(f"{name}_id")
        results.append(row)
    return JsonResponse({"count": count, "next": None, "previous": None, "results": results})


# --- Dashboard: GROUP BYs and DISTINCT ONs --------------------------------------------------

#: What the contract's dashboard holds, hand-written: the newest score per subject now and a
#: week ago (DISTINCT ON), each team's latest assessment (a lateral LIMIT 1), the health and
#: open-correction counts per team (GROUP BY, one statement), the top risks and the leadership
#: signals (one statement), and the goals ahead of pace.
DASHBOARD_SCORES_SQL = """
SELECT * FROM (
    SELECT DISTINCT ON (subject_type, subject_id) true AS now, subject_type, subject_id, score
    FROM feedback_scoresnapshot WHERE organization_id = %(org)s AND subject_type IN ('org', 'team')
    ORDER BY subject_type, subject_id, computed_at DESC, id DESC) current
UNION ALL
SELECT * FROM (
    SELECT DISTINCT ON (subject_type, subject_id) false, subject_type, subject_id, score
    FROM feedback_scoresnapshot
    WHERE organization_id = %(org)s AND subject_type IN ('org', 'team') AND computed_at <= %(week_ago)s
    ORDER BY subject_type, subject_id, computed_at DESC, id DESC) before
"""

DASHBOARD_TEAMS_SQL = """
SELECT t.id, t.name, a.recommended_mode, a.alignment, a.confidence, a.quadrant FROM teams_team t
LEFT JOIN LATERAL (SELECT recommended_mode, alignment, confidence, quadrant FROM feedback_assessment
                   WHERE team_id = t.id ORDER BY created_at DESC, id DESC LIMIT 1) a ON true
WHERE t.organization_id = %(org)s AND t.kind = 'team' ORDER BY t.name, t.id
"""

HEALTH_EXPRESSION = """CASE
    WHEN g.progress IS NULL THEN 'no_data'
    WHEN g.progress - e.expected >= -%(tolerance)s - %(eps)s THEN 'on_track'
    WHEN g.progress - e.expected >= -%(gap)s - %(eps)s THEN 'at_risk'
    ELSE 'off_track' END"""

EXPECTED_LATERAL = """CROSS JOIN LATERAL (
    SELECT greatest(least((%(now)s - g.window_start_ts) / (g.window_end_ts - g.window_start_ts), 1.0), 0.0) AS expected
) e"""

DASHBOARD_COUNTS_SQL = f"""
SELECT g.team_id, {HEALTH_EXPRESSION} AS kind, count(*)
FROM goals_goal g {EXPECTED_LATERAL}
WHERE g.organization_id = %(org)s AND g.status = 'active'
GROUP BY 1, 2
UNION ALL
SELECT team_id, 'open_corrections', count(*) FROM feedback_coursecorrection
WHERE organization_id = %(org)s AND status IN ('open', 'acknowledged') AND caused_by_id IS NULL
GROUP BY 1
"""

CORRECTION_COLUMNS = """id, subject_type, subject_id, team_id AS team, trigger, severity, detail,
    nullif(recommended_mode, '') AS recommended_mode, status, assignee_id AS assignee, opened_by_id AS opened_by,
    review_by, extension_reason, extension_count, exit_criteria, teaching_notes, created_at, acknowledged_at,
    resolved_at, resolution, taught, criteria_met, caused_by_id AS caused_by"""

DASHBOARD_CORRECTIONS_SQL = f"""
SELECT * FROM (
    SELECT true AS risk, {CORRECTION_COLUMNS} FROM feedback_coursecorrection
    WHERE organization_id = %(org)s AND status IN ('open', 'acknowledged') AND caused_by_id IS NULL
    ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, created_at DESC, id DESC
    LIMIT %(max_risks)s) risks
UNION ALL
SELECT * FROM (
    SELECT false, {CORRECTION_COLUMNS} FROM feedback_coursecorrection
    WHERE organization_id = %(org)s AND status IN ('open', 'acknowledged') AND trigger = ANY(%(leadership)s)
    ORDER BY created_at DESC, id DESC) signals
"""

DASHBOARD_OPPORTUNITIES_SQL = f"""
SELECT g.id, g.title, g.team_id AS team, g.progress, e.expected AS expected_progress
FROM goals_goal g {EXPECTED_LATERAL}
WHERE g.organization_id = %(org)s AND g.status = 'active' AND g.progress - e.expected > %(tolerance)s
ORDER BY g.progress - e.expected DESC, g.due_on, g.title, g.id LIMIT %(max_opportunities)s
"""


def _rows(cursor: Any, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cursor.execute(sql, params)
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@authenticated
def dashboard(request: HttpRequest, org: Organization) -> HttpResponse:
    settings = effective_settings(org.settings)
    now = time.time()
    params = {
        "org": org.pk, "now": now, "tolerance": settings["health_tolerance"], "gap": settings["at_risk_gap"],
        "eps": formulas.BOUNDARY_EPSILON, "week_ago": datetime.fromtimestamp(now - 7 * 86400, UTC),
        "max_risks": 50, "max_opportunities": 20,
        "leadership": ["intervention_overdue", "hands_off_drift", "permanent_micromanagement"],
    }  # fmt: skip
    with connection.cursor() as cursor:
        scores = {(row["now"], row["subject_type"], row["subject_id"]): row["score"] for row in
                  _rows(cursor, DASHBOARD_SCORES_SQL, params)}  # fmt: skip
        teams = _rows(cursor, DASHBOARD_TEAMS_SQL, params)
        counts: dict[Any, dict[str, int]] = defaultdict(lambda: dict.fromkeys(formulas.HEALTH_VALUES, 0))
        open_corrections: dict[Any, int] = defaultdict(int)
        cursor.execute(DASHBOARD_COUNTS_SQL, params)
        for team_id, kind, count in cursor.fetchall():
            if kind == "open_corrections":
                open_corrections[team_id] = count
            else:
                counts[team_id][kind] = count
        corrections = _rows(cursor, DASHBOARD_CORRECTIONS_SQL, params)
        risks, signals = [row for row in corrections if row["risk"]], [row for row in corrections if not row["risk"]]
        for row in corrections:
            del row["risk"]
        opportunities = _rows(cursor, DASHBOARD_OPPORTUNITIES_SQL, params)

    def score_and_trend(subject_type: str, subject_id: str) -> tuple[Any, Any]:
        current, before = scores.get((True, subject_type, subject_id)), scores.get((False, subject_type, subject_id))
        return current, None if current is None or before is None else round(current - before, 2)

    org_score, org_trend = score_and_trend("org", str(org.pk))
    for team in teams:
        active = team["id"] in counts
        team["score"], team["trend"] = score_and_trend("team", str(team["id"])) if active else (None, None)
        team["goals"], team["open_corrections"] = counts[team["id"]], open_corrections[team["id"]]
    return JsonResponse(
        {
            "org": {"score": org_score, "trend": org_trend},
            "teams": teams,
            "risks": risks,
            "opportunities": opportunities,
            "leadership_signals": signals,
        }
    )


# --- Alignment tree: one recursive CTE --------------------------------------------------------

#: The cascade with what the contract puts on every node: strategies, progress, health (in SQL,
#: as the dashboard's reference computes it) and score, beside the node fields the endpoint
#: also serves (status, expected progress, p_hit).
TREE_SQL = """
WITH RECURSIVE tree AS (
    SELECT g.id, g.parent_id, 0 AS depth
    FROM goals_goal g
    WHERE g.organization_id = %(org)s AND g.parent_id IS NULL AND g.status <> 'cancelled'
  UNION ALL
    SELECT c.id, c.parent_id, tree.depth + 1
    FROM goals_goal c JOIN tree ON c.parent_id = tree.id
    WHERE c.organization_id = %(org)s AND c.status <> 'cancelled'
)
SELECT g.id, g.parent_id, g.title, g.team_id, g.status, g.progress, e.expected, CASE
    WHEN g.progress IS NULL THEN 'no_data'
    WHEN g.progress - e.expected >= -%(tolerance)s - %(eps)s THEN 'on_track'
    WHEN g.progress - e.expected >= -%(gap)s - %(eps)s THEN 'at_risk'
    ELSE 'off_track' END AS health, g.p_hit, s.score,
    coalesce((SELECT array_agg(l.pillar_id::text ORDER BY l.pillar_id) FROM goals_goalstrategy l
              WHERE l.goal_id = g.id), '{}') AS strategies
FROM tree JOIN goals_goal g ON g.id = tree.id
CROSS JOIN LATERAL (SELECT greatest(least((%(now)s - g.window_start_ts) / (g.window_end_ts - g.window_start_ts),
                                         1.0), 0.0) AS expected) e
LEFT JOIN goals_goalscore s ON s.goal_id = g.id
ORDER BY tree.depth, g.due_on, g.title, g.id
"""

TREE_DIRECTION_SQL = """
SELECT vision, mission, "values", version, created_at, created_by_id FROM goals_directionversion
WHERE organization_id = %(org)s ORDER BY version DESC LIMIT 1
"""

TREE_PILLARS_SQL = """
SELECT id, title, team_id AS team, parent_id AS parent FROM goals_strategypillar WHERE organization_id = %(org)s
ORDER BY title, id
"""

TREE_DIVERGENCES_SQL = """
SELECT id, team_id AS team, approach, rationale, success_metric_id AS success_metric, success_value, review_on
FROM goals_divergence
WHERE organization_id = %(org)s AND status = 'active' ORDER BY review_on, id
"""


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@authenticated
def tree(request: HttpRequest, org: Organization) -> HttpResponse:
    settings = effective_settings(org.settings)
    params = {
        "org": org.pk, "now": time.time(), "tolerance": settings["health_tolerance"], "gap": settings["at_risk_gap"],
        "eps": formulas.BOUNDARY_EPSILON,
    }  # fmt: skip
    nodes: dict[Any, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    with connection.cursor() as cursor:
        direction = _rows(cursor, TREE_DIRECTION_SQL, params)
        pillars = _rows(cursor, TREE_PILLARS_SQL, params)
        divergences = _rows(cursor, TREE_DIVERGENCES_SQL, params)
        cursor.execute(TREE_SQL, params)
        for row in cursor.fetchall():
            goal_id, parent_id, title, team_id, status, progress, expected, health, p_hit, score, strategies = row
            node = {
                "id": goal_id, "title": title, "team": team_id, "status": status, "strategies": strategies,
                "progress": progress, "expected_progress": expected, "health": health, "p_hit": p_hit,
                "alignment_score": score, "children": [],
            }  # fmt: skip
            nodes[goal_id] = node
            (nodes[parent_id]["children"] if parent_id in nodes else roots).append(node)
    current = direction[0] if direction else None
    return JsonResponse(
        {
            "direction": {
                "vision": current["vision"] if current else "",
                "mission": current["mission"] if current else "",
                "values": _json(current["values"]) if current else [],
                "version": current["version"] if current else 0,
                "updated_at": current["created_at"] if current else None,
                "updated_by": current["created_by_id"] if current else None,
            },
            "pillars": pillars,
            "goals": roots,
            "divergences": divergences,
        }
    )


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
