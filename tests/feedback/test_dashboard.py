"""The all-hands dashboard: `GET /orgs/{org}/dashboard/`.

One response with the organization's and every team's score and 7-day trend, each team's goal
health counts, open corrections and recommended mode; the open corrections as risks (critical
first); goals ahead of pace as opportunities; the leadership signals (overdue interventions,
hands-off drift, permanent micromanagement). Anyone in the organization may read it, and it
costs the same number of queries whatever the organization's size.
"""

import datetime

import pytest
import time_machine

from alignment_service.access import Scope
from feedback import engine
from feedback.models import ACTIVE_CORRECTION, Assessment, CourseCorrection, ScoreSnapshot
from goals.models import Goal, Reading
from goals.services import goals_refresh_progress, metrics_refresh
from tests.api_helpers import api
from tests.factories import GoalFactory, MetricFactory, TeamFactory

UTC = datetime.UTC
DAY = datetime.timedelta(days=1)
#: About 75 % into the factories' 2026 window.
T = datetime.datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
TEAM_FIELDS = {
    "id", "name", "score", "trend", "goals", "open_corrections", "recommended_mode", "alignment", "confidence",
    "quadrant",
}  # fmt: skip
HEALTH_FIELDS = {"on_track", "at_risk", "off_track", "no_data"}
CORRECTION_FIELDS = {
    "id", "subject_type", "subject_id", "trigger", "severity", "detail", "recommended_mode", "status", "assignee",
    "review_by", "extension_reason", "created_at", "resolved_at", "resolution",
}  # fmt: skip
LEADERSHIP = {"intervention_overdue", "hands_off_drift", "permanent_micromanagement"}


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(T, tick=False) as traveller:
        yield traveller


def dashboard(client, org):
    response = client.get(api(org, "dashboard/"))
    assert response.status_code == 200, response.content
    return response.json()


def goal_at(org, team, progress, *, title=None, **fields):
    """An active goal whose one metric (0 → 100) stands at `progress` (None: no readings)."""
    goal = GoalFactory(organization=org, team=team, status=fields.pop("status", "active"), **fields)
    if title:
        Goal.objects.filter(pk=goal.pk).update(title=title)
    metric = MetricFactory(goal=goal, organization=org)
    if progress is not None:
        Reading.objects.create(organization=org, metric=metric, observed_at=T - DAY, value=progress * 100)
        metrics_refresh(org=org, metric_ids=[metric.pk])
    goals_refresh_progress(org=org)
    return goal


def correction(org, team, trigger, severity="warning", *, status="open", when=T, subject_type="team", subject=None):
    subject_id = str((subject or team).pk)
    row = CourseCorrection.objects.create(
        organization=org, subject_type=subject_type, subject_id=subject_id, team=team, trigger=trigger,
        severity=severity, status=status, detail=f"{trigger} ({severity})",
    )  # fmt: skip
    CourseCorrection.objects.filter(pk=row.pk).update(created_at=when)
    return row


def snapshot(org, subject_type, subject_id, score, when):
    return ScoreSnapshot.objects.create(
        organization=org, subject_type=subject_type, subject_id=str(subject_id), score=score,
        components={"pace": score}, computed_at=when,
    )  # fmt: skip


def assess(org, team, alignment, confidence, mode, quadrant, when=None):
    return Assessment.objects.create(
        organization=org, team=team, alignment=alignment, confidence=confidence, quadrant=quadrant,
        recommended_mode=mode, created_at=when or datetime.datetime.now(UTC),
    )  # fmt: skip


def latest_score(org, subject_type, subject_id):
    return (
        ScoreSnapshot.objects.filter(organization=org, subject_type=subject_type, subject_id=str(subject_id))
        .order_by("-computed_at", "-id")
        .values_list("score", flat=True)
        .first()
    )


# --- Shape ------------------------------------------------------------------------------------------


