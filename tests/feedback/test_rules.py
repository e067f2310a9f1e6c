"""Each course-correction rule, firing and clearing, over hand-built states (no database)."""

from dataclasses import replace
from datetime import date, timedelta

import pytest

from feedback.inputs import ActiveCorrection, AssessmentInputs, GoalInputs, MetricInputs, TeamInputs, World
from feedback.models import LeadershipMode, Severity, Trigger
from feedback.rules import find_all, link_causes
from feedback.scoring import DAY
from goals.formulas import Stall
from teams.org_settings import DEFAULTS

NOW = 1_790_000_000.0  # 2026-09-21
TODAY = date(2026, 9, 21)
START, END = NOW - 60 * DAY, NOW + 40 * DAY  # 60 % of the window elapsed


def metric(**changes):
    base = MetricInputs(
        id="m1", name="MAU", baseline=0.0, target=100.0, weight=1.0, forecast=100.0,
        stale_after_days=7, last_reading_ts=NOW - DAY,
    )  # fmt: skip
    return replace(base, **changes)


def goal(**changes):
    base = GoalInputs(
        id="g1", title="Grow", team_id="t1", parent_id="g0", owner_id=1, weight=1.0, progress=0.6,
        window_start_ts=START, window_end_ts=END, hypothesis="", strategy_count=1, latest_confidence=7,
        last_checkin_ts=NOW - DAY, metrics=(metric(),),
    )  # fmt: skip
    return replace(base, **changes)


def team(**changes):
    base = TeamInputs(
        id="t1", name="Core", lead_id=1, parent_lead_id=2, latest_assessment=None,
        last_lead_checkin_ts=NOW - DAY,
    )  # fmt: skip
    return replace(base, **changes)


def assessed(alignment, confidence, days_ago=1):
    from feedback.matrix import classify

    _, mode = classify(alignment=alignment, confidence=confidence)
    return AssessmentInputs(alignment, confidence, mode, NOW - days_ago * DAY)


def world(goals=(), teams=(), scores=None, previous=None, active=(), **settings):
    return World(
        settings={**DEFAULTS, **settings}, now_ts=NOW, today=TODAY, goals=list(goals),
        teams={t.id: t for t in teams}, scores=scores or {}, previous_scores=previous or {}, active=list(active),
    )  # fmt: skip


def triggers(state):
    return {(f.subject_type, f.subject_id, f.trigger) for f in find_all(state)}


def finding(state, trigger):
    return next(f for f in find_all(state) if f.trigger == trigger)


def test_a_healthy_goal_and_team_raise_nothing():
    assert triggers(world([goal()], [team()])) == set()


@pytest.mark.parametrize(
    ("progress", "fires"), [(0.6, False), (0.55, False), (0.4, False), (0.39, True), (0.0, True), (None, False)]
)
def test_off_track_fires_beyond_the_at_risk_gap(progress, fires):
    state = world([goal(progress=progress)], [team()])
    assert (("goal", "g1", Trigger.OFF_TRACK) in triggers(state)) is fires


def test_off_track_detail_names_the_numbers():
    detail = finding(world([goal(progress=0.2)], [team()]), Trigger.OFF_TRACK).detail
    assert "20 %" in detail
    assert "60 %" in detail


@pytest.mark.parametrize(
    ("last_reading_days", "stale_after", "fires"), [(1, 7, False), (7, 7, False), (8, 7, True), (None, 7, True)]
)
def test_stale_data(last_reading_days, stale_after, fires):
    last = None if last_reading_days is None else NOW - last_reading_days * DAY
    state = world([goal(metrics=(metric(last_reading_ts=last, stale_after_days=stale_after),))], [team()])
    assert (("goal", "g1", Trigger.STALE_DATA) in triggers(state)) is fires


def test_no_freshness_contract_is_never_stale():
    state = world([goal(metrics=(metric(last_reading_ts=None, stale_after_days=None),))], [team()])
    assert Trigger.STALE_DATA not in {t for *_, t in triggers(state)}


