"""Score history: scoring an organization as of a past instant from what was known then, and
the backfill of weekly snapshots (idempotent, and it never steers)."""

import datetime
import itertools

import pytest
import time_machine

from alignment_service.notifications.models import Notification
from alignment_service.outbox.models import OutboxMessage
from feedback import engine, history
from feedback.models import Assessment, CheckIn, CourseCorrection, Feedback, ScoreSnapshot
from feedback.world import load_world
from goals.models import Goal, GoalScore, Reading
from goals.services import goals_refresh_progress, metrics_refresh
from tests.factories import GoalFactory, MetricFactory, TeamFactory, UserFactory

UTC = datetime.UTC
DAY = datetime.timedelta(days=1)
T = datetime.datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
NOW = datetime.datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def world(org):
    """A team with a lead, two goals under a company goal, readings, check-ins and an
    assessment, all before T, and a concern on one goal."""
    lead = UserFactory()
    team = TeamFactory(organization=org, lead=lead)
    company = GoalFactory(organization=org, team=None)
    goals = [GoalFactory(organization=org, team=team, parent=company, owner=lead) for _ in range(2)]
    Goal.objects.filter(organization=org).update(created_at=T - 120 * DAY)
    for index, goal in enumerate(goals):
        metric = MetricFactory(goal=goal, organization=org, stale_after_days=7)
        for day in range(60, 0, -3):
            Reading.objects.create(
                organization=org, metric=metric, observed_at=T - day * DAY, value=30 + index * 10 - day / 10
            )
        CheckIn.objects.create(
            organization=org, goal=goal, author=lead, summary="on pace", confidence=6 + index, created_at=T - 5 * DAY
        )
    Assessment.objects.create(
        organization=org, team=team, alignment=4, confidence=2, quadrant="needs_guidance",
        recommended_mode="selective_micromanagement", created_at=T - 10 * DAY,
    )  # fmt: skip
    Feedback.objects.create(
        organization=org, target_type="goal", target_id=str(goals[0].pk), kind="concern", body="slipping",
        created_at=T - 2 * DAY,
    )  # fmt: skip
    _refresh(org)
    return team, goals


def _refresh(org):
    metrics_refresh(org=org, metric_ids=org.metrics.values_list("id", flat=True))
    goals_refresh_progress(org=org)


def _add_later_data(org, team, goals):
    for goal in goals:
        metric = goal.metrics.get()
        for day in range(1, 40, 2):
            Reading.objects.create(organization=org, metric=metric, observed_at=T + day * DAY, value=95)
        CheckIn.objects.create(
            organization=org, goal=goal, author=team.lead, summary="late", confidence=1, created_at=T + DAY
        )
    Assessment.objects.create(
        organization=org, team=team, alignment=1, confidence=1, quadrant="critical", recommended_mode="critical",
        created_at=T + DAY,
    )  # fmt: skip
    Feedback.objects.create(
        organization=org, target_type="goal", target_id=str(goals[1].pk), kind="challenge", body="late",
        created_at=T + DAY,
    )  # fmt: skip
    late_goal = GoalFactory(organization=org, team=team)
    Goal.objects.filter(pk=late_goal.pk).update(created_at=T + DAY)
    _refresh(org)


def test_as_of_scores_equal_what_the_engine_computes_from_the_same_data(org, world):
    """With nothing known after T, scoring as of T is the engine's own live scoring at T."""
    live = engine.score_world(load_world(org, T).world, org)
    assert history.score_as_of(org, T) == live
    assert {key[0] for key in live} == {"goal", "team", "org"}


def test_as_of_scoring_ignores_readings_checkins_assessments_feedback_and_goals_after_the_instant(org, world):
    team, goals = world
    before = history.score_as_of(org, T)
    _add_later_data(org, team, goals)
    assert history.score_as_of(org, T) == before
    later = history.score_as_of(org, T + 30 * DAY)
    assert later != before
    goal_key = ("goal", str(goals[1].pk))
    assert later[goal_key]["confidence"] < before[goal_key]["confidence"]
    assert later[goal_key]["assessment"] < before[goal_key]["assessment"]
    assert later[goal_key]["feedback"] < before[goal_key]["feedback"]
    assert len([key for key in later if key[0] == "goal"]) == len([key for key in before if key[0] == "goal"]) + 1


def test_a_reading_at_the_instant_counts_one_after_it_does_not(org, world):
    _, goals = world
    metric = goals[0].metrics.get()
    before = history.score_as_of(org, T)
    Reading.objects.create(organization=org, metric=metric, observed_at=T + datetime.timedelta(seconds=1), value=0)
    assert history.score_as_of(org, T) == before
    Reading.objects.create(organization=org, metric=metric, observed_at=T, value=0)
    assert history.score_as_of(org, T)[("goal", str(goals[0].pk))] != before[("goal", str(goals[0].pk))]


def test_backfill_writes_weekly_snapshots_once_and_never_steers(org, world, django_assert_max_num_queries):
    instants = history.weekly_instants(T - 8 * 7 * DAY, T + 7 * DAY)
    assert instants[-1] == T
    assert [b - a for a, b in itertools.pairwise(instants)] == [7 * DAY] * (len(instants) - 1)
    outbox = OutboxMessage.objects.count()
    with django_assert_max_num_queries(12 + 2 * len(instants)):
        written = history.backfill(org, instants)
    assert written > 0
    org_history = ScoreSnapshot.objects.filter(organization=org, subject_type="org")
    assert set(org_history.values_list("computed_at", flat=True)) <= set(instants)
    assert org_history.filter(computed_at=T).get().score == engine.scoring.total(
        history.score_as_of(org, T)[("org", str(org.pk))]
    )
    rows = _snapshot_keys(org)

    assert history.backfill(org, instants) == 0
    assert _snapshot_keys(org) == rows
    assert not CourseCorrection.objects.filter(organization=org).exists()
    assert not Notification.objects.filter(organization=org).exists()
    assert OutboxMessage.objects.count() == outbox
    assert not GoalScore.objects.filter(organization=org).exists(), "stored goal scores are the live ones only"


def _snapshot_keys(org):
    return set(ScoreSnapshot.objects.filter(organization=org).values_list("subject_type", "subject_id", "computed_at"))


def test_backfill_history_gives_the_dashboard_a_trend(org, world, client_for, member_of):
    history.backfill(org, history.weekly_instants(T - 30 * DAY, NOW))
    engine.rescore_org(org=org)
    body = client_for(member_of(org)).get(f"/api/v1/orgs/{org.slug}/dashboard/").json()
    assert body["org"]["trend"] is not None
    assert all(team["trend"] is not None for team in body["teams"] if team["score"] is not None)
