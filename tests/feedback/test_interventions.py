"""Interventions that teach and end: an intervention carries exit criteria and the frameworks
its leader teaches; pulling back records what was taught and whether the criteria were met;
other corrections carry none of it."""

import datetime

import pytest
from django.utils import timezone

from alignment_service.access import Role
from alignment_service.activity.models import Activity
from feedback.models import CourseCorrection, Trigger
from tests.api_helpers import api
from tests.factories import TeamFactory

DAY = datetime.timedelta(days=1)


@pytest.fixture
def lead(org, member_of):
    return member_of(org, Role.MEMBER)


@pytest.fixture
def team(org, lead):
    return TeamFactory(organization=org, lead=lead)


def correction(org, team, trigger):
    return CourseCorrection.objects.create(
        organization=org, subject_type="team", subject_id=str(team.pk), team=team, trigger=trigger,
        severity="warning", detail="Needs guidance", review_by=timezone.now().date() + 21 * DAY,
    )  # fmt: skip


@pytest.fixture
def intervention(org, team):
    return correction(org, team, Trigger.INTERVENTION)


def errors(response):
    assert response.status_code == 400, response.content
    return {error["attr"] for error in response.json()["errors"]}


def test_an_intervention_carries_exit_criteria_and_teaching_notes(org, intervention, lead, client_for):
    plan = {"exit_criteria": "Two weeks of green releases", "teaching_notes": "Trunk-based development"}
    response = client_for(lead).patch(api(org, f"course-corrections/{intervention.pk}/"), plan, format="json")

    assert response.status_code == 200, response.content
    assert {key: response.json()[key] for key in plan} == plan
    activity = Activity.objects.get(organization=org, verb="course_correction.planned")
    assert activity.data["exit_criteria"] == plan["exit_criteria"]


def test_pulling_back_records_what_was_taught_and_whether_the_criteria_were_met(org, intervention, lead, client_for):
    body = {"resolution": "Pulling back", "taught": "Release trains", "criteria_met": True}
    response = client_for(lead).post(api(org, f"course-corrections/{intervention.pk}/resolve/"), body, format="json")

    assert response.status_code == 200, response.content
    assert (response.json()["taught"], response.json()["criteria_met"]) == ("Release trains", True)
    activity = Activity.objects.get(organization=org, verb="course_correction.resolved")
    assert (activity.data["taught"], activity.data["criteria_met"]) == ("Release trains", True)


@pytest.mark.parametrize("trigger", [Trigger.INTERVENTION, Trigger.CRITICAL_QUADRANT])
def test_pulling_back_without_the_lesson_names_both_fields_and_changes_nothing(
    org, team, lead, client_for, count_rows, trigger
):
    held = correction(org, team, trigger)
    client = client_for(lead)
    before = count_rows()
    response = client.post(api(org, f"course-corrections/{held.pk}/resolve/"), {"resolution": "done"}, format="json")

    assert errors(response) == {"taught", "criteria_met"}
    assert count_rows() == before
    held.refresh_from_db()
    assert held.status == "open"


def test_other_corrections_carry_no_plan_nor_lesson(org, team, lead, client_for, count_rows):
    manual = correction(org, team, Trigger.MANUAL)
    client = client_for(lead)
    before = count_rows()

    assert errors(
        client.patch(api(org, f"course-corrections/{manual.pk}/"), {"exit_criteria": "x"}, format="json")
    ) == {"exit_criteria"}
    resolve = {"resolution": "done", "criteria_met": False}
    assert errors(client.post(api(org, f"course-corrections/{manual.pk}/resolve/"), resolve, format="json")) == {
        "criteria_met"
    }
    assert count_rows() == before


def test_extending_an_intervention_still_needs_a_reason(org, intervention, lead, client_for):
    url = api(org, f"course-corrections/{intervention.pk}/")
    later = str(timezone.now().date() + 30 * DAY)

    assert errors(client_for(lead).patch(url, {"review_by": later}, format="json")) == {"extension_reason"}
    response = client_for(lead).patch(
        url, {"review_by": later, "extension_reason": "Hiring", "teaching_notes": "Pairing"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["extension_count"], response.json()["teaching_notes"]) == (1, "Pairing")


def test_an_empty_change_is_refused(org, intervention, lead, client_for):
    response = client_for(lead).patch(api(org, f"course-corrections/{intervention.pk}/"), {}, format="json")
    assert response.status_code == 400
