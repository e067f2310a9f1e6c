"""Feedback over HTTP: on each kind of target (goal, team, strategy, direction), kinds,
targets inside the org and of the right type, who may leave it, and the filters."""

import uuid

import pytest

from alignment_service.access import Scope
from feedback.models import Feedback
from tests.factories import GoalFactory, PillarFactory, TeamFactory
from tests.feedback.api.support import api, assert_invalid, assert_status, ids, target_of

# --- Feedback ---------------------------------------------------------------------------------

FEEDBACK_FIELDS = {
    "id", "target_type", "target_id", "kind", "body", "anonymous", "status", "author", "created_at",
}  # fmt: skip


@pytest.mark.parametrize("target_type", ["goal", "team", "strategy", "direction"])
def test_feedback_on_each_kind_of_target(org, member, goal, tree, pillar, client_for, target_type):
    target_id = target_of(target_type, goal, tree, pillar)
    payload = {"target_type": target_type, "kind": "idea", "body": "What if…"}
    if target_id:
        payload["target_id"] = target_id

    response = client_for(member).post(api(org, "feedback/"), payload)

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= FEEDBACK_FIELDS
    assert (body["target_type"], body["target_id"]) == (target_type, target_id)
    assert (body["kind"], body["body"], body["status"]) == ("idea", "What if…", "open")
    assert (body["anonymous"], body["author"]) == (False, member.pk)
    assert Feedback.objects.get(pk=body["id"]).organization_id == org.pk


def test_feedback_on_the_direction_ignores_a_target_id(org, member, goal, client_for):
    response = client_for(member).post(
        api(org, "feedback/"), {"target_type": "direction", "target_id": str(goal.pk), "kind": "praise", "body": "Yes"}
    )

    assert response.status_code == 201, response.content
    assert response.json()["target_id"] == ""


@pytest.mark.parametrize("kind", ["praise", "concern", "idea", "challenge"])
def test_every_kind_is_accepted(org, member, goal, client_for, kind):
    response = client_for(member).post(
        api(org, "feedback/"), {"target_type": "goal", "target_id": str(goal.pk), "kind": kind, "body": "b"}
    )

    assert response.status_code == 201, response.content
    assert response.json()["kind"] == kind


@pytest.mark.parametrize(
    ("field", "value"), [("kind", "rant"), ("target_type", "metric"), ("body", ""), ("anonymous", "maybe")]
)
def test_bad_feedback_values_are_refused(org, member, goal, client_for, field, value):
    payload = {"target_type": "goal", "target_id": str(goal.pk), "kind": "idea", "body": "b", field: value}

    response = client_for(member).post(api(org, "feedback/"), payload)

    assert_invalid(response, field)
    assert not Feedback.objects.exists()


@pytest.mark.parametrize("target_type", ["goal", "team", "strategy"])
@pytest.mark.parametrize("where", ["other_org", "missing", "garbage", "absent", "blank"])
def test_a_target_outside_the_org_is_refused(org, other_org, member, client_for, count_rows, target_type, where):
    foreign = {
        "goal": lambda: GoalFactory(organization=other_org),
        "team": lambda: TeamFactory(organization=other_org),
        "strategy": lambda: PillarFactory(organization=other_org),
    }[target_type]
    payload = {"target_type": target_type, "kind": "concern", "body": "b"}
    if where == "other_org":
        payload["target_id"] = str(foreign().pk)
    elif where == "missing":
        payload["target_id"] = str(uuid.uuid4())
    elif where == "garbage":
        payload["target_id"] = "42"
    elif where == "blank":
        payload["target_id"] = ""
    client = client_for(member)
    before = count_rows()

    response = client.post(api(org, "feedback/"), payload)

    assert_invalid(response, "target_id")
    assert count_rows() == before


def test_a_target_of_the_wrong_type_is_refused(org, member, goal, client_for):
    """A goal's id named as a team."""
    response = client_for(member).post(
        api(org, "feedback/"), {"target_type": "team", "target_id": str(goal.pk), "kind": "idea", "body": "b"}
    )

    assert_invalid(response, "target_id")


def test_bad_feedback_names_every_field_and_writes_nothing(org, member, client_for, count_rows):
    client = client_for(member)
    before = count_rows()

    response = client.post(
        api(org, "feedback/"), {"target_type": "metric", "kind": "rant", "body": "", "anonymous": "perhaps"}
    )

    assert_invalid(response, "target_type", "kind", "body", "anonymous")
    assert count_rows() == before


def test_bad_feedback_names_a_missing_target_id_among_other_errors(org, member, client_for):
    response = client_for(member).post(api(org, "feedback/"), {"target_type": "goal", "kind": "rant", "body": "b"})

    assert_invalid(response, "target_id", "kind")


def test_a_viewer_cannot_leave_feedback(org, viewer, goal, client_for, count_rows):
    client = client_for(viewer)
    before = count_rows()

    response = client.post(
        api(org, "feedback/"), {"target_type": "goal", "target_id": str(goal.pk), "kind": "idea", "body": "b"}
    )

    assert_status(response, 403)
    assert count_rows() == before


@pytest.mark.parametrize("name", ["target_type", "kind", "status"])
def test_feedback_filters(org, viewer, goal, tree, client_for, name):
    on_goal = Feedback.objects.create(
        organization=org, target_type="goal", target_id=str(goal.pk), kind="praise", body="a"
    )
    on_team = Feedback.objects.create(
        organization=org, target_type="team", target_id=str(tree["team"].pk), kind="concern", body="b",
        status="acknowledged",
    )  # fmt: skip
    value, expected = {
        "target_type": ("team", on_team),
        "kind": ("praise", on_goal),
        "status": ("acknowledged", on_team),
    }[name]

    response = client_for(viewer).get(api(org, "feedback/"), {name: value})

    assert ids(response) == [str(expected.pk)]


def test_feedback_filter_by_target_id(org, viewer, goal, client_for):
    mine = Feedback.objects.create(organization=org, target_type="goal", target_id=str(goal.pk), kind="idea", body="a")
    Feedback.objects.create(organization=org, target_type="goal", target_id=str(uuid.uuid4()), kind="idea", body="b")

    response = client_for(viewer).get(api(org, "feedback/"), {"target_id": str(goal.pk)})

    assert ids(response) == [str(mine.pk)]


def test_an_api_key_cannot_write_feedback(org, goal, key_client_for, feedback_on, count_rows):
    feedback = feedback_on("goal")
    client = key_client_for(org, (Scope.READ, Scope.READINGS_WRITE))
    before = count_rows()

    created = client.post(api(org, "feedback/"), {"target_type": "direction", "kind": "idea", "body": "b"})
    patched = client.patch(api(org, f"feedback/{feedback.pk}/"), {"status": "resolved"})
    replied = client.post(api(org, f"feedback/{feedback.pk}/replies/"), {"body": "b"})

    assert [r.status_code for r in (created, patched, replied)] == [403, 403, 403]
    assert count_rows() == before
    assert client.get(api(org, "feedback/")).status_code == 200