@pytest.mark.parametrize(("days", "fires"), [(1, False), (14, False), (15, True), (None, True)])
def test_stale_checkin_after_twice_the_interval(days, fires):
    last = None if days is None else NOW - days * DAY
    state = world([goal(last_checkin_ts=last)], [team()])
    assert (("goal", "g1", Trigger.STALE_CHECKIN) in triggers(state)) is fires


def test_stale_checkin_counts_from_the_window_start_for_new_goals():
    young = goal(window_start_ts=NOW - 10 * DAY, last_checkin_ts=None)
    assert ("goal", "g1", Trigger.STALE_CHECKIN) not in triggers(world([young], [team()]))


@pytest.mark.parametrize(("confidence", "fires"), [(None, False), (4, False), (3, True), (0, True)])
def test_low_confidence(confidence, fires):
    state = world([goal(latest_confidence=confidence)], [team()])
    assert (("goal", "g1", Trigger.LOW_CONFIDENCE) in triggers(state)) is fires


@pytest.mark.parametrize(
    ("hypothesis", "challenges", "forecast", "elapsed_days", "fires"),
    [
        ("Faster matches keep players", 0, 40.0, 60, True),
        ("Faster matches keep players", 0, 50.0, 60, False),  # exactly busted_below is not below
        ("Faster matches keep players", 0, 40.0, 40, False),  # only 40 % of the window elapsed
        ("", 0, 40.0, 60, False),  # no hypothesis, no challenge
        ("", 1, 40.0, 60, True),  # a challenge backed by the data
    ],
)
def test_hypothesis_busted(hypothesis, challenges, forecast, elapsed_days, fires):
    g = goal(
        hypothesis=hypothesis, open_challenges=challenges, metrics=(metric(forecast=forecast),),
        window_start_ts=NOW - elapsed_days * DAY, window_end_ts=NOW + (100 - elapsed_days) * DAY,
    )  # fmt: skip
    assert (("goal", "g1", Trigger.HYPOTHESIS_BUSTED) in triggers(world([g], [team()]))) is fires


def test_hypothesis_busted_detail_reads_like_a_sentence():
    g = goal(hypothesis="h", metrics=(metric(name="Engagement", forecast=41.0),))
    detail = finding(world([g], [team()]), Trigger.HYPOTHESIS_BUSTED).detail
    assert detail.startswith("Engagement forecast 41 % of the way to target at 60 % of the cycle")
    assert finding(world([g], [team()]), Trigger.HYPOTHESIS_BUSTED).severity == Severity.CRITICAL


def test_busted_works_for_decreasing_metrics():
    crash = metric(baseline=2.0, target=0.5, forecast=1.8)  # 13 % of the way down
    assert ("goal", "g1", Trigger.HYPOTHESIS_BUSTED) in triggers(world([goal(hypothesis="h", metrics=(crash,))]))


@pytest.mark.parametrize(
    ("score", "fires", "severity"),
    [(61, False, None), (60, False, None), (59.99, True, "warning"), (29, True, "critical")],
)
def test_score_below_threshold(score, fires, severity):
    state = world([goal()], [team()], scores={("goal", "g1"): score, ("team", "t1"): 80})
    assert (("goal", "g1", Trigger.SCORE_BELOW_THRESHOLD) in triggers(state)) is fires
    if fires:
        assert finding(state, Trigger.SCORE_BELOW_THRESHOLD).severity == severity


@pytest.mark.parametrize(("previous", "fires"), [(None, False), (80, False), (84.99, False), (85, True), (99, True)])
def test_score_drop_since_the_last_snapshot(previous, fires):
    state = world(
        [goal()],
        [team()],
        scores={("team", "t1"): 70.0},
        previous={} if previous is None else {("team", "t1"): previous},
    )
    assert (("team", "t1", Trigger.SCORE_DROP) in triggers(state)) is fires