def test_shape_and_team_rows(org, viewer, client_for):
    alpha = TeamFactory(organization=org, name="Alpha")
    beta = TeamFactory(organization=org, name="Beta")
    goal_at(org, alpha, 0.80)
    goal_at(org, alpha, 0.60)
    goal_at(org, alpha, 0.10)
    goal_at(org, alpha, None)
    goal_at(org, beta, 0.80)
    goal_at(org, beta, 0.50, status="draft")
    assess(org, alpha, 4, 5, "scalable", "full_support")
    engine.rescore_org(org=org)

    body = dashboard(client_for(viewer), org)

    assert set(body) == {"org", "teams", "risks", "opportunities", "leadership_signals"}
    assert body["org"] == {"score": latest_score(org, "org", org.pk), "trend": None}
    assert body["org"]["score"] is not None
    assert [team["id"] for team in body["teams"]] == [str(alpha.pk), str(beta.pk)]
    by_name = {team["name"]: team for team in body["teams"]}
    for team, row in ((alpha, by_name["Alpha"]), (beta, by_name["Beta"])):
        assert set(row) == TEAM_FIELDS
        assert set(row["goals"]) == HEALTH_FIELDS
        assert row["score"] == latest_score(org, "team", team.pk) is not None
        assert row["trend"] is None
        causes = CourseCorrection.objects.filter(ACTIVE_CORRECTION, organization=org, team=team, caused_by=None)
        assert row["open_corrections"] == causes.count(), "symptoms are counted under their cause"
    assert by_name["Alpha"]["goals"] == {"on_track": 1, "at_risk": 1, "off_track": 1, "no_data": 1}
    assert by_name["Beta"]["goals"] == {"on_track": 1, "at_risk": 0, "off_track": 0, "no_data": 0}
    assert by_name["Alpha"]["open_corrections"] > 0
    assert (by_name["Alpha"]["recommended_mode"], by_name["Beta"]["recommended_mode"]) == ("scalable", None)
    alpha_matrix = {key: by_name["Alpha"][key] for key in ("alignment", "confidence", "quadrant")}
    assert alpha_matrix == {"alignment": 4, "confidence": 5, "quadrant": "full_support"}
    assert (by_name["Beta"]["alignment"], by_name["Beta"]["confidence"], by_name["Beta"]["quadrant"]) == (None,) * 3
    assert body["risks"], "the off-track goal opened corrections"
    for risk in body["risks"]:
        assert set(risk) >= CORRECTION_FIELDS
        assert risk["status"] in ("open", "acknowledged")
    for item in body["opportunities"]:
        assert set(item) >= {"id", "title", "team", "progress", "expected_progress"}


def test_the_recommended_mode_is_the_latest_assessments(org, viewer, client_for, frozen):
    team = TeamFactory(organization=org)
    assess(org, team, 4, 4, "scalable", "full_support")
    frozen.shift(DAY)
    assess(org, team, 2, 2, "critical", "critical")

    [row] = dashboard(client_for(viewer), org)["teams"]

    assert row["recommended_mode"] == "critical"
    assert row["score"] is None
    assert row["goals"] == dict.fromkeys(HEALTH_FIELDS, 0)


def test_an_empty_org(org, viewer, client_for):
    body = dashboard(client_for(viewer), org)

    assert body == {
        "org": {"score": None, "trend": None}, "teams": [], "risks": [], "opportunities": [], "leadership_signals": [],
    }  # fmt: skip


# --- Risks, opportunities, leadership signals ---------------------------------------------------


def test_risks_are_open_corrections_critical_first(org, viewer, client_for):
    alpha = TeamFactory(organization=org, name="Alpha")
    beta = TeamFactory(organization=org, name="Beta")
    info = correction(org, alpha, "stale_data", "info", when=T - 1 * DAY)
    warning_new = correction(org, alpha, "score_drop", "warning", when=T - 2 * DAY)
    critical_old = correction(org, beta, "critical_quadrant", "critical", when=T - 9 * DAY)
    warning_old = correction(org, beta, "hands_off_drift", "warning", status="acknowledged", when=T - 5 * DAY)
    critical_new = correction(org, alpha, "permanent_micromanagement", "critical", when=T - 3 * DAY)
    correction(org, alpha, "critical_quadrant", "critical", status="resolved", when=T)
    correction(org, beta, "intervention", "critical", status="expired", when=T)

    body = dashboard(client_for(viewer), org)

    assert [risk["id"] for risk in body["risks"]] == [
        str(c.pk) for c in (critical_new, critical_old, warning_new, warning_old, info)
    ]
    assert [risk["severity"] for risk in body["risks"]] == ["critical", "critical", "warning", "warning", "info"]
    counts = {team["name"]: team["open_corrections"] for team in body["teams"]}
    assert counts == {"Alpha": 3, "Beta": 2}


