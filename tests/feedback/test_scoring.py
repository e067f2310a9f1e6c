"""The score formulas (docs/scoring.md) over hand-built inputs, and the engine's guarantees."""

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from feedback import scoring
from feedback.scoring import COMPONENTS, DAY, NEUTRAL
from teams.org_settings import DEFAULTS
from tests.feedback.test_rules import NOW, assessed, goal, metric

RULES = dict(DEFAULTS)


def qualities(g, assessment=None, **settings):
    return scoring.goal_qualities(g, assessment, {**RULES, **settings}, NOW)


def test_default_weights_share_100_points():
    shares = scoring.weights(RULES)
    assert sum(shares.values()) == pytest.approx(100)
    assert shares["pace"] == pytest.approx(25)


def test_weights_are_normalised():
    shares = scoring.weights({**RULES, **{f"weight_{name}": 1 for name in COMPONENTS}})
    assert all(share == pytest.approx(100 / 7) for share in shares.values())


@given(
    progress=st.one_of(st.none(), st.floats(0, 1)),
    confidence=st.one_of(st.none(), st.integers(0, 10)),
    concerns=st.integers(0, 5),
    forecast=st.one_of(st.none(), st.floats(-1e6, 1e6)),
    weights=st.lists(st.integers(0, 50), min_size=7, max_size=7).filter(lambda w: sum(w) > 0),
)
@hsettings(max_examples=200, deadline=None)
def test_components_add_up_to_a_score_between_0_and_100(progress, confidence, concerns, forecast, weights):
    settings = {**RULES, **{f"weight_{name}": w for name, w in zip(COMPONENTS, weights, strict=True)}}
    g = goal(
        progress=progress, latest_confidence=confidence, open_concerns=concerns, metrics=(metric(forecast=forecast),)
    )
    points = scoring.to_points(scoring.goal_qualities(g, None, settings, NOW), scoring.weights(settings))
    score = scoring.total(points)
    assert 0 <= score <= 100
    assert sum(points.values()) == pytest.approx(score, abs=0.005)
    assert all(round(value, 2) == value for value in points.values())


def test_a_goal_doing_everything_right_scores_100():
    perfect = goal(progress=0.7, metrics=(metric(forecast=120.0),), latest_confidence=10)
    points = scoring.to_points(qualities(perfect, assessed(5, 5)), scoring.weights(RULES))
    assert scoring.total(points) == 100


@pytest.mark.parametrize(
    ("progress", "pace"),
    [(0.6, 1.0), (0.55, 1.0), (0.35, 0.5), (0.15, 0.0), (0.0, 0.0), (None, NEUTRAL)],
)
def test_pace_is_full_on_track_and_falls_linearly(progress, pace):
    assert qualities(goal(progress=progress))["pace"] == pytest.approx(pace)


@pytest.mark.parametrize(
    ("forecast", "quality"), [(100.0, 1.0), (250.0, 1.0), (40.0, 0.4), (-20.0, 0.0), (None, NEUTRAL)]
)
def test_forecast_quality_is_the_clamped_share_of_the_way(forecast, quality):
    assert qualities(goal(metrics=(metric(forecast=forecast),)))["forecast"] == pytest.approx(quality)


def test_forecast_weighs_metrics():
    metrics = (metric(forecast=100.0, weight=3.0), metric(id="m2", forecast=0.0, weight=1.0))
    assert qualities(goal(metrics=metrics))["forecast"] == pytest.approx(0.75)


@pytest.mark.parametrize(("confidence", "quality"), [(None, NEUTRAL), (0, 0.0), (7, 0.7), (10, 1.0)])
def test_confidence_is_the_latest_checkin_over_ten(confidence, quality):
    assert qualities(goal(latest_confidence=confidence))["confidence"] == pytest.approx(quality)


@pytest.mark.parametrize(("ratings", "quality"), [(None, NEUTRAL), ((1, 1), 0.0), ((5, 5), 1.0), ((4, 2), 0.5)])
def test_assessment_quality(ratings, quality):
    assessment = None if ratings is None else assessed(*ratings)
    assert qualities(goal(), assessment)["assessment"] == pytest.approx(quality)


@pytest.mark.parametrize(("concerns", "challenges", "quality"), [(0, 0, 1.0), (1, 0, 0.5), (1, 1, 1 / 3)])
def test_open_concerns_and_challenges_cost_points(concerns, challenges, quality):
    g = goal(open_concerns=concerns, open_challenges=challenges)
    assert qualities(g)["feedback"] == pytest.approx(quality)


@pytest.mark.parametrize(
    ("strategies", "parent", "team", "quality"),
    [(1, "g0", "t1", 1.0), (0, "g0", "t1", 0.5), (1, None, "t1", 0.5), (0, None, None, 0.5), (0, None, "t1", 0.0)],
)
def test_linkage(strategies, parent, team, quality):
    assert qualities(goal(strategy_count=strategies, parent_id=parent, team_id=team))["linkage"] == quality


@pytest.mark.parametrize(
    ("reading_days", "checkin_days", "quality"),
    [(1, 1, 1.0), (30, 1, 0.5), (1, 10.5, 0.75), (1, 14, 0.5), (30, 30, 0.0), (None, 1, 0.5)],
)
def test_freshness_of_data_and_checkins(reading_days, checkin_days, quality):
    last_reading = None if reading_days is None else NOW - reading_days * DAY
    g = goal(metrics=(metric(last_reading_ts=last_reading),), last_checkin_ts=NOW - checkin_days * DAY)
    assert qualities(g)["freshness"] == pytest.approx(quality)


def test_team_and_org_points_are_weighted_means_that_still_add_up():
    a = scoring.to_points(qualities(goal()), scoring.weights(RULES))
    b = scoring.to_points(qualities(replace(goal(), progress=0.0, latest_confidence=1)), scoring.weights(RULES))
    team = scoring.weighted_points([(a, 3.0), (b, 1.0)])
    assert team is not None
    assert scoring.total(team) == pytest.approx((3 * scoring.total(a) + scoring.total(b)) / 4, abs=0.05)
    assert sum(team.values()) == pytest.approx(scoring.total(team), abs=0.005)
    assert scoring.weighted_points([]) is None