@pytest.mark.parametrize(
    ("alignment", "confidence", "expected"),
    [
        (5, 5, set()),
        (2, 5, set()),  # divergence permitted: no intervention
        (4, 2, {Trigger.INTERVENTION}),
        (2, 2, {Trigger.CRITICAL_QUADRANT}),
    ],
)
def test_interventions_follow_the_latest_assessment(alignment, confidence, expected):
    state = world([goal()], [team(latest_assessment=assessed(alignment, confidence))])
    found = {t for kind, _, t in triggers(state) if kind == "team"}
    assert found == expected


def test_an_intervention_is_temporary_with_a_review_date():
    state = world([goal()], [team(latest_assessment=assessed(4, 2, days_ago=1))])
    intervention = finding(state, Trigger.INTERVENTION)
    assert intervention.review_by == date.fromtimestamp(NOW - DAY) + timedelta(days=21)
    assert intervention.recommended_mode == LeadershipMode.SELECTIVE_MICROMANAGEMENT
    assert "temporary" in intervention.detail


def test_critical_quadrant_recommends_critical_mode():
    state = world([goal()], [team(latest_assessment=assessed(1, 1))])
    assert finding(state, Trigger.CRITICAL_QUADRANT).recommended_mode == LeadershipMode.CRITICAL


def test_intervention_overdue_past_review_by():
    past = ActiveCorrection("team", "t1", Trigger.INTERVENTION, TODAY - timedelta(days=1), 0)
    due_today = ActiveCorrection("team", "t1", Trigger.INTERVENTION, TODAY, 0)
    assert ("team", "t1", Trigger.INTERVENTION_OVERDUE) in triggers(world([goal()], [team()], active=[past]))
    assert ("team", "t1", Trigger.INTERVENTION_OVERDUE) not in triggers(world([goal()], [team()], active=[due_today]))


def test_an_old_assessment_is_overdue_on_the_first_run():
    state = world([goal()], [team(latest_assessment=assessed(2, 2, days_ago=30))])
    assert ("team", "t1", Trigger.INTERVENTION_OVERDUE) in triggers(state)


@pytest.mark.parametrize(
    ("lead_checkin_days", "assessment_days", "fires"),
    [(1, None, False), (15, None, True), (15, 3, False), (None, 20, True), (None, None, True)],
)
def test_hands_off_drift(lead_checkin_days, assessment_days, fires):
    touch = None if lead_checkin_days is None else NOW - lead_checkin_days * DAY
    assessment = None if assessment_days is None else assessed(5, 5, days_ago=assessment_days)
    state = world([goal(progress=0.1)], [team(last_lead_checkin_ts=touch, latest_assessment=assessment)])
    assert (("team", "t1", Trigger.HANDS_OFF_DRIFT) in triggers(state)) is fires


def test_no_drift_without_an_off_track_goal():
    state = world([goal(progress=0.6)], [team(last_lead_checkin_ts=None)])
    assert ("team", "t1", Trigger.HANDS_OFF_DRIFT) not in triggers(state)


def test_permanent_micromanagement_when_most_of_a_leaders_teams_are_under_intervention():
    teams = [team(id=f"t{i}", name=f"T{i}", lead_id=10 + i, parent_lead_id=99) for i in range(3)]
    teams[0] = replace(teams[0], latest_assessment=assessed(4, 2))
    teams[1] = replace(teams[1], latest_assessment=assessed(2, 1))
    found = triggers(world([goal(team_id="t0")], teams))
    assert {
        ("team", "t0", Trigger.PERMANENT_MICROMANAGEMENT),
        ("team", "t1", Trigger.PERMANENT_MICROMANAGEMENT),
    } <= found
    assert ("team", "t2", Trigger.PERMANENT_MICROMANAGEMENT) not in found


