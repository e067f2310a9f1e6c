"""Course corrections: `/orgs/{org}/course-corrections/`, the list and manual opening.

Shape, filters and query count of the list; who may open a manual correction (the subject
team's lead, a member of a steering group above it, an admin), and the error bodies of refused
and conflicting opens."""

import datetime

import pytest

from alignment_service.access import Scope
from feedback.models import Assessment, CourseCorrection
from tests.factories import GoalFactory, TeamFactory
from tests.feedback.corrections.support import (
    CORRECTIONS_QUERIES,
    DAY,
    FIELDS,
    NOT_STEERERS,
    STEERERS,
    T,
    api,
    assert_invalid,
    assert_status,
    correction,
    ids,
    open_manual,
)

# --- Shape and filters ---------------------------------------------------------------------------


def test_list_and_retrieve_shape(org, goal, tree, people, viewer, client_for):
    client = client_for(people["lead"])
    created = open_manual(client, org, "goal", goal, severity="critical", review_by="2026-12-20")
    assert_status(created, 201)

    response = client_for(viewer).get(api(org, "course-corrections/"))

    assert_status(response, 200)
    [item] = response.json()["results"]
    assert set(item) >= FIELDS
    assert item == created.json()
    assert {
        key: item[key]
        for key in ("subject_type", "subject_id", "trigger", "severity", "detail", "status", "assignee", "review_by")
    } == {
        "subject_type": "goal", "subject_id": str(goal.pk), "trigger": "manual", "severity": "critical",
        "detail": "Refocus on activation", "status": "open", "assignee": people["lead"].pk, "review_by": "2026-12-20",
    }  # fmt: skip
    assert (item["extension_reason"], item["resolved_at"], item["resolution"]) == ("", None, "")
    assert datetime.datetime.fromisoformat(item["created_at"]).utcoffset() is not None
    retrieved = client_for(viewer).get(api(org, f"course-corrections/{item['id']}/"))
    assert_status(retrieved, 200)
    assert retrieved.json() == {**item, "symptoms": []}  # the detail adds what it explains
    assert item["caused_by"] is None


def test_severity_defaults_to_warning(org, goal, people, client_for):
    response = open_manual(client_for(people["lead"]), org, "team", goal.team)

    assert_status(response, 201)
    assert (response.json()["severity"], response.json()["review_by"], response.json()["subject_type"]) == (
        "warning", None, "team",
    )  # fmt: skip


def test_another_orgs_corrections_are_invisible(org, other_org, goal, viewer, outsider, client_for):
    mine = correction(org, "goal", goal)
    theirs = correction(other_org, "team", TeamFactory(organization=other_org))
    client = client_for(viewer)

    assert ids(client.get(api(org, "course-corrections/"))) == [str(mine.pk)]
    assert_status(client.get(api(org, f"course-corrections/{theirs.pk}/")), 404)
    assert_status(client.get(api(org, "course-corrections/not-a-uuid/")), 404)
    assert_status(client_for(outsider).get(api(org, "course-corrections/")), 404)
    assert_status(client_for(outsider).get(api(org, f"course-corrections/{mine.pk}/")), 404)


def test_filters(org, tree, goal, viewer, client_for):
    second = GoalFactory(organization=org, team=tree["other"])
    rows = {
        "a": correction(org, "goal", goal, trigger="off_track"),
        "b": correction(org, "goal", goal, trigger="stale_data", severity="info", status="resolved"),
        "c": correction(org, "team", tree["team"], trigger="intervention", status="acknowledged"),
        "d": correction(org, "team", tree["other"], trigger="critical_quadrant", severity="critical"),
        "e": correction(org, "goal", second, trigger="manual", severity="critical", status="expired"),
    }
    for n, row in enumerate(rows.values()):
        CourseCorrection.objects.filter(pk=row.pk).update(created_at=T + n * DAY)
    client = client_for(viewer)

    def names(**params):
        found = ids(client.get(api(org, "course-corrections/"), params))
        by_id = {str(row.pk): name for name, row in rows.items()}
        return "".join(by_id[pk] for pk in found)

    assert names() == "edcba"
    assert names(status="open") == "da"
    assert names(status=["open", "acknowledged"]) == "dca"
    assert names(trigger="off_track") == "a"
    assert names(trigger=["intervention", "critical_quadrant"]) == "dc"
    assert names(severity="critical") == "ed"
    assert names(subject_type="goal", subject_id=str(goal.pk)) == "ba"
    assert names(subject_type="team") == "dc"
    assert names(team=str(tree["team"].pk)) == "cba"
    assert names(team=str(tree["other"].pk), status="open") == "d"
    assert_invalid(client.get(api(org, "course-corrections/"), {"status": "closed"}), "status")
    assert_invalid(client.get(api(org, "course-corrections/"), {"trigger": "whim"}), "trigger")
    assert_invalid(client.get(api(org, "course-corrections/"), {"team": "nope"}), "team")


