"""Alignment scores: `/orgs/{org}/scores/` and the engine's snapshots.

Every snapshot explains itself (its components add up to its score, which stays within 0..100);
the list is cursor paginated newest first and filtered by subject and time, in a fixed number of
queries; the engine writes snapshots only for what changed, and identical inputs score alike."""

import datetime
from urllib.parse import urlsplit

import pytest

from feedback import engine
from feedback.models import Assessment, CheckIn, ScoreSnapshot
from goals.models import Goal, GoalStrategy
from tests.factories import GoalFactory, OrganizationFactory, PillarFactory, TeamFactory
from tests.feedback.scores.support import (
    COMPONENTS,
    DAY,
    DEFAULT_WEIGHTS,
    SNAPSHOT_FIELDS,
    T,
    api,
    assert_invalid,
    assert_status,
    build,
    goal_with,
    latest,
    record,
    snapshot,
    walk,
)

# --- Shape and the arithmetic of every snapshot ------------------------------------------------


def test_every_snapshot_explains_itself(org, viewer, client_for):
    team = build(org)
    engine.rescore_org(org=org, now=T)

    items, _ = walk(client_for(viewer), api(org, "scores/"))

    goals = {str(g.pk) for g in Goal.objects.filter(organization=org)}
    assert {(i["subject_type"], i["subject_id"]) for i in items} == (
        {("goal", g) for g in goals} | {("team", str(team.pk)), ("org", str(org.pk))}
    )
    for item in items:
        assert set(item) == SNAPSHOT_FIELDS
        assert set(item["components"]) == COMPONENTS
        assert all(isinstance(value, int | float) for value in item["components"].values())
        assert sum(item["components"].values()) == pytest.approx(item["score"], abs=0.005)
        assert 0 <= item["score"] <= 100
        assert datetime.datetime.fromisoformat(item["computed_at"]) == T
    scores = {i["subject_id"]: i["score"] for i in items if i["subject_type"] == "goal"}
    titles = {str(g.pk): g.title for g in Goal.objects.filter(organization=org)}
    by_title = {titles[pk]: score for pk, score in scores.items()}
    assert by_title["Behind"] < by_title["Ahead"]


def test_a_goal_perfect_on_every_component_scores_100(org):
    goal = perfect_goal(org)

    engine.rescore_org(org=org, now=T)

    snap = latest(org, "goal", goal.pk)
    assert snap.components == pytest.approx(DEFAULT_WEIGHTS)
    assert snap.score == 100


def perfect_goal(org):
    """A goal whose every component has quality 1: in the cascade with a pillar, ahead of pace,
    forecast past target, fresh data, a confident recent check-in, its team assessed 5/5."""
    team = TeamFactory(organization=org)
    parent = GoalFactory(organization=org, status="active", title="Company")
    goal, _metric = goal_with(org, (1, 80.0), (30, 70.0), (60, 60.0), team=team, parent=parent, title="Perfect")
    GoalStrategy.objects.create(organization=org, goal=goal, pillar=PillarFactory(organization=org))
    CheckIn.objects.create(organization=org, goal=goal, summary="fine", confidence=10, created_at=T - DAY)
    Assessment.objects.create(
        organization=org, team=team, alignment=5, confidence=5, quadrant="full_support", recommended_mode="scalable",
        created_at=T - DAY,
    )  # fmt: skip
    return goal


def test_scores_stay_within_100_whatever_the_weights(org):
    org.settings = {f"weight_{name}": 1 for name in COMPONENTS}
    org.save()
    goal = perfect_goal(org)

    engine.rescore_org(org=org, now=T)

    goal.refresh_from_db()
    assert goal.alignment_score is not None
    assert goal.alignment_score <= 100
    snap = latest(org, "goal", goal.pk)
    assert snap is not None
    assert 99.9 <= snap.score <= 100
    assert sum(snap.components.values()) == pytest.approx(snap.score, abs=0.005)


# --- Pagination and filters --------------------------------------------------------------------


def test_cursor_pagination_newest_first_without_count(org, viewer, client_for):
    made = [snapshot(org, "goal", f"g{n % 3}", 50 + n, T + n * DAY) for n in range(5)]
    same_instant = snapshot(org, "team", "t", 40, T + 4 * DAY)

    items, pages = walk(client_for(viewer), api(org, "scores/?limit=2"))

    expected = [same_instant, made[4], made[3], made[2], made[1], made[0]]
    assert [item["id"] for item in items] == [s.pk for s in expected]
    assert [len(page["results"]) for page in pages] == [2, 2, 2]
    for page in pages:
        assert "count" not in page
        assert set(page) == {"next", "previous", "results"}
    assert urlsplit(pages[0]["next"]).scheme == "http"
    assert urlsplit(pages[0]["next"]).netloc == "testserver"
    assert pages[0]["previous"] is None
    assert pages[1]["previous"] is not None