def test_one_intervention_is_not_a_pattern():
    teams = [team(id=f"t{i}", lead_id=10 + i, parent_lead_id=99) for i in range(3)]
    teams[0] = replace(teams[0], latest_assessment=assessed(4, 2))
    assert Trigger.PERMANENT_MICROMANAGEMENT not in {t for *_, t in triggers(world([goal(team_id="t0")], teams))}


@pytest.mark.parametrize(("extensions", "fires"), [(2, False), (3, True)])
def test_permanent_micromanagement_when_an_intervention_is_extended_again_and_again(extensions, fires):
    active = ActiveCorrection("team", "t1", Trigger.INTERVENTION, TODAY + timedelta(days=5), extensions)
    state = world([goal()], [team()], active=[active])
    assert (("team", "t1", Trigger.PERMANENT_MICROMANAGEMENT) in triggers(state)) is fires


def test_same_state_same_findings():
    state = world([goal(progress=0.1, hypothesis="h", metrics=(metric(forecast=10.0),))], [team()])
    assert find_all(state) == find_all(state)


# --- likely_miss ---------------------------------------------------------------------------------


def odds_metric(p_hit=0.05, forecast=60.0, enough=True, **changes):
    return metric(
        p_hit=p_hit, forecast=forecast, forecast_low=50.0, forecast_high=70.0, enough_readings=enough, **changes
    )


@pytest.mark.parametrize(
    ("metrics", "elapsed_ok", "fires"),
    [
        ((odds_metric(),), True, True),
        ((odds_metric(p_hit=0.2),), True, False),  # exactly likely_miss_below is not below
        ((odds_metric(enough=False),), True, False),  # too few readings
        ((odds_metric(p_hit=None),), True, False),  # no odds yet
        ((odds_metric(forecast=96.0),), True, False),  # forecast within the tolerance of the target
        ((odds_metric(),), False, False),  # too early in the window
        ((odds_metric(), odds_metric(id="m2", p_hit=0.9, forecast=110.0, weight=3.0)), True, False),  # weighted mean
        ((odds_metric(), odds_metric(id="m2", p_hit=0.9, enough=False, weight=3.0)), True, True),  # left out
    ],
)
def test_likely_miss(metrics, elapsed_ok, fires):
    start = START if elapsed_ok else NOW - 10 * DAY  # 60 % or 10 % elapsed
    state = world([goal(metrics=metrics, window_start_ts=start, progress=0.9)])
    assert (("goal", "g1", Trigger.LIKELY_MISS) in triggers(state)) is fires


def test_likely_miss_detail_names_the_odds_and_the_band():
    [finding] = [
        f for f in find_all(world([goal(metrics=(odds_metric(),), progress=0.9)])) if f.trigger == "likely_miss"
    ]
    assert "5 % chance" in finding.detail
    assert "80 % band 50 to 70" in finding.detail
    assert finding.severity == Severity.WARNING


def stalled(p_hit=0.01, forecast=70.0):
    return Stall(forecast=forecast, p_hit=p_hit, recent_slope=0.05, needed_slope=1.1)


@pytest.mark.parametrize(
    ("metric_inputs", "fires", "from_stall"),
    [
        (odds_metric(p_hit=0.6, forecast=99.0, stall=stalled()), True, True),  # the trend has not bent yet
        (odds_metric(p_hit=0.6, forecast=99.0, stall=stalled(forecast=96.0)), False, False),  # within the tolerance
        (odds_metric(p_hit=0.6, forecast=99.0, stall=stalled(p_hit=0.3)), False, False),  # not unlikely enough
        (odds_metric(p_hit=0.05, stall=stalled(p_hit=0.1)), True, False),  # the trend's odds are the lower
        (odds_metric(p_hit=0.6, forecast=99.0, enough=False, stall=stalled()), False, False),  # too few readings
    ],
)
def test_likely_miss_takes_the_stall_s_odds_when_they_are_the_lower(metric_inputs, fires, from_stall):
    findings = [
        f for f in find_all(world([goal(metrics=(metric_inputs,), progress=0.9)])) if f.trigger == "likely_miss"
    ]
    assert bool(findings) is fires
    assert any("over the last 7 days" in f.detail for f in findings) is from_stall


