"""The goals API's goal writes: dates from the cycle, who may write a company's or a team's
goals, field and cross-field validation, links to strategies, `If-Match`, and deletes."""

import uuid

import pytest

from alignment_service.access import Role
from goals.models import Goal, GoalStrategy, Metric, Reading
from teams.models import Team
from tests.factories import CycleFactory, GoalFactory, MetricFactory, PillarFactory, TeamFactory
from tests.goals.support import GOAL_DATES, api, assert_refused, assert_validation_error, error_attrs

# --- Goals: writing ---------------------------------------------------------------------------


def test_admin_creates_a_company_goal_with_defaults_from_the_cycle(org, admin, cycle, client_for):
    response = client_for(admin).post(
        api(org, "goals/"), {"title": "Double active players", "cycle": str(cycle.pk)}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["team"] is None
    assert body["owner"] == admin.pk
    assert body["status"] == "draft"
    assert body["weight"] == 1.0
    assert body["starts_on"] == "2026-01-01"
    assert body["due_on"] == "2026-06-30"
    assert body["cycle"] == str(cycle.pk)
    assert body["parent"] is None
    assert body["strategies"] == []
    assert body["progress"] is None
    assert body["health"] == "no_data"
    assert body["alignment_score"] is None
    assert body["version"] == 1
    assert {"expected_progress", "created_at", "updated_at", "hypothesis", "description"} <= body.keys()


def test_explicit_dates_win_over_the_cycle(org, admin, cycle, client_for):
    response = client_for(admin).post(
        api(org, "goals/"), {"title": "x", "cycle": str(cycle.pk), "starts_on": "2026-02-01"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert (response.json()["starts_on"], response.json()["due_on"]) == ("2026-02-01", "2026-06-30")


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_company_goals_are_for_admins(role, org, member_of, client_for, count_rows):
    client = client_for(member_of(org, role))
    before = count_rows()
    response = client.post(api(org, "goals/"), {"title": "x", **GOAL_DATES}, format="json")
    assert_refused(response, 403)
    assert count_rows() == before


def test_a_teams_lead_writes_its_goals_but_not_another_teams(org, member, team, other_team, client_for, count_rows):
    client = client_for(member)
    response = client.post(api(org, "goals/"), {"title": "Ours", "team": str(team.pk), **GOAL_DATES}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["team"] == str(team.pk)
    assert response.json()["owner"] == member.pk

    before = count_rows()
    theirs = client.post(
        api(org, "goals/"), {"title": "Theirs", "team": str(other_team.pk), **GOAL_DATES}, format="json"
    )
    assert_refused(theirs, 403)
    moved = client.patch(api(org, f"goals/{response.json()['id']}/"), {"team": str(other_team.pk)}, format="json")
    assert_refused(moved, 403)
    assert count_rows() == before


def test_a_plain_member_cannot_write_a_teams_goal(org, team, member_of, client_for):
    someone = member_of(org, Role.MEMBER)
    goal = GoalFactory(organization=org, team=team)
    client = client_for(someone)
    assert_refused(client.post(api(org, "goals/"), {"title": "x", "team": str(team.pk), **GOAL_DATES}), 403)
    assert_refused(client.patch(api(org, f"goals/{goal.pk}/"), {"title": "Hijacked"}), 403)
    assert_refused(client.delete(api(org, f"goals/{goal.pk}/")), 403)
    assert Goal.objects.get(pk=goal.pk).title != "Hijacked"


def test_without_a_cycle_or_dates_the_start_is_required(org, admin, client_for, count_rows):
    client = client_for(admin)
    before = count_rows()
    response = client.post(api(org, "goals/"), {"title": "Undated"}, format="json")
    assert_validation_error(response, "starts_on")
    assert count_rows() == before


def test_due_on_must_not_be_before_starts_on(org, admin, client_for):
    response = client_for(admin).post(
        api(org, "goals/"), {"title": "x", "starts_on": "2026-05-01", "due_on": "2026-04-30"}, format="json"
    )
    assert_validation_error(response, "due_on")


def test_due_on_before_the_cycles_start_is_refused(org, admin, cycle, client_for):
    response = client_for(admin).post(
        api(org, "goals/"), {"title": "x", "cycle": str(cycle.pk), "due_on": "2025-12-31"}, format="json"
    )
    assert_validation_error(response, "due_on")


def test_goal_weight_must_be_in_range_and_finite(org, admin, client_for, count_rows):
    client = client_for(admin)
    before = count_rows()
    for weight in (0, -1, 1000.5, 1e9, "NaN", "nan", "Infinity", "-inf", "1e400", "heavy", None):
        response = client.post(api(org, "goals/"), {"title": "x", "weight": weight, **GOAL_DATES}, format="json")
        assert response.status_code == 400, (weight, response.content)
        assert error_attrs(response) == {"weight"}, (weight, response.json())
    assert count_rows() == before


@pytest.mark.parametrize("weight", [0.001, 1000])
def test_goal_weight_bounds_are_inclusive_at_the_top(weight, org, admin, client_for):
    response = client_for(admin).post(api(org, "goals/"), {"title": "x", "weight": weight, **GOAL_DATES})
    assert response.status_code == 201, response.content
    assert response.json()["weight"] == weight


def test_goal_references_from_another_org_are_refused(org, other_org, admin, client_for, count_rows):
    foreign = {
        "parent": str(GoalFactory(organization=other_org).pk),
        "strategies": [str(PillarFactory(organization=other_org).pk)],
        "cycle": str(CycleFactory(organization=other_org).pk),
        "team": str(TeamFactory(organization=other_org).pk),
    }
    client = client_for(admin)
    before = count_rows()
    response = client.post(api(org, "goals/"), {"title": "x", **foreign, **GOAL_DATES}, format="json")
    assert response.status_code == 400, response.content
    attrs = error_attrs(response)
    assert {"parent", "cycle", "team"} <= attrs
    assert any(attr.startswith("strategies") for attr in attrs), attrs
    assert count_rows() == before


def test_several_bad_fields_are_all_named(org, admin, client_for):
    response = client_for(admin).post(
        api(org, "goals/"),
        {
            "title": "",
            "weight": 0,
            "status": "abandoned",
            "parent": str(uuid.uuid4()),
            "starts_on": "not a date",
        },
        format="json",
    )
    assert_validation_error(response, "title", "weight", "status", "parent", "starts_on")


def test_cross_field_problems_are_named_with_field_problems(org, admin, client_for):
    response = client_for(admin).post(
        api(org, "goals/"),
        {"title": "x", "weight": 0, "starts_on": "2026-05-01", "due_on": "2026-04-30"},
        format="json",
    )
    assert_validation_error(response, "weight", "due_on")


def test_a_goal_cannot_be_its_own_parent_or_close_a_cycle(org, admin, client_for):
    a = GoalFactory(organization=org)
    b = GoalFactory(organization=org, parent=a)
    client = client_for(admin)

    two_cycle = client.patch(api(org, f"goals/{a.pk}/"), {"parent": str(b.pk)}, format="json")
    assert_validation_error(two_cycle, "parent")
    own = client.patch(api(org, f"goals/{a.pk}/"), {"parent": str(a.pk)}, format="json")
    assert_validation_error(own, "parent")

    a.refresh_from_db()
    assert a.parent_id is None
    assert a.version == 1


def test_a_goal_links_to_its_orgs_strategies(org, admin, client_for):
    pillars = [PillarFactory(organization=org) for _ in range(2)]
    client = client_for(admin)
    response = client.post(
        api(org, "goals/"), {"title": "x", "strategies": [str(p.pk) for p in pillars], **GOAL_DATES}, format="json"
    )
    assert response.status_code == 201, response.content
    assert sorted(response.json()["strategies"]) == sorted(str(p.pk) for p in pillars)

    narrowed = client.patch(
        api(org, f"goals/{response.json()['id']}/"), {"strategies": [str(pillars[0].pk)]}, format="json"
    )
    assert narrowed.json()["strategies"] == [str(pillars[0].pk)]
    assert GoalStrategy.objects.filter(goal_id=response.json()["id"]).count() == 1


def test_goal_patch_with_a_stale_if_match_is_refused(org, admin, client_for):
    goal = GoalFactory(organization=org, title="Before")
    client = client_for(admin)

    detail = client.get(api(org, f"goals/{goal.pk}/"))
    assert detail["ETag"] == '"1"'
    first = client.patch(api(org, f"goals/{goal.pk}/"), {"title": "First"}, format="json", HTTP_IF_MATCH='"1"')
    assert first.status_code == 200, first.content
    assert first.json()["version"] == 2
    assert client.get(api(org, f"goals/{goal.pk}/"))["ETag"] == '"2"'

    stale = client.patch(api(org, f"goals/{goal.pk}/"), {"title": "Lost"}, format="json", HTTP_IF_MATCH='"1"')
    assert_refused(stale, 412, "precondition_failed")
    goal.refresh_from_db()
    assert (goal.title, goal.version) == ("First", 2)


def test_goal_patch_without_if_match_still_bumps_the_version(org, admin, client_for):
    goal = GoalFactory(organization=org)
    response = client_for(admin).patch(api(org, f"goals/{goal.pk}/"), {"status": "achieved"}, format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["version"]) == ("achieved", 2)


def test_goal_patch_of_the_cycle_moves_the_dates(org, admin, cycle, client_for):
    goal = GoalFactory(organization=org)
    response = client_for(admin).patch(api(org, f"goals/{goal.pk}/"), {"cycle": str(cycle.pk)}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["starts_on"], response.json()["due_on"]) == ("2026-01-01", "2026-06-30")


def test_detaching_a_goal_from_its_cycle_keeps_its_dates(org, admin, cycle, client_for):
    goal = GoalFactory(organization=org, cycle=cycle, starts_on=cycle.starts_on, due_on=cycle.ends_on)
    response = client_for(admin).patch(api(org, f"goals/{goal.pk}/"), {"cycle": None}, format="json")
    assert response.status_code in (200, 400), response.content
    if response.status_code == 200:
        assert (response.json()["cycle"], response.json()["starts_on"]) == (None, "2026-01-01")
        assert response.json()["due_on"] == "2026-06-30"
    else:
        assert "starts_on" in error_attrs(response)


def test_a_goal_with_readings_is_not_deleted(org, admin, client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    Reading.objects.create(organization=org, metric=metric, observed_at="2026-02-01T00:00:00Z", value=5)
    response = client_for(admin).delete(api(org, f"goals/{metric.goal_id}/"))
    assert_refused(response, 409, "goal_has_readings")
    assert Goal.objects.filter(pk=metric.goal_id).exists()
    assert Reading.objects.count() == 1


def test_a_goal_with_children_is_not_deleted(org, admin, client_for):
    parent = GoalFactory(organization=org)
    GoalFactory(organization=org, parent=parent)
    assert_refused(client_for(admin).delete(api(org, f"goals/{parent.pk}/")), 409, "goal_has_children")
    assert Goal.objects.filter(pk=parent.pk).exists()


def test_a_plain_goal_is_deleted_with_its_metrics(org, admin, client_for):
    goal = GoalFactory(organization=org)
    goal.strategies.add(PillarFactory(organization=org), through_defaults={"organization": org})
    MetricFactory(goal=goal)
    response = client_for(admin).delete(api(org, f"goals/{goal.pk}/"))
    assert response.status_code == 204
    assert not Goal.objects.filter(pk=goal.pk).exists()
    assert not Metric.objects.exists()
    assert client_for(admin).get(api(org, f"goals/{goal.pk}/")).status_code == 404


def test_a_team_with_goals_cannot_be_deleted(org, admin, team, client_for):
    GoalFactory(organization=org, team=team)
    response = client_for(admin).delete(api(org, f"teams/{team.pk}/"))
    assert_refused(response, 409, "team_in_use")
    assert Team.objects.filter(pk=team.pk).exists()