def test_opportunities_are_goals_ahead_of_pace(org, viewer, client_for):
    team = TeamFactory(organization=org)
    far_ahead = goal_at(org, team, 0.98)
    ahead = goal_at(org, team, 0.92)
    goal_at(org, team, 0.74)
    goal_at(org, team, 0.40)
    goal_at(org, team, 0.10)
    goal_at(org, team, None)
    goal_at(org, None, 0.30)

    body = dashboard(client_for(viewer), org)

    assert {item["id"] for item in body["opportunities"]} == {str(far_ahead.pk), str(ahead.pk)}
    for item in body["opportunities"]:
        assert item["progress"] > item["expected_progress"]
        assert item["team"] == str(team.pk)
        assert item["expected_progress"] == pytest.approx(0.749, abs=0.002)


def test_leadership_signals_are_only_the_three_leadership_triggers(org, viewer, client_for):
    team = TeamFactory(organization=org)
    other = TeamFactory(organization=org)
    goal = goal_at(org, team, None)
    signals = [
        correction(org, team, "intervention_overdue", when=T - DAY),
        correction(org, team, "hands_off_drift", when=T - 2 * DAY),
        correction(org, other, "permanent_micromanagement", "critical", status="acknowledged", when=T - 3 * DAY),
    ]
    correction(org, other, "hands_off_drift", status="resolved")
    correction(org, team, "permanent_micromanagement", "critical", status="expired")
    for trigger in ("intervention", "critical_quadrant", "score_below_threshold", "score_drop", "manual"):
        correction(org, other, trigger)
    for trigger in ("off_track", "stale_data", "stale_checkin", "low_confidence", "hypothesis_busted"):
        correction(org, team, trigger, subject_type="goal", subject=goal)

    body = dashboard(client_for(viewer), org)

    assert {item["trigger"] for item in body["leadership_signals"]} == LEADERSHIP
    assert sorted(item["id"] for item in body["leadership_signals"]) == sorted(str(c.pk) for c in signals)


def test_the_engines_drift_shows_as_a_leadership_signal(org, viewer, client_for, member_of):
    team = TeamFactory(organization=org, lead=member_of(org))
    goal_at(org, team, 0.10)
    engine.rescore_org(org=org)

    body = dashboard(client_for(viewer), org)

    assert [(s["trigger"], s["subject_id"]) for s in body["leadership_signals"]] == [("hands_off_drift", str(team.pk))]


# --- Trends -----------------------------------------------------------------------------------------


def test_trend_is_now_minus_the_newest_score_at_least_a_week_old(org, viewer, client_for):
    alpha = TeamFactory(organization=org, name="Alpha")
    beta = TeamFactory(organization=org, name="Beta")
    for team in (alpha, beta):
        GoalFactory(organization=org, team=team, status="active")
    snapshot(org, "org", org.pk, 40, T - 10 * DAY)
    snapshot(org, "org", org.pk, 50, T - 8 * DAY)
    snapshot(org, "org", org.pk, 70, T - 3 * DAY)
    snapshot(org, "org", org.pk, 65.5, T - datetime.timedelta(hours=1))
    snapshot(org, "team", alpha.pk, 60, T - 7 * DAY)
    snapshot(org, "team", alpha.pk, 62.25, T - DAY)
    snapshot(org, "team", beta.pk, 30, T - 2 * DAY)

    body = dashboard(client_for(viewer), org)

    assert body["org"] == {"score": 65.5, "trend": 15.5}
    rows = {team["name"]: (team["score"], team["trend"]) for team in body["teams"]}
    assert rows == {"Alpha": (62.25, 2.25), "Beta": (30, None)}