def test_filters(org, viewer, client_for):
    g1 = snapshot(org, "goal", "g1", 10, T)
    g1_later = snapshot(org, "goal", "g1", 20, T + DAY)
    g2 = snapshot(org, "goal", "g2", 30, T + 2 * DAY)
    team = snapshot(org, "team", "g1", 40, T + 3 * DAY)
    whole = snapshot(org, "org", org.pk, 50, T + 4 * DAY)
    client = client_for(viewer)

    def ids(**params):
        response = client.get(api(org, "scores/"), params)
        assert_status(response, 200)
        return [item["id"] for item in response.json()["results"]]

    assert ids() == [whole.pk, team.pk, g2.pk, g1_later.pk, g1.pk]
    assert ids(subject_type="goal") == [g2.pk, g1_later.pk, g1.pk]
    assert ids(subject_type="org") == [whole.pk]
    assert ids(subject_type="goal", subject_id="g1") == [g1_later.pk, g1.pk]
    assert ids(subject_id="g1") == [team.pk, g1_later.pk, g1.pk]
    assert ids(since=(T + DAY).isoformat()) == [whole.pk, team.pk, g2.pk, g1_later.pk]
    assert ids(since=(T + DAY).isoformat(), subject_type="goal") == [g2.pk, g1_later.pk]
    assert_invalid(client.get(api(org, "scores/"), {"subject_type": "planet"}), "subject_type")
    assert_invalid(client.get(api(org, "scores/"), {"since": "2026-10-01T12:00:00"}), "since")


def test_another_orgs_snapshots_never_show(org, other_org, viewer, outsider, client_for):
    mine = snapshot(org, "goal", "g", 10, T)
    snapshot(other_org, "goal", "g", 20, T + DAY)

    response = client_for(viewer).get(api(org, "scores/"))

    assert [item["id"] for item in response.json()["results"]] == [mine.pk]
    assert_status(client_for(outsider).get(api(org, "scores/")), 404)


SCORES_QUERIES = 2


@pytest.mark.parametrize("size", [3, 30])
def test_list_query_count(org, viewer, client_for, django_assert_num_queries, size):
    ScoreSnapshot.objects.bulk_create(
        ScoreSnapshot(organization=org, subject_type="goal", subject_id=f"g{n}", score=n, components={"pace": n},
                      computed_at=T + n * DAY)
        for n in range(size)
    )  # fmt: skip
    client = client_for(viewer)

    with django_assert_num_queries(SCORES_QUERIES):
        response = client.get(api(org, "scores/"))

    assert len(response.json()["results"]) == size


# --- The engine's snapshots -----------------------------------------------------------------------


def test_unchanged_inputs_create_no_new_snapshots(org):
    team = TeamFactory(organization=org)
    goal_with(org, (1, 80.0), (40, 70.0), team=team)
    goal_with(org, team=team)
    first = engine.rescore_org(org=org, now=T)
    rows = list(ScoreSnapshot.objects.filter(organization=org).values_list("id", flat=True))
    assert first.snapshots == len(rows) == 2 + 1 + 1

    second = engine.rescore_org(org=org, now=T + datetime.timedelta(hours=1))

    assert second.snapshots == 0
    assert list(ScoreSnapshot.objects.filter(organization=org).values_list("id", flat=True)) == rows


def test_a_change_writes_snapshots_only_for_what_changed(org):
    team = TeamFactory(organization=org)
    other_team = TeamFactory(organization=org)
    changing, _ = goal_with(org, (1, 80.0), team=team)
    steady, _ = goal_with(org, (1, 80.0), team=other_team)
    engine.rescore_org(org=org, now=T)

    CheckIn.objects.create(organization=org, goal=changing, summary="worried", confidence=1, created_at=T)
    engine.rescore_org(org=org, now=T + datetime.timedelta(hours=1))

    def count(subject_type, subject_id):
        return ScoreSnapshot.objects.filter(organization=org, subject_type=subject_type, subject_id=str(subject_id))

    assert count("goal", changing.pk).count() == 2
    assert count("team", team.pk).count() == 2
    assert count("org", org.pk).count() == 2
    assert count("goal", steady.pk).count() == 1
    assert count("team", other_team.pk).count() == 1
    newest = latest(org, "goal", changing.pk)
    assert newest.components["confidence"] == pytest.approx(1.5)
    assert newest.computed_at == T + datetime.timedelta(hours=1)


def test_identical_inputs_score_identically(db):
    first, second = OrganizationFactory(), OrganizationFactory()
    build(first)
    build(second)

    engine.rescore_org(org=first, now=T)
    engine.rescore_org(org=second, now=T)

    def scores(org):
        names = {str(g.pk): g.title for g in Goal.objects.filter(organization=org)}
        names |= {str(t.pk): t.name for t in org.teams.all()} | {str(org.pk): "org"}
        return {
            (s.subject_type, names[s.subject_id]): (s.score, s.components)
            for s in ScoreSnapshot.objects.filter(organization=org)
        }

    assert scores(first) == scores(second)
    assert len(scores(first)) == 6


def test_a_goals_alignment_score_is_its_latest_snapshots(org, viewer, client_for):
    team = TeamFactory(organization=org)
    goal, metric = goal_with(org, (40, 10.0), team=team)
    engine.rescore_org(org=org, now=T - 30 * DAY)
    record(org, metric, (1, 90.0))
    engine.rescore_org(org=org, now=T)
    assert ScoreSnapshot.objects.filter(organization=org, subject_type="goal", subject_id=str(goal.pk)).count() == 2

    goal.refresh_from_db()
    newest = latest(org, "goal", goal.pk)
    assert goal.alignment_score == newest.score
    body = client_for(viewer).get(api(org, f"goals/{goal.pk}/")).json()
    assert body["alignment_score"] == newest.score
