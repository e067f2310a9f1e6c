"""What the templates draw, built from the all-hands payload (live or frozen) and from the goal
and team pages' reads. Charts are SVG strings from `feedback.pages.charts`."""

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from feedback.models import LeadershipMode, Quadrant, Severity, SubjectType, Trigger
from feedback.pages import charts
from goals.models import Metric

SEVERITIES = [Severity.CRITICAL, Severity.WARNING, Severity.INFO]


def mode_label(mode: str | None) -> tuple[str, str]:
    """A leadership mode's name and what it asks of the leader."""
    if not mode:
        return "Not assessed", ""
    name, _, hint = LeadershipMode(mode).label.partition(": ")
    return name, hint


def _ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def allhands_context(payload: dict[str, Any]) -> dict[str, Any]:
    board = payload["dashboard"]
    history = payload["history"]
    team_names = {team["id"]: team["name"] for team in board["teams"]}
    org_points = [(_ts(at), score) for at, score in history.get(f"org:{payload['org']['id']}", [])]
    teams = [_team_card(team, history.get(f"team:{team['id']}", [])) for team in board["teams"]]
    risks = [_correction(c, payload["goal_titles"], team_names) for c in board["risks"]]
    return {
        "payload": payload,
        "org_name": payload["org"]["name"],
        "generated_at": datetime.fromisoformat(payload["generated_at"]),
        "cycle": payload["cycle"],
        "org_score": board["org"]["score"],
        "org_trend": board["org"]["trend"],
        "org_chart": charts.line_chart(
            label="Organization score over the cycle, week by week",
            lines=[charts.Line("Organization score", org_points, "series-main", dots=True)],
            y_range=_score_range([p[1] for p in org_points]),
            height=260,
            data={"subject": "org"},
        ),
        "teams": teams,
        "matrix": charts.leadership_matrix(board["teams"]),
        "unassessed": [team["name"] for team in board["teams"] if not team.get("alignment")],
        "quadrants": _quadrant_counts(board["teams"]),
        "risk_groups": [(severity, [r for r in risks if r["severity"] == severity]) for severity in SEVERITIES],
        "risk_count": len(risks),
        "opportunities": [_opportunity(goal, team_names) for goal in board["opportunities"]],
        "signals": [_correction(c, payload["goal_titles"], team_names) for c in board["leadership_signals"]],
    }


def _opportunity(goal: dict[str, Any], team_names: dict[str, str]) -> dict[str, Any]:
    ahead = goal["progress"] - goal["expected_progress"]
    return {**goal, "team_name": team_names.get(goal["team"] or "", "Company"), "ahead": ahead}


def _score_range(values: Sequence[float]) -> tuple[float, float]:
    """Whole tens around the scores (so the axis reads 60, 70, 80…), within 0..100."""
    if not values:
        return (0, 100)
    lo, hi = max(0, math.floor((min(values) - 2) / 10) * 10), min(100, math.ceil((max(values) + 2) / 10) * 10)
    while (hi - lo) % 40:
        lo, hi = (lo - 10, hi) if lo >= 10 and (hi - lo) % 40 else (lo, hi + 10)
    return (float(lo), float(hi))


def _team_card(team: dict[str, Any], points: list[list[Any]]) -> dict[str, Any]:
    name, hint = mode_label(team["recommended_mode"])
    values = [score for _, score in points]
    return {
        **team,
        "mode_name": name,
        "mode_hint": hint,
        "sparkline": charts.sparkline(values, label=f"{team['name']}: score week by week", team=team["name"]),
        "health": charts.health_bar(team["goals"]),
        "active_goals": sum(team["goals"].values()),
    }


def _quadrant_counts(teams: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(q.label, sum(1 for t in teams if t.get("quadrant") == q.value)) for q in Quadrant]


def _correction(c: dict[str, Any], goal_titles: dict[str, str], team_names: dict[str, str]) -> dict[str, Any]:
    if c["subject_type"] == SubjectType.GOAL:
        subject = goal_titles.get(c["subject_id"], "A goal")
    else:
        subject = team_names.get(c["subject_id"], "A team")
    return {
        **c,
        "trigger_label": Trigger(c["trigger"]).label,
        "subject_name": subject,
        "team_name": team_names.get(c["team"] or "", ""),
        "mode_name": mode_label(c["recommended_mode"])[0] if c["recommended_mode"] else "",
    }


def metric_chart(metric: Metric, readings: list[tuple[float, float]]) -> Any:
    """Readings with the baseline, the target, the expected pace from baseline to target over
    the window, and the forecast from the last reading to the end of the window."""
    pace_points = [(metric.window_start_ts, metric.baseline), (metric.window_end_ts, metric.target)]
    pace = charts.Line("Expected pace", pace_points, "series-pace")
    lines = [charts.Line("Readings", readings, "series-main"), pace]
    if metric.forecast is not None and readings:
        lines.append(
            charts.Line("Forecast", [readings[-1], (metric.window_end_ts, metric.forecast)], "series-forecast")
        )
    start = min([metric.window_start_ts, *(t for t, _ in readings[:1])])
    return charts.line_chart(
        label=f"{metric.name}: readings, baseline, target, expected pace and forecast",
        lines=lines,
        rules=[
            charts.Rule("Baseline", metric.baseline, "rule-baseline"),
            charts.Rule("Target", metric.target, "rule-target"),
            *([charts.Rule("Guardrail", metric.threshold, "rule-guardrail")] if metric.threshold is not None else []),
        ],
        x_range=(start, metric.window_end_ts), unit=f" {metric.unit}" if metric.unit in ("%",) else "",
        data={"metric": metric.key},
    )  # fmt: skip


def confidence_chart(check_ins: Sequence[Any]) -> Any:
    points = [(c.created_at.timestamp(), float(c.confidence)) for c in check_ins]
    return charts.line_chart(
        label="Check-in confidence over time (0 to 10)",
        lines=[charts.Line("Confidence", points, "series-alt", dots=True)], y_range=(0, 10), height=200,
    )  # fmt: skip


def assessment_chart(assessments: Sequence[Any]) -> Any:
    def ratings(field: str) -> list[tuple[float, float]]:
        return [(a.created_at.timestamp(), float(getattr(a, field))) for a in assessments]

    return charts.line_chart(
        label="Assessments over time: alignment and confidence (1 to 5)",
        lines=[
            charts.Line("Alignment", ratings("alignment"), "series-main", dots=True),
            charts.Line("Confidence", ratings("confidence"), "series-alt", dots=True),
        ],
        rules=[charts.Rule("High from 4", 3.5, "rule-baseline")], y_range=(1, 5), height=200,
    )  # fmt: skip


def score_chart(points: Sequence[tuple[float, float]], label: str) -> Any:
    return charts.line_chart(
        label=label, lines=[charts.Line("Score", points, "series-main")],
        y_range=_score_range([p[1] for p in points]), height=200,
    )  # fmt: skip