def test_trend_after_a_week_of_progress(org, viewer, client_for, frozen):
    team = TeamFactory(organization=org, name="Alpha")
    goal = GoalFactory(organization=org, team=team, status="active")
    metric = MetricFactory(goal=goal, organization=org)
    Reading.objects.create(organization=org, metric=metric, observed_at=T - 9 * DAY, value=10)
    metrics_refresh(org=org, metric_ids=[metric.pk])
    goals_refresh_progress(org=org)
    frozen.move_to(T - 8 * DAY)
    engine.rescore_org(org=org)
    week_old = latest_score(org, "org", org.pk)

    frozen.move_to(T)
    Reading.objects.create(organization=org, metric=metric, observed_at=T - DAY, value=85)
    metrics_refresh(org=org, metric_ids=[metric.pk])
    goals_refresh_progress(org=org)
    engine.rescore_org(org=org)
    now = latest_score(org, "org", org.pk)
    assert now > week_old

    body = dashboard(client_for(viewer), org)

    assert body["org"] == {"score": now, "trend": round(now - week_old, 2)}
    [row] = body["teams"]
    assert (row["score"], row["trend"]) == (now, round(now - week_old, 2))


def test_a_team_without_active_goals_has_no_score(org, viewer, client_for, frozen):
    team = TeamFactory(organization=org)
    goal = goal_at(org, team, 0.10)
    engine.rescore_org(org=org)
    assert latest_score(org, "team", team.pk) is not None

    frozen.shift(DAY)
    Goal.objects.filter(pk=goal.pk).update(status="achieved")
    engine.rescore_org(org=org)

    [row] = dashboard(client_for(viewer), org)["teams"]
    assert row["score"] is None


# --- Access -----------------------------------------------------------------------------------------


def test_who_may_read_it(org, member, admin, outsider, client_for, key_client_for):
    TeamFactory(organization=org)

    for client in (client_for(member), client_for(admin), key_client_for(org, (Scope.READ,))):
        assert len(dashboard(client, org)["teams"]) == 1
    assert client_for(outsider).get(api(org, "dashboard/")).status_code == 404
    assert key_client_for(org, (Scope.READINGS_WRITE,)).get(api(org, "dashboard/")).status_code == 403


def test_another_orgs_content_never_shows(org, other_org, viewer, client_for):
    theirs = TeamFactory(organization=other_org)
    goal_at(other_org, theirs, 0.98)
    correction(other_org, theirs, "hands_off_drift")
    engine.rescore_org(org=other_org)

    body = dashboard(client_for(viewer), org)

    assert body == {
        "org": {"score": None, "trend": None}, "teams": [], "risks": [], "opportunities": [], "leadership_signals": [],
    }  # fmt: skip


# --- Query count ------------------------------------------------------------------------------------

DASHBOARD_QUERIES = 9  # token with membership, 2 score passes, teams, 2 counts, opportunities, risks, signals


@pytest.mark.parametrize("teams", [2, 12])
def test_query_count_is_fixed(org, viewer, client_for, member_of, django_assert_num_queries, frozen, teams):
    for _n in range(teams):
        team = TeamFactory(organization=org, lead=member_of(org))
        goal_at(org, team, 0.10)
        goal_at(org, team, 0.95)
        assess(org, team, 4, 2, "selective_micromanagement", "needs_guidance", when=T - 30 * DAY)
    frozen.move_to(T - 8 * DAY)
    engine.rescore_org(org=org)
    frozen.move_to(T)
    Goal.objects.filter(organization=org, progress__lt=0.5).update(progress=0.2)
    engine.rescore_org(org=org)
    client = client_for(viewer)

    with django_assert_num_queries(DASHBOARD_QUERIES):
        body = dashboard(client, org)

    assert len(body["teams"]) == teams
    assert len(body["opportunities"]) == teams
    assert all(team["open_corrections"] > 0 for team in body["teams"])
    assert all(team["trend"] is not None for team in body["teams"])
    assert body["leadership_signals"]
