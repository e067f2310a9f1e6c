"""Check-ins over HTTP: who may check in, confidence bounds, every bad field named with nothing
written, and the list newest first with its filters."""

import datetime
import uuid

import pytest

from alignment_service.access import Scope
from feedback.models import CheckIn
from tests.factories import GoalFactory
from tests.feedback.api.support import T0, api, assert_invalid, assert_status, at, ids

# --- Check-ins --------------------------------------------------------------------------------

CHECKIN_FIELDS = {"id", "goal", "author", "summary", "confidence", "blockers", "created_at"}


def test_a_member_checks_in_on_any_goal(org, member, goal, client_for):
    response = client_for(member).post(
        api(org, "check-ins/"),
        {"goal": str(goal.pk), "summary": "Shipped the beta", "confidence": 7, "blockers": "QA capacity"},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == CHECKIN_FIELDS
    assert body["goal"] == str(goal.pk)
    assert body["author"] == member.pk
    assert (body["summary"], body["confidence"], body["blockers"]) == ("Shipped the beta", 7, "QA capacity")
    assert datetime.datetime.fromisoformat(body["created_at"]).tzinfo is not None
    check_in = CheckIn.objects.get(pk=body["id"])
    assert (check_in.organization_id, check_in.author_id) == (org.pk, member.pk)


def test_blockers_are_optional(org, member, goal, client_for):
    response = client_for(member).post(api(org, "check-ins/"), {"goal": str(goal.pk), "summary": "Ok", "confidence": 5})

    assert response.status_code == 201, response.content
    assert response.json()["blockers"] == ""


def test_a_viewer_cannot_check_in(org, viewer, goal, client_for, count_rows):
    client = client_for(viewer)
    before = count_rows()

    response = client.post(api(org, "check-ins/"), {"goal": str(goal.pk), "summary": "x", "confidence": 5})

    assert_status(response, 403)
    assert count_rows() == before


def test_an_api_key_cannot_check_in(org, goal, key_client_for):
    client = key_client_for(org, (Scope.READ, Scope.READINGS_WRITE))

    response = client.post(api(org, "check-ins/"), {"goal": str(goal.pk), "summary": "x", "confidence": 5})

    assert_status(response, 403)
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize("confidence", [0, 10])
def test_confidence_bounds_are_accepted(org, member, goal, client_for, confidence):
    response = client_for(member).post(
        api(org, "check-ins/"), {"goal": str(goal.pk), "summary": "x", "confidence": confidence}
    )

    assert response.status_code == 201, response.content
    assert response.json()["confidence"] == confidence


@pytest.mark.parametrize("confidence", [-1, 11, "high", None, 5.5])
def test_confidence_outside_0_to_10_is_refused(org, member, goal, client_for, confidence):
    response = client_for(member).post(
        api(org, "check-ins/"), {"goal": str(goal.pk), "summary": "x", "confidence": confidence}, format="json"
    )

    assert_invalid(response, "confidence")
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize("goal_id", ["other_org", "missing", "garbage"])
def test_a_goal_outside_the_org_is_refused(org, other_org, member, client_for, goal_id):
    value = {
        "other_org": lambda: str(GoalFactory(organization=other_org).pk),
        "missing": lambda: str(uuid.uuid4()),
        "garbage": lambda: "not-a-uuid",
    }[goal_id]()

    response = client_for(member).post(api(org, "check-ins/"), {"goal": value, "summary": "x", "confidence": 5})

    assert_invalid(response, "goal")
    assert not CheckIn.objects.exists()


def test_bad_check_in_names_every_field_and_writes_nothing(org, other_org, member, client_for, count_rows):
    foreign_goal = GoalFactory(organization=other_org)
    client = client_for(member)
    before = count_rows()

    response = client.post(
        api(org, "check-ins/"),
        {"goal": str(foreign_goal.pk), "summary": "", "confidence": 11, "blockers": "x" * 10_001},
    )

    assert_invalid(response, "goal", "summary", "confidence", "blockers")
    assert count_rows() == before


def test_an_empty_check_in_names_every_required_field(org, member, client_for):
    response = client_for(member).post(api(org, "check-ins/"), {})

    assert_invalid(response, "goal", "summary", "confidence")


@pytest.fixture
def check_ins(org, tree, people, goal):
    """Four check-ins, a day apart, on two goals of two teams by two authors."""
    other_goal = GoalFactory(organization=org, team=tree["sibling"])
    made = []
    for n, (on, author) in enumerate(
        [
            (goal, people["lead"]),
            (other_goal, people["lead"]),
            (goal, people["goal_owner"]),
            (other_goal, people["sibling_lead"]),
        ]
    ):
        check_in = CheckIn.objects.create(organization=org, goal=on, author=author, summary=f"#{n}", confidence=5)
        at(CheckIn, check_in, T0 + datetime.timedelta(days=n))
        made.append(str(check_in.pk))
    return {"ids": made, "other_goal": other_goal}


def test_check_ins_list_newest_first(org, viewer, client_for, check_ins):
    response = client_for(viewer).get(api(org, "check-ins/"))

    assert response.status_code == 200
    assert ids(response) == check_ins["ids"][::-1]
    assert response.json()["count"] == 4


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("goal", [2, 0]),
        ("team", [3, 1]),
        ("author", [1, 0]),
        ("since", [3, 2]),
    ],
)
def test_check_in_filters(org, viewer, client_for, check_ins, goal, tree, people, name, expected):
    value = {
        "goal": str(goal.pk),
        "team": str(tree["sibling"].pk),
        "author": people["lead"].pk,
        "since": (T0 + datetime.timedelta(days=2)).isoformat(),
    }[name]

    response = client_for(viewer).get(api(org, "check-ins/"), {name: value})

    assert response.status_code == 200, response.content
    assert ids(response) == [check_ins["ids"][n] for n in expected]


def test_a_naive_since_is_refused(org, viewer, client_for):
    response = client_for(viewer).get(api(org, "check-ins/"), {"since": "2026-03-01T09:00:00"})

    assert_invalid(response, "since")


def test_check_ins_of_another_org_never_show(org, other_org, viewer, client_for, check_ins):
    foreign = CheckIn.objects.create(
        organization=other_org, goal=GoalFactory(organization=other_org), summary="theirs", confidence=1
    )

    listed = client_for(viewer).get(api(org, "check-ins/"))
    detail = client_for(viewer).get(api(org, f"check-ins/{foreign.pk}/"))

    assert str(foreign.pk) not in ids(listed)
    assert_status(detail, 404)
