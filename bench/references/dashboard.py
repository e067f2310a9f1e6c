"""The dashboard's reference: GROUP BYs and DISTINCT ONs, everything the contract's dashboard
holds in a handful of statements."""

import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from bench.references.base import _rows, authenticated
from goals import formulas
from teams.models import Organization
from teams.org_settings import effective_settings

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
