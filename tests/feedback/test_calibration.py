"""Calibration of check-in confidence: `/orgs/{org}/calibration/` and its selector.

Outcomes: achieved 1, missed 0; an active goal past due_on counts 1 if it reached its target
and 0 otherwise; goals still running, drafts and cancelled goals do not count.
"""

import datetime

import pytest
import time_machine

from alignment_service.access import Role, Scope
from feedback import selectors
from feedback.models import CheckIn
from tests.factories import GoalFactory, TeamFactory


def approx(value):
    return pytest.approx(value, abs=1e-4)  # figures are rounded to four decimals


NOW = datetime.datetime(2027, 3, 1, tzinfo=datetime.UTC)  # the factories' 2026 goals are past due


def api(org):
    return f"/api/v1/orgs/{org.slug}/calibration/"


def check_in(goal, author, confidence):
    return CheckIn.objects.create(
        organization=goal.organization, goal=goal, author=author, summary="-", confidence=confidence
    )


@pytest.fixture
def history(org, member_of):
    ada, bob = member_of(org, Role.MEMBER, username="ada"), member_of(org, Role.MEMBER, username="bob")
    red, blue = TeamFactory(organization=org, name="Red"), TeamFactory(organization=org, name="Blue")
    achieved = GoalFactory(organization=org, team=red, status="achieved")
    missed = GoalFactory(organization=org, team=red, status="missed")
    reached = GoalFactory(organization=org, team=blue, progress=1.0)  # active, past due, at target
    short = GoalFactory(organization=org, team=blue, progress=0.5)  # active, past due, short of it
    running = GoalFactory(organization=org, team=blue, due_on=datetime.date(2027, 12, 31))
    cancelled = GoalFactory(organization=org, team=red, status="cancelled")
    draft = GoalFactory(organization=org, team=red, status="draft")
    company = GoalFactory(organization=org, team=None, status="achieved")
    check_in(achieved, ada, 8)  # (0.8 - 1)² = 0.04
    check_in(missed, ada, 7)  # (0.7 - 0)² = 0.49
    check_in(reached, bob, 5)  # 0.25
    check_in(short, bob, 2)  # 0.04
    check_in(company, bob, 10)  # 0, no team
    for goal in (running, cancelled, draft):
        check_in(goal, ada, 1)
    return {"ada": ada, "bob": bob, "red": red, "blue": blue}


def test_brier_and_bias_per_author_and_per_team(org, history):
    result = selectors.calibration(org=org, now_ts=NOW.timestamp())

    authors = {row.name: row for row in result.authors}
    assert (authors["ada"].checkins, authors["ada"].goals) == (2, 2)
    assert authors["ada"].brier == approx((0.04 + 0.49) / 2)
    assert authors["ada"].bias == approx((0.8 - 1 + 0.7 - 0) / 2)  # over-confident
    assert authors["ada"].hit_rate == approx(0.5)
    assert authors["bob"].checkins == 3
    assert authors["bob"].brier == approx((0.25 + 0.04 + 0) / 3)
    assert authors["bob"].bias == approx((0.5 - 1 + 0.2 - 0 + 1.0 - 1) / 3)  # under-confident
    teams = {row.name: row for row in result.teams}
    assert set(teams) == {"Red", "Blue"}  # the company goal has no team
    assert teams["Red"].brier == approx(0.265)
    assert teams["Blue"].brier == approx(0.145)
    assert teams["Blue"].mean_confidence == approx(0.35)


def test_the_selector_narrows_to_teams_for_their_pages(org, history):
    result = selectors.calibration(org=org, team_ids=[history["blue"].pk], now_ts=NOW.timestamp())
    assert [row.name for row in result.teams] == ["Blue"]
    assert [row.name for row in result.authors] == ["bob"]


def test_goals_still_running_do_not_count(org, history):
    before_due = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC).timestamp()
    result = selectors.calibration(org=org, now_ts=before_due)
    assert {row.name: row.checkins for row in result.authors} == {"ada": 2, "bob": 1}  # achieved/missed only


@time_machine.travel(NOW, tick=False)
def test_viewers_and_read_keys_may_read_it(org, history, viewer, client_for, key_client_for):
    body = client_for(viewer).get(api(org)).json()
    assert {row["username"] for row in body["authors"]} == {"ada", "bob"}
    ada = next(row for row in body["authors"] if row["username"] == "ada")
    assert set(ada) == {"author", "username", "checkins", "goals", "mean_confidence", "hit_rate", "brier", "bias"}
    assert ada["author"] == history["ada"].pk
    assert {row["name"] for row in body["teams"]} == {"Red", "Blue"}
    assert key_client_for(org).get(api(org)).status_code == 200
    assert key_client_for(org, (Scope.READINGS_WRITE,)).get(api(org)).status_code == 403


def test_another_organization_sees_nothing(org, history, outsider, client_for):
    assert client_for(outsider).get(api(org)).status_code == 404


@pytest.mark.parametrize("size", [2, 20])
def test_query_count_does_not_grow(org, member_of, viewer, client_for, django_assert_num_queries, size):
    for n in range(size):
        author = member_of(org, Role.MEMBER, username=f"author{n}")
        goal = GoalFactory(organization=org, team=TeamFactory(organization=org), status="achieved")
        check_in(goal, author, n % 11)
    client = client_for(viewer)

    with django_assert_num_queries(CALIBRATION_QUERIES):
        response = client.get(api(org))

    assert len(response.json()["authors"]) == size


CALIBRATION_QUERIES = 3
