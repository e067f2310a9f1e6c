"""The read references beside the API's pages: the organization's detail, the goals list
(the service's own queryset through `.values()`), and the alignment tree in one recursive CTE."""

import time
from collections import defaultdict
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from bench.references.base import _json, _rows, authenticated
from goals import formulas
from goals.models import GoalStrategy
from goals.selectors import goal_list
from teams.models import Organization
from teams.org_settings import effective_settings

GOAL_FIELDS = (
    "id", "title", "description", "team_id", "owner_id", "parent_id", "cycle_id", "starts_on", "due_on",
    "weight", "hypothesis", "status", "progress", "expected_progress", "health", "p_hit", "current_score__score",
    "version", "created_at", "updated_at",
)  # fmt: skip


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