# --- Who may steer -------------------------------------------------------------------------------


@pytest.mark.parametrize("subject_type", ["goal", "team"])
@pytest.mark.parametrize("who", STEERERS)
def test_leaders_open_a_manual_correction(org, goal, user, client_for, who, subject_type):
    subject = goal if subject_type == "goal" else goal.team

    response = open_manual(client_for(user(who)), org, subject_type, subject)

    assert_status(response, 201)
    row = CourseCorrection.objects.get(pk=response.json()["id"])
    assert (row.trigger, row.subject_type, row.subject_id, row.team_id) == (
        "manual", subject_type, str(subject.pk), goal.team_id,
    )  # fmt: skip
    assert row.opened_by == user(who)


def test_a_steering_group_above_a_grandchild_may_steer_it(org, tree, people, client_for):
    response = open_manual(client_for(people["steerer"]), org, "team", tree["child"])

    assert_status(response, 201)


@pytest.mark.parametrize("subject_type", ["goal", "team"])
@pytest.mark.parametrize("who", [*NOT_STEERERS, "viewer"])
def test_others_may_not_open_one(org, goal, user, client_for, count_rows, who, subject_type):
    subject = goal if subject_type == "goal" else goal.team
    client = client_for(user(who))
    before = count_rows()

    response = open_manual(client, org, subject_type, subject)

    assert_status(response, 403)
    assert response.json()["type"] == "client_error"
    assert count_rows() == before


def test_an_api_key_may_not_open_one(org, goal, key_client_for, count_rows):
    client = key_client_for(org, (Scope.READ,))
    before = count_rows()

    assert_status(open_manual(client, org, "goal", goal), 403)
    assert count_rows() == before


def test_a_subject_of_another_org_is_a_400(org, other_org, goal, admin, client_for, count_rows):
    foreign_team = TeamFactory(organization=other_org)
    foreign_goal = GoalFactory(organization=other_org, team=foreign_team)
    client = client_for(admin)
    before = count_rows()

    assert_invalid(open_manual(client, org, "goal", foreign_goal), "subject_id")
    assert_invalid(open_manual(client, org, "team", foreign_team), "subject_id")
    assert_invalid(open_manual(client, org, "goal", goal.team), "subject_id")
    assert count_rows() == before


def test_bad_input_lists_every_problem(org, admin, client_for, count_rows):
    client = client_for(admin)
    before = count_rows()

    response = client.post(
        api(org, "course-corrections/"),
        {"subject_type": "strategy", "subject_id": "x", "severity": "loud", "review_by": "soon"},
        format="json",
    )

    assert_invalid(response, "subject_type", "subject_id", "detail", "severity", "review_by")
    assert count_rows() == before


def test_a_second_manual_correction_on_a_subject_is_a_409(org, goal, people, client_for):
    client = client_for(people["lead"])
    first = open_manual(client, org, "goal", goal)
    assert_status(first, 201)

    assert_status(open_manual(client, org, "goal", goal), 409, "correction_exists")
    assert CourseCorrection.objects.filter(organization=org, trigger="manual").count() == 1

    assert_status(open_manual(client, org, "team", goal.team), 201)


@pytest.mark.parametrize("closed", ["resolved", "expired"])
def test_a_new_manual_correction_once_the_last_is_closed(org, goal, people, client_for, closed):
    client = client_for(people["lead"])
    first = open_manual(client, org, "goal", goal)
    CourseCorrection.objects.filter(pk=first.json()["id"]).update(status=closed)

    assert_status(open_manual(client, org, "goal", goal), 201)
    assert CourseCorrection.objects.filter(organization=org, trigger="manual", status="open").count() == 1


def test_a_manual_correction_carries_the_teams_recommended_mode(org, goal, people, client_for):
    Assessment.objects.create(
        organization=org, team=goal.team, assessor=people["lead"], alignment=2, confidence=2, quadrant="critical",
        recommended_mode="critical",
    )  # fmt: skip

    response = open_manual(client_for(people["lead"]), org, "goal", goal)

    assert_status(response, 201)
    assert response.json()["recommended_mode"] == "critical"


# --- Query count -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [3, 25])
def test_list_query_count(org, tree, viewer, client_for, django_assert_num_queries, size):
    for n in range(size):
        subject = GoalFactory(organization=org, team=tree["team"] if n % 2 else tree["other"])
        correction(org, "goal", subject, trigger="off_track", severity=["info", "warning", "critical"][n % 3])
    client = client_for(viewer)

    with django_assert_num_queries(CORRECTIONS_QUERIES):
        response = client.get(api(org, "course-corrections/"))

    assert len(response.json()["results"]) == size