def test_likely_miss_from_a_stall_says_how_the_recent_readings_moved():
    [finding] = [
        f for f in find_all(world([goal(metrics=(odds_metric(p_hit=0.6, stall=stalled()),), progress=0.9)]))
        if f.trigger == "likely_miss"
    ]  # fmt: skip
    assert finding.detail == (
        "'Grow' has a 1 % chance of reaching its target at 60 % of its window: MAU moved 0.05 a day over the "
        "last 7 days where 1.1 a day is needed, and at that rate reaches 70 against a target of 100."
    )


# --- Causes and symptoms -------------------------------------------------------------------------


def causes_of(state):
    findings = {f.key: f for f in find_all(state)}
    return link_causes(findings, {str(g.id): g.team_id for g in state.goals})


def test_on_one_goal_the_first_trigger_by_precedence_is_the_cause_of_the_others():
    stalled = goal(
        progress=0.1, latest_confidence=2, last_checkin_ts=NOW - 30 * DAY,
        metrics=(odds_metric(stale_after_days=7, last_reading_ts=NOW - 20 * DAY),),
    )  # fmt: skip
    causes = causes_of(world([stalled], [team()], scores={("goal", "g1"): 20.0}))
    cause = ("goal", "g1", Trigger.STALE_DATA)
    assert causes[cause] is None
    for trigger in (
        Trigger.OFF_TRACK, Trigger.LIKELY_MISS, Trigger.LOW_CONFIDENCE, Trigger.STALE_CHECKIN,
        Trigger.SCORE_BELOW_THRESHOLD,
    ):  # fmt: skip
        assert causes[("goal", "g1", trigger)] == cause, trigger


def test_a_team_in_the_critical_quadrant_explains_its_drift_overdue_review_and_score():
    overdue = ActiveCorrection("team", "t1", Trigger.CRITICAL_QUADRANT, TODAY - timedelta(days=3), 0)
    troubled = team(latest_assessment=assessed(1, 1, days_ago=40), last_lead_checkin_ts=NOW - 40 * DAY)
    state = world([goal(progress=0.1)], [troubled], scores={("team", "t1"): 20.0}, active=[overdue])
    causes = causes_of(state)
    leading = ("team", "t1", Trigger.CRITICAL_QUADRANT)
    assert causes[leading] is None
    for trigger in (Trigger.INTERVENTION_OVERDUE, Trigger.HANDS_OFF_DRIFT, Trigger.SCORE_BELOW_THRESHOLD):
        assert causes[("team", "t1", trigger)] == leading, trigger
    assert causes[("goal", "g1", Trigger.OFF_TRACK)] is None  # the goal's own cause stands beside it


def test_a_team_score_without_a_leadership_cause_is_explained_by_its_most_severe_goal_cause():
    busted = goal(id="g2", hypothesis="Faster matches keep players", metrics=(metric(forecast=10.0),))
    state = world([goal(progress=0.1), busted], [team()], scores={("team", "t1"): 40.0})
    causes = causes_of(state)
    assert causes[("team", "t1", Trigger.SCORE_BELOW_THRESHOLD)] == ("goal", "g2", Trigger.HYPOTHESIS_BUSTED)


def test_a_team_score_with_no_cause_in_sight_is_a_cause():
    state = world([goal()], [team()], scores={("team", "t1"): 40.0})
    assert causes_of(state)[("team", "t1", Trigger.SCORE_BELOW_THRESHOLD)] is None


def test_permanent_micromanagement_stands_alone():
    teams = [team(id=f"t{n}", lead_id=9, latest_assessment=assessed(4, 2)) for n in (1, 2)]
    causes = causes_of(world([], teams))
    assert causes[("team", "t1", Trigger.PERMANENT_MICROMANAGEMENT)] is None
    assert causes[("team", "t1", Trigger.INTERVENTION)] is None
