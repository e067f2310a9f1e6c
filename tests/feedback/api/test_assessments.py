"""Assessments over HTTP: who may assess a team (its lead and the lead above, admins), the
assessor, validation, and each team's history and latest."""

import datetime
import uuid

import pytest

from alignment_service.access import Role, Scope
from feedback.models import Assessment
from tests.factories import TeamFactory
from tests.feedback.api.support import T0, api, assert_invalid, assert_status, at, ids

# --- Assessments ------------------------------------------------------------------------------

ASSESSMENT_FIELDS = {
    "id", "team", "assessor", "alignment", "confidence", "note", "quadrant", "recommended_mode", "created_at",
}  # fmt: skip

# who, expected status when assessing `team` (whose parent is `parent`, with a sibling and a child)
WHO_MAY_ASSESS = [
    ("lead", 201),
    ("parent_lead", 201),
    ("admin", 201),
    ("owner", 201),
    ("member", 403),
    ("sibling_lead", 403),
    ("child_lead", 403),
    ("goal_owner", 403),
    ("viewer", 403),
    ("api_key", 403),
]


def principal_client(who, org, people, client_for, key_client_for, member_of):
    if who == "api_key":
        return key_client_for(org, (Scope.READ, Scope.READINGS_WRITE))
    if who in people:
        return client_for(people[who])
    return client_for(member_of(org, Role(who)))


@pytest.mark.parametrize(("who", "expected"), WHO_MAY_ASSESS)
def test_who_may_assess_a_team(org, tree, people, client_for, key_client_for, member_of, count_rows, who, expected):
    client = principal_client(who, org, people, client_for, key_client_for, member_of)
    before = count_rows()

    response = client.post(
        api(org, "assessments/"), {"team": str(tree["team"].pk), "alignment": 4, "confidence": 2, "note": "Tighten"}
    )

    assert_status(response, expected)
    if expected == 201:
        body = response.json()
        assert set(body) == ASSESSMENT_FIELDS
        assert body["team"] == str(tree["team"].pk)
        assert (body["alignment"], body["confidence"], body["note"]) == (4, 2, "Tighten")
        assert (body["quadrant"], body["recommended_mode"]) == ("needs_guidance", "selective_micromanagement")
        assessment = Assessment.objects.get(pk=body["id"])
        assert body["assessor"] == assessment.assessor_id
        assert assessment.assessor is not None
    else:
        assert count_rows() == before


def test_the_assessor_is_the_requester(org, tree, people, client_for):
    response = client_for(people["parent_lead"]).post(
        api(org, "assessments/"), {"team": str(tree["team"].pk), "alignment": 5, "confidence": 5}
    )

    assert response.json()["assessor"] == people["parent_lead"].pk


def test_a_grandparent_lead_may_not_assess(org, tree, people, client_for):
    """Only the direct parent team's lead: the child's grandparent lead is refused."""
    response = client_for(people["parent_lead"]).post(
        api(org, "assessments/"), {"team": str(tree["child"].pk), "alignment": 5, "confidence": 5}
    )

    assert_status(response, 403)


def test_a_team_of_another_org_is_refused(org, other_org, owner, client_for):
    response = client_for(owner).post(
        api(org, "assessments/"),
        {"team": str(TeamFactory(organization=other_org).pk), "alignment": 3, "confidence": 3},
    )

    assert_invalid(response, "team")
    assert not Assessment.objects.exists()


def test_bad_assessment_names_every_field_and_writes_nothing(org, owner, client_for, count_rows):
    client = client_for(owner)
    before = count_rows()

    response = client.post(
        api(org, "assessments/"), {"team": str(uuid.uuid4()), "alignment": 0, "confidence": "x", "note": "n" * 10_001}
    )

    assert_invalid(response, "team", "alignment", "confidence", "note")
    assert count_rows() == before


@pytest.fixture
def history(org, tree, owner):
    """Three assessments of `team` and two of `sibling`, an hour apart, interleaved."""
    made = {"team": [], "sibling": []}
    for n, (name, alignment) in enumerate([("team", 1), ("sibling", 2), ("team", 3), ("team", 5), ("sibling", 4)]):
        assessment = Assessment.objects.create(
            organization=org, team=tree[name], assessor=owner, alignment=alignment, confidence=3,
            quadrant="critical", recommended_mode="critical",
        )  # fmt: skip
        at(Assessment, assessment, T0 + datetime.timedelta(hours=n))
        made[name].append(str(assessment.pk))
    return made


def test_a_teams_history_is_newest_first(org, viewer, tree, client_for, history):
    response = client_for(viewer).get(api(org, "assessments/"), {"team": str(tree["team"].pk)})

    assert response.status_code == 200
    assert ids(response) == history["team"][::-1]


def test_latest_returns_only_each_teams_latest(org, viewer, client_for, history):
    response = client_for(viewer).get(api(org, "assessments/"), {"latest": "true"})

    assert response.status_code == 200
    assert ids(response) == [history["sibling"][-1], history["team"][-1]]


def test_latest_false_returns_everything(org, viewer, client_for, history):
    response = client_for(viewer).get(api(org, "assessments/"), {"latest": "false"})

    assert len(ids(response)) == 5


@pytest.mark.parametrize(("name", "expected"), [("quadrant", [("sibling", 1)]), ("assessor", "all")])
def test_assessment_filters(org, viewer, owner, tree, client_for, history, name, expected):
    Assessment.objects.filter(pk=history["sibling"][1]).update(quadrant="full_support")
    value = {"quadrant": "full_support", "assessor": owner.pk}[name]

    response = client_for(viewer).get(api(org, "assessments/"), {name: value})

    if expected == "all":
        assert len(ids(response)) == 5
        assert ids(client_for(viewer).get(api(org, "assessments/"), {name: viewer.pk})) == []
    else:
        assert ids(response) == [history[team][n] for team, n in expected]


def test_a_new_assessment_becomes_the_latest(org, tree, people, client_for, history):
    created = client_for(people["lead"]).post(
        api(org, "assessments/"), {"team": str(tree["team"].pk), "alignment": 2, "confidence": 5}
    )

    response = client_for(people["lead"]).get(
        api(org, "assessments/"), {"latest": "true", "team": str(tree["team"].pk)}
    )

    assert ids(response) == [created.json()["id"]]
