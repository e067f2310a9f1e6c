"""The goals API: direction, strategy pillars, cycles, goals, metrics and the alignment tree.

Status, shape and error body of each endpoint; who may write what; what a refused write
leaves behind (nothing); read-your-writes of progress; the rescore owed by every write; and
the query count of every list, pinned at two sizes. Readings live in `test_readings.py`.
"""

import datetime
import json
import uuid

import pytest

from alignment_service.access import Role, Scope
from alignment_service.outbox.models import OutboxMessage
from goals.models import Cycle, DirectionVersion, Goal, GoalStrategy, Metric, MetricChange, Reading, StrategyPillar
from teams.models import Team
from tests.factories import CycleFactory, GoalFactory, MetricFactory, PillarFactory, TeamFactory

RESCORE_TASK = "feedback.rescore_org"


def api(org, path=""):
    return f"/api/v1/orgs/{org.slug}/{path}"


def error_attrs(response):
    return {error["attr"] for error in response.json()["errors"]}


def error_codes(response):
    return {error["code"] for error in response.json()["errors"]}


def assert_validation_error(response, *attrs):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation_error"
    assert set(attrs) <= error_attrs(response), body


def assert_refused(response, status_code, code=None):
    assert response.status_code == status_code, response.content
    if code is not None:
        assert code in error_codes(response), response.json()


def pending_rescores(org):
    return OutboxMessage.objects.filter(
        organization=org, task_name=RESCORE_TASK, dedupe_key=f"rescore:{org.pk}", dispatched_at__isnull=True
    )


def outbox_messages_sent():
    from unittest import mock

    from alignment_service.celery import app
    from alignment_service.outbox.services import outbox_dispatch_pending

    with mock.patch.object(app, "send_task") as send:
        outbox_dispatch_pending()
    return [call.args[0] for call in send.call_args_list]


def ids(response):
    return [item["id"] for item in response.json()["results"]]


@pytest.fixture
def team(org, member):
    """A team led by `member`."""
    return TeamFactory(organization=org, lead=member)


@pytest.fixture
def other_team(org, member_of):
    return TeamFactory(organization=org, lead=member_of(org, Role.MEMBER))


@pytest.fixture
def cycle(org):
    return CycleFactory(
        organization=org, name="2026", starts_on=datetime.date(2026, 1, 1), ends_on=datetime.date(2026, 6, 30)
    )


# --- Direction --------------------------------------------------------------------------------

DIRECTION = {
    "vision": "Every player finds a game they love",
    "mission": "Make great games together",
    "values": [{"name": "Candour", "description": "Say what you see"}, {"name": "Craft"}],
}


def test_direction_before_any_put_is_version_zero_with_empty_fields(org, viewer, client_for):
    response = client_for(viewer).get(api(org, "direction/"))
    assert response.status_code == 200
    assert response.json() == {
        "vision": "",
        "mission": "",
        "values": [],
        "version": 0,
        "updated_at": None,
        "updated_by": None,
    }


def test_each_put_by_an_admin_makes_the_next_version(org, admin, viewer, client_for):
    client = client_for(admin)
    first = client.put(api(org, "direction/"), DIRECTION, format="json")
    assert first.status_code == 200, first.content
    assert first.json()["version"] == 1
    assert first.json()["updated_by"] == admin.pk
    assert first.json()["values"] == [
        {"name": "Candour", "description": "Say what you see"},
        {"name": "Craft", "description": ""},
    ]
    second = client.put(api(org, "direction/"), {**DIRECTION, "vision": "Version two"}, format="json")
    assert second.status_code == 200, second.content
    assert second.json()["version"] == 2

    current = client_for(viewer).get(api(org, "direction/"))
    assert current.json()["version"] == 2
    assert current.json()["vision"] == "Version two"
    assert current["ETag"] == '"2"'

    versions = client_for(viewer).get(api(org, "direction/versions/"))
    assert versions.status_code == 200
    assert [item["version"] for item in versions.json()["results"]] == [2, 1]
    assert [item["vision"] for item in versions.json()["results"]] == ["Version two", DIRECTION["vision"]]


def test_owner_counts_as_admin_for_the_direction(org, owner, client_for):
    assert client_for(owner).put(api(org, "direction/"), DIRECTION, format="json").status_code == 200


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_direction_put_below_admin_is_forbidden(role, org, member_of, client_for):
    response = client_for(member_of(org, role)).put(api(org, "direction/"), DIRECTION, format="json")
    assert_refused(response, 403)
    assert not DirectionVersion.objects.exists()


def test_direction_put_based_on_a_stale_body_version_is_refused(org, admin, client_for):
    client = client_for(admin)
    client.put(api(org, "direction/"), DIRECTION, format="json")
    client.put(api(org, "direction/"), DIRECTION, format="json")

    stale = client.put(api(org, "direction/"), {**DIRECTION, "version": 1}, format="json")
    assert_refused(stale, 412, "precondition_failed")
    assert DirectionVersion.objects.filter(organization=org).count() == 2

    fresh = client.put(api(org, "direction/"), {**DIRECTION, "version": 2}, format="json")
    assert fresh.status_code == 200
    assert fresh.json()["version"] == 3


def test_the_first_put_may_be_based_on_version_zero(org, admin, client_for):
    response = client_for(admin).put(api(org, "direction/"), {**DIRECTION, "version": 0}, format="json")
    assert response.status_code == 200
    assert response.json()["version"] == 1


def test_direction_put_with_a_stale_if_match_is_refused(org, admin, client_for):
    client = client_for(admin)
    client.put(api(org, "direction/"), DIRECTION, format="json")
    client.put(api(org, "direction/"), DIRECTION, format="json")

    stale = client.put(api(org, "direction/"), DIRECTION, format="json", HTTP_IF_MATCH='"1"')
    assert_refused(stale, 412, "precondition_failed")
    assert DirectionVersion.objects.filter(organization=org).count() == 2

    fresh = client.put(api(org, "direction/"), DIRECTION, format="json", HTTP_IF_MATCH='"2"')
    assert fresh.status_code == 200
    assert fresh["ETag"] == '"3"'


@pytest.mark.parametrize(
    ("values", "attr"),
    [
        ([{"description": "no name"}], "values.0.name"),
        ([{"name": "Candour"}, {"name": ""}], "values.1.name"),
        ([{"name": "x" * 101}], "values.0.name"),
        ("Candour", "values.non_field_errors"),
    ],
)
def test_direction_values_are_validated_item_by_item(values, attr, org, admin, client_for):
    response = client_for(admin).put(api(org, "direction/"), {**DIRECTION, "values": values}, format="json")
    assert_validation_error(response, attr)
    assert not DirectionVersion.objects.exists()


# --- Strategy pillars -------------------------------------------------------------------------


def test_admin_creates_a_company_pillar(org, admin, client_for):
    response = client_for(admin).post(
        api(org, "strategies/"), {"title": "Grow players", "description": "Twice as many"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Grow players"
    assert body["team"] is None
    assert body["parent"] is None
    assert body["owner"] == admin.pk
    assert StrategyPillar.objects.get(pk=body["id"]).organization == org


def test_a_teams_lead_writes_its_area_strategy_refining_a_company_pillar(org, member, team, client_for):
    company = PillarFactory(organization=org)
    client = client_for(member)
    response = client.post(
        api(org, "strategies/"), {"title": "Onboarding", "team": str(team.pk), "parent": str(company.pk)}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["team"] == str(team.pk)
    assert response.json()["parent"] == str(company.pk)
    assert response.json()["owner"] == member.pk

    renamed = client.patch(api(org, f"strategies/{response.json()['id']}/"), {"title": "Better onboarding"})
    assert renamed.status_code == 200, renamed.content
    assert renamed.json()["title"] == "Better onboarding"


def test_a_plain_member_cannot_write_a_company_pillar(org, member, client_for, count_rows):
    client = client_for(member)
    before = count_rows()
    response = client.post(api(org, "strategies/"), {"title": "Mine"}, format="json")
    assert_refused(response, 403)
    assert count_rows() == before


def test_a_lead_cannot_write_another_teams_strategy(org, member, team, other_team, client_for, count_rows):
    client = client_for(member)
    before = count_rows()
    response = client.post(api(org, "strategies/"), {"title": "Theirs", "team": str(other_team.pk)}, format="json")
    assert_refused(response, 403)
    assert count_rows() == before


def test_a_lead_cannot_move_a_company_pillar_or_edit_another_teams(org, member, team, other_team, client_for):
    company = PillarFactory(organization=org)
    theirs = PillarFactory(organization=org, team=other_team)
    client = client_for(member)
    assert_refused(client.patch(api(org, f"strategies/{company.pk}/"), {"team": str(team.pk)}), 403)
    assert_refused(client.patch(api(org, f"strategies/{theirs.pk}/"), {"title": "Hijacked"}), 403)
    assert_refused(client.delete(api(org, f"strategies/{theirs.pk}/")), 403)
    theirs.refresh_from_db()
    assert theirs.title != "Hijacked"


def test_a_viewer_cannot_write_pillars(org, viewer, client_for):
    assert_refused(client_for(viewer).post(api(org, "strategies/"), {"title": "x"}, format="json"), 403)


def test_pillar_parent_and_team_from_another_org_are_refused(org, other_org, admin, client_for, count_rows):
    foreign_pillar = PillarFactory(organization=other_org)
    foreign_team = TeamFactory(organization=other_org)
    client = client_for(admin)
    before = count_rows()
    response = client.post(
        api(org, "strategies/"),
        {"title": "x", "parent": str(foreign_pillar.pk), "team": str(foreign_team.pk)},
        format="json",
    )
    assert_validation_error(response, "parent", "team")
    assert count_rows() == before


def test_a_pillar_cannot_refine_itself_or_its_descendant(org, admin, client_for):
    top = PillarFactory(organization=org)
    middle = PillarFactory(organization=org, parent=top)
    bottom = PillarFactory(organization=org, parent=middle)
    client = client_for(admin)

    assert_validation_error(client.patch(api(org, f"strategies/{top.pk}/"), {"parent": str(bottom.pk)}), "parent")
    assert_validation_error(client.patch(api(org, f"strategies/{top.pk}/"), {"parent": str(top.pk)}), "parent")
    top.refresh_from_db()
    assert top.parent_id is None


def test_a_refined_pillar_cannot_be_deleted(org, admin, client_for):
    top = PillarFactory(organization=org)
    PillarFactory(organization=org, parent=top)
    assert_refused(client_for(admin).delete(api(org, f"strategies/{top.pk}/")), 409, "pillar_in_use")
    assert StrategyPillar.objects.filter(pk=top.pk).exists()


def test_pillar_filters(org, viewer, team, other_team, client_for):
    company = PillarFactory(organization=org, title="A company")
    ours = PillarFactory(organization=org, title="B ours", team=team, parent=company)
    theirs = PillarFactory(organization=org, title="C theirs", team=other_team)
    PillarFactory(organization=org)  # another company pillar with no children
    client = client_for(viewer)

    assert ids(client.get(api(org, "strategies/"), {"team": str(team.pk)})) == [str(ours.pk)]
    assert set(ids(client.get(api(org, "strategies/"), {"company": "true"}))) == set(
        map(str, StrategyPillar.objects.filter(organization=org, team=None).values_list("pk", flat=True))
    )
    assert set(ids(client.get(api(org, "strategies/"), {"company": "false"}))) == {str(ours.pk), str(theirs.pk)}
    assert ids(client.get(api(org, "strategies/"), {"parent": str(company.pk)})) == [str(ours.pk)]


# --- Cycles -----------------------------------------------------------------------------------

CYCLE = {"name": "H1 2026", "starts_on": "2026-01-01", "ends_on": "2026-06-30"}


def test_admin_creates_a_cycle(org, admin, client_for):
    response = client_for(admin).post(api(org, "cycles/"), CYCLE, format="json")
    assert response.status_code == 201, response.content
    assert {k: response.json()[k] for k in CYCLE} == CYCLE


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_cycles_are_admin_only(role, org, member_of, client_for):
    client = client_for(member_of(org, role))
    assert_refused(client.post(api(org, "cycles/"), CYCLE, format="json"), 403)
    existing = CycleFactory(organization=org)
    assert_refused(client.patch(api(org, f"cycles/{existing.pk}/"), {"name": "Renamed"}), 403)
    assert_refused(client.delete(api(org, f"cycles/{existing.pk}/")), 403)
    assert client.get(api(org, "cycles/")).status_code == 200
    assert Cycle.objects.filter(organization=org).count() == 1


def test_a_cycle_cannot_end_before_it_starts(org, admin, client_for):
    response = client_for(admin).post(api(org, "cycles/"), {**CYCLE, "ends_on": "2025-12-31"}, format="json")
    assert_validation_error(response, "ends_on")
    assert not Cycle.objects.exists()


def test_a_cycle_patch_cannot_reverse_its_dates(org, admin, client_for):
    existing = CycleFactory(organization=org, starts_on=datetime.date(2026, 1, 1), ends_on=datetime.date(2026, 3, 31))
    response = client_for(admin).patch(api(org, f"cycles/{existing.pk}/"), {"starts_on": "2026-05-01"})
    assert_validation_error(response, "ends_on")


def test_cycle_names_are_unique_in_the_org(org, other_org, admin, client_for):
    CycleFactory(organization=other_org, name=CYCLE["name"])
    client = client_for(admin)
    assert client.post(api(org, "cycles/"), CYCLE, format="json").status_code == 201
    duplicate = client.post(api(org, "cycles/"), CYCLE, format="json")
    assert_validation_error(duplicate, "name")
    assert Cycle.objects.filter(organization=org).count() == 1


def test_a_cycle_used_by_a_goal_cannot_be_deleted(org, admin, cycle, client_for):
    GoalFactory(organization=org, cycle=cycle)
    unused = CycleFactory(organization=org)
    client = client_for(admin)
    assert_refused(client.delete(api(org, f"cycles/{cycle.pk}/")), 409, "cycle_in_use")
    assert Cycle.objects.filter(pk=cycle.pk).exists()
    assert client.delete(api(org, f"cycles/{unused.pk}/")).status_code == 204
    assert not Cycle.objects.filter(pk=unused.pk).exists()


# --- Goals: writing ---------------------------------------------------------------------------

GOAL_DATES = {"starts_on": "2026-01-01", "due_on": "2026-12-31"}


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


# --- Goals: reading ---------------------------------------------------------------------------


def test_goal_filters(org, viewer, member, team, cycle, client_for):
    pillar = PillarFactory(organization=org)
    company = GoalFactory(organization=org, title="Company growth", owner=member, status="active", progress=1.0)
    team_goal = GoalFactory(
        organization=org,
        title="Team onboarding",
        team=team,
        parent=company,
        cycle=cycle,
        status="draft",
        hypothesis="Shorter tutorials keep players",
    )
    team_goal.strategies.add(pillar, through_defaults={"organization": org})
    late = GoalFactory(
        organization=org,
        title="Late",
        status="missed",
        starts_on=datetime.date(2020, 1, 1),
        due_on=datetime.date(2020, 12, 31),
        progress=0.1,
    )
    client = client_for(viewer)

    def listed(**params):
        response = client.get(api(org, "goals/"), params)
        assert response.status_code == 200, response.content
        return set(ids(response))

    assert listed() == {str(company.pk), str(team_goal.pk), str(late.pk)}
    assert listed(team=str(team.pk)) == {str(team_goal.pk)}
    assert listed(company="true") == {str(company.pk), str(late.pk)}
    assert listed(owner=member.pk) == {str(company.pk)}
    assert listed(parent=str(company.pk)) == {str(team_goal.pk)}
    assert listed(cycle=str(cycle.pk)) == {str(team_goal.pk)}
    assert listed(status="draft") == {str(team_goal.pk)}
    assert client.get(api(org, "goals/") + "?status=draft&status=missed").status_code == 200
    assert set(ids(client.get(api(org, "goals/") + "?status=draft&status=missed"))) == {
        str(team_goal.pk),
        str(late.pk),
    }
    assert listed(health="on_track") == {str(company.pk)}
    assert listed(health="off_track") == {str(late.pk)}
    assert listed(health="no_data") == {str(team_goal.pk)}
    assert listed(strategy=str(pillar.pk)) == {str(team_goal.pk)}
    assert listed(search="tutorials") == {str(team_goal.pk)}
    assert listed(search="GROWTH") == {str(company.pk)}
    assert listed(search="growth onboarding") == set()


@pytest.mark.parametrize("params", [{"status": "abandoned"}, {"health": "fine"}, {"team": "not-a-uuid"}])
def test_bad_goal_filters_are_a_400(params, org, viewer, client_for):
    response = client_for(viewer).get(api(org, "goals/"), params)
    assert response.status_code == 400, response.content


def test_goal_ordering(org, viewer, client_for):
    light = GoalFactory(organization=org, title="B", weight=1, due_on=datetime.date(2026, 3, 1))
    heavy = GoalFactory(organization=org, title="C", weight=5, due_on=datetime.date(2026, 2, 1))
    middle = GoalFactory(organization=org, title="A", weight=3, due_on=datetime.date(2026, 4, 1))
    client = client_for(viewer)
    assert ids(client.get(api(org, "goals/"))) == [str(heavy.pk), str(light.pk), str(middle.pk)]
    assert ids(client.get(api(org, "goals/"), {"ordering": "-weight"})) == [
        str(heavy.pk),
        str(middle.pk),
        str(light.pk),
    ]
    assert ids(client.get(api(org, "goals/"), {"ordering": "title"})) == [str(middle.pk), str(light.pk), str(heavy.pk)]


def test_goal_list_is_paginated_with_limit(org, viewer, client_for):
    for _ in range(3):
        GoalFactory(organization=org)
    body = client_for(viewer).get(api(org, "goals/"), {"limit": 2}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"].startswith("http://testserver/api/v1/orgs/")
    assert body["previous"] is None


# --- Progress is read-your-writes -------------------------------------------------------------


def test_a_reading_rolls_up_to_its_metric_its_goal_and_the_parent_goal(org, admin, member, viewer, client_for):
    parent = GoalFactory(organization=org, title="Company")
    child = GoalFactory(organization=org, parent=parent, status="active", weight=1)
    other_child = GoalFactory(organization=org, parent=parent, status="active", weight=3)
    draft_child = GoalFactory(organization=org, parent=parent, status="draft", weight=100)
    metric = MetricFactory(goal=child, baseline=0, target=100)
    other_metric = MetricFactory(goal=other_child, baseline=10, target=20)
    draft_metric = MetricFactory(goal=draft_child, baseline=0, target=1)
    writer, reader = client_for(member), client_for(viewer)

    for m, value in ((other_metric, 18), (draft_metric, 0)):
        posted = writer.post(
            api(org, f"metrics/{m.pk}/readings/"), {"value": value, "observed_at": "2026-02-01T00:00:00Z"}
        )
        assert posted.status_code == 201, posted.content
    posted = writer.post(
        api(org, f"metrics/{metric.pk}/readings/"), {"value": 40, "observed_at": "2026-02-01T00:00:00Z"}
    )
    assert posted.status_code == 201, posted.content

    metric_body = reader.get(api(org, f"metrics/{metric.pk}/")).json()
    assert metric_body["current"] == 40
    assert metric_body["progress"] == pytest.approx(0.4)
    assert metric_body["last_reading_at"] == "2026-02-01T00:00:00Z"
    assert reader.get(api(org, f"goals/{child.pk}/")).json()["progress"] == pytest.approx(0.4)
    assert reader.get(api(org, f"goals/{other_child.pk}/")).json()["progress"] == pytest.approx(0.8)
    assert reader.get(api(org, f"goals/{draft_child.pk}/")).json()["progress"] == pytest.approx(0.0)
    # (0.4 * 1 + 0.8 * 3) / 4; the draft child is left out whatever its weight.
    assert reader.get(api(org, f"goals/{parent.pk}/")).json()["progress"] == pytest.approx(0.7)

    activated = client_for(admin).patch(api(org, f"goals/{draft_child.pk}/"), {"status": "active"}, format="json")
    assert activated.status_code == 200, activated.content
    assert reader.get(api(org, f"goals/{parent.pk}/")).json()["progress"] == pytest.approx(2.8 / 104)


def test_replacing_a_reading_updates_progress_at_once(org, member, client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org), baseline=0, target=10)
    client = client_for(member)
    url = api(org, f"metrics/{metric.pk}/readings/")
    client.post(url, {"value": 2, "observed_at": "2026-02-01T00:00:00Z"})
    assert client.post(url, {"value": 5, "observed_at": "2026-02-01T00:00:00Z"}).status_code == 200
    assert client.get(api(org, f"metrics/{metric.pk}/")).json()["current"] == 5
    assert client.get(api(org, f"goals/{metric.goal_id}/")).json()["progress"] == pytest.approx(0.5)


# --- Metrics ----------------------------------------------------------------------------------


def metric_body(goal, /, **overrides):
    body = {"goal": str(goal.pk), "name": "Weekly actives", "key": "weekly-actives", "baseline": 0, "target": 100}
    return body | overrides


def test_a_member_creates_a_metric(org, member, client_for):
    goal = GoalFactory(organization=org)
    response = client_for(member).post(api(org, "metrics/"), metric_body(goal, unit="players"), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["key"] == "weekly-actives"
    assert body["direction"] == "increase"
    assert body["weight"] == 1.0
    assert body["current"] is None
    assert body["progress"] is None
    assert body["health"] == "no_data"
    assert body["stale"] is None
    assert body["forecast"] is None
    assert body["last_reading_at"] is None
    assert {"expected_progress", "starts_on", "due_on", "stale_after_days", "unit"} <= body.keys()


def test_metric_keys_are_unique_per_org(org, other_org, admin, client_for, member_of):
    client = client_for(admin)
    assert client.post(api(org, "metrics/"), metric_body(GoalFactory(organization=org)), format="json").status_code == (
        201
    )
    duplicate = client.post(
        api(org, "metrics/"), metric_body(GoalFactory(organization=org), name="Other"), format="json"
    )
    assert_validation_error(duplicate, "key")
    assert Metric.objects.filter(organization=org).count() == 1

    elsewhere = client_for(member_of(other_org, Role.MEMBER)).post(
        api(other_org, "metrics/"), metric_body(GoalFactory(organization=other_org)), format="json"
    )
    assert elsewhere.status_code == 201, elsewhere.content


def test_renaming_a_metric_key_onto_another_is_refused(org, admin, client_for):
    taken = MetricFactory(goal=GoalFactory(organization=org), key="taken")
    metric = MetricFactory(goal=taken.goal, key="free")
    response = client_for(admin).patch(api(org, f"metrics/{metric.pk}/"), {"key": "taken"}, format="json")
    assert_validation_error(response, "key")


BAD_METRICS = [
    ({"baseline": 5, "target": 5}, "target"),
    ({"baseline": 50, "target": 10}, "target"),
    ({"direction": "decrease", "baseline": 10, "target": 50}, "target"),
    ({"direction": "sideways"}, "direction"),
    ({"weight": 0}, "weight"),
    ({"weight": -2}, "weight"),
    ({"weight": 1001}, "weight"),
    ({"key": "Not a slug!"}, "key"),
    ({"baseline": "NaN"}, "baseline"),
    ({"target": "Infinity"}, "target"),
    ({"goal": str(uuid.uuid4())}, "goal"),
    ({"starts_on": "2026-05-01", "due_on": "2026-04-01"}, "due_on"),
    ({"stale_after_days": 0}, "stale_after_days"),
]


def test_bad_metrics_are_refused(org, admin, client_for, count_rows):
    goal = GoalFactory(organization=org)
    client = client_for(admin)
    before = count_rows()
    for overrides, attr in BAD_METRICS:
        response = client.post(api(org, "metrics/"), metric_body(goal, **overrides), format="json")
        assert response.status_code == 400, (overrides, response.content)
        assert attr in error_attrs(response), (overrides, response.json())
    assert count_rows() == before


def test_a_metric_on_another_orgs_goal_is_refused(org, other_org, admin, client_for):
    response = client_for(admin).post(api(org, "metrics/"), metric_body(GoalFactory(organization=other_org)))
    assert_validation_error(response, "goal")


def test_a_non_finite_json_number_is_a_400_not_a_500(org, admin, client_for, count_rows):
    goal = GoalFactory(organization=org)
    raw = json.dumps(metric_body(goal)).replace('"baseline": 0', '"baseline": 1e400')
    assert "1e400" in raw
    client = client_for(admin)
    before = count_rows()
    response = client.post(api(org, "metrics/"), raw, content_type="application/json")
    assert_validation_error(response, "baseline")
    assert count_rows() == before


def test_a_decreasing_metric_makes_progress_as_it_falls(org, member, client_for):
    goal = GoalFactory(organization=org)
    client = client_for(member)
    created = client.post(
        api(org, "metrics/"),
        metric_body(goal, key="churn", direction="decrease", baseline=20, target=10),
        format="json",
    )
    assert created.status_code == 201, created.content
    metric_id = created.json()["id"]
    client.post(api(org, f"metrics/{metric_id}/readings/"), {"value": 17.5, "observed_at": "2026-02-01T00:00:00Z"})
    assert client.get(api(org, f"metrics/{metric_id}/")).json()["progress"] == pytest.approx(0.25)
    client.post(api(org, f"metrics/{metric_id}/readings/"), {"value": 25, "observed_at": "2026-02-02T00:00:00Z"})
    assert client.get(api(org, f"metrics/{metric_id}/")).json()["progress"] == 0.0
    client.post(api(org, f"metrics/{metric_id}/readings/"), {"value": 5, "observed_at": "2026-02-03T00:00:00Z"})
    assert client.get(api(org, f"metrics/{metric_id}/")).json()["progress"] == 1.0


def test_a_moved_target_is_kept_in_the_history_visible_to_everyone(org, member, viewer, client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org), baseline=0, target=100)
    response = client_for(member).patch(
        api(org, f"metrics/{metric.pk}/"), {"target": 150, "reason": "Launch went better"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["target"] == 150
    assert response.json()["version"] == 2
    assert "reason" not in response.json()

    history = client_for(viewer).get(api(org, f"metrics/{metric.pk}/history/"))
    assert history.status_code == 200
    [change] = history.json()["results"]
    assert change["field"] == "target"
    assert (change["old_value"], change["new_value"]) == (100, 150)
    assert change["reason"] == "Launch went better"
    assert change["changed_by"] == member.pk
    assert change["changed_at"]


def test_an_unchanged_target_or_a_rename_records_no_history(org, member, client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org), target=100)
    client = client_for(member)
    client.patch(api(org, f"metrics/{metric.pk}/"), {"target": 100, "name": "Renamed"}, format="json")
    assert not MetricChange.objects.exists()


def test_metric_patch_keeps_direction_and_bounds_consistent(org, member, client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org), baseline=0, target=100)
    client = client_for(member)
    assert_validation_error(client.patch(api(org, f"metrics/{metric.pk}/"), {"target": 0}, format="json"), "target")
    assert_validation_error(client.patch(api(org, f"metrics/{metric.pk}/"), {"target": -5}, format="json"), "target")
    assert not MetricChange.objects.exists()
    metric.refresh_from_db()
    assert metric.target == 100


def test_metric_patch_with_a_stale_if_match_is_refused(org, member, client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org), target=100)
    client = client_for(member)
    assert client.get(api(org, f"metrics/{metric.pk}/"))["ETag"] == '"1"'
    assert client.patch(api(org, f"metrics/{metric.pk}/"), {"target": 120}, HTTP_IF_MATCH='"1"').status_code == 200
    stale = client.patch(api(org, f"metrics/{metric.pk}/"), {"target": 130}, HTTP_IF_MATCH='"1"')
    assert_refused(stale, 412)
    metric.refresh_from_db()
    assert (metric.target, metric.version) == (120, 2)
    assert MetricChange.objects.count() == 1


def test_a_metric_with_readings_is_not_deleted(org, member, client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    bare = MetricFactory(goal=metric.goal)
    Reading.objects.create(organization=org, metric=metric, observed_at="2026-02-01T00:00:00Z", value=1)
    client = client_for(member)
    assert_refused(client.delete(api(org, f"metrics/{metric.pk}/")), 409, "metric_has_readings")
    assert Metric.objects.filter(pk=metric.pk).exists()
    assert client.delete(api(org, f"metrics/{bare.pk}/")).status_code == 204


def test_a_readings_write_key_reads_metrics_and_posts_readings_only(org, key_client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org), key="dau")
    client = key_client_for(org, scopes=(Scope.READINGS_WRITE,))

    assert ids(client.get(api(org, "metrics/"))) == [str(metric.pk)]
    assert client.get(api(org, f"metrics/{metric.pk}/")).status_code == 200
    assert client.get(api(org, f"metrics/{metric.pk}/history/")).status_code == 200
    assert client.get(api(org, f"metrics/{metric.pk}/readings/")).status_code == 200
    posted = client.post(
        api(org, f"metrics/{metric.pk}/readings/"), {"value": 1, "observed_at": "2026-02-01T00:00:00Z"}
    )
    assert posted.status_code == 201, posted.content
    batch = client.post(
        api(org, "readings/batch/"),
        {"readings": [{"metric": "dau", "value": 2, "observed_at": "2026-02-02T00:00:00Z"}]},
        format="json",
    )
    assert batch.status_code == 200, batch.content

    assert_refused(client.post(api(org, "metrics/"), metric_body(metric.goal, key="new"), format="json"), 403)
    assert_refused(client.patch(api(org, f"metrics/{metric.pk}/"), {"target": 5}, format="json"), 403)
    assert_refused(client.delete(api(org, f"metrics/{metric.pk}/")), 403)
    assert_refused(client.get(api(org, "goals/")), 403)
    assert_refused(client.get(api(org, f"goals/{metric.goal_id}/")), 403)
    assert_refused(client.get(api(org, "direction/")), 403)


def test_a_read_key_reads_metrics_and_readings_but_posts_nothing(org, key_client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    client = key_client_for(org, scopes=(Scope.READ,))
    assert client.get(api(org, "metrics/")).status_code == 200
    assert client.get(api(org, f"metrics/{metric.pk}/readings/")).status_code == 200
    assert client.get(api(org, "goals/")).status_code == 200
    reading = {"value": 1, "observed_at": "2026-02-01T00:00:00Z"}
    assert_refused(client.post(api(org, f"metrics/{metric.pk}/readings/"), reading), 403)
    assert_refused(
        client.post(api(org, "readings/batch/"), {"readings": [{**reading, "metric": metric.key}]}, format="json"),
        403,
    )
    assert not Reading.objects.exists()


def test_viewers_read_but_do_not_write_metrics(org, viewer, client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    client = client_for(viewer)
    assert client.get(api(org, f"metrics/{metric.pk}/")).status_code == 200
    assert_refused(client.post(api(org, "metrics/"), metric_body(metric.goal, key="x")), 403)
    assert_refused(client.patch(api(org, f"metrics/{metric.pk}/"), {"target": 5}), 403)
    assert_refused(
        client.post(api(org, f"metrics/{metric.pk}/readings/"), {"value": 1, "observed_at": "2026-02-01T00:00:00Z"}),
        403,
    )


def test_metric_filters(org, viewer, team, client_for):
    goal = GoalFactory(organization=org, team=team)
    ours = MetricFactory(goal=goal, key="ours", progress=1.0)
    theirs = MetricFactory(goal=GoalFactory(organization=org), key="theirs")
    client = client_for(viewer)
    assert ids(client.get(api(org, "metrics/"), {"goal": str(goal.pk)})) == [str(ours.pk)]
    assert ids(client.get(api(org, "metrics/"), {"team": str(team.pk)})) == [str(ours.pk)]
    assert ids(client.get(api(org, "metrics/"), {"key": "theirs"})) == [str(theirs.pk)]
    assert ids(client.get(api(org, "metrics/"), {"health": "no_data"})) == [str(theirs.pk)]


# --- The rescore owed by every write ----------------------------------------------------------


def _writes(org, admin_client, goal, metric):
    """Each write that can change a score, once; every call builds fresh objects."""
    return {
        "goal create": lambda: admin_client.post(api(org, "goals/"), {"title": "New", **GOAL_DATES}, format="json"),
        "goal patch": lambda: admin_client.patch(api(org, f"goals/{goal.pk}/"), {"title": "T"}, format="json"),
        "goal delete": lambda: admin_client.delete(api(org, f"goals/{GoalFactory(organization=org).pk}/")),
        "metric create": lambda: admin_client.post(
            api(org, "metrics/"), metric_body(goal, key=f"k-{uuid.uuid4().hex[:8]}"), format="json"
        ),
        "metric patch": lambda: admin_client.patch(api(org, f"metrics/{metric.pk}/"), {"target": 77}, format="json"),
        "metric delete": lambda: admin_client.delete(api(org, f"metrics/{MetricFactory(goal=goal).pk}/")),
        "reading": lambda: admin_client.post(
            api(org, f"metrics/{metric.pk}/readings/"), {"value": 3, "observed_at": "2026-02-01T00:00:00Z"}
        ),
        "batch": lambda: admin_client.post(
            api(org, "readings/batch/"),
            {"readings": [{"metric": metric.key, "value": 4, "observed_at": "2026-02-02T00:00:00Z"}]},
            format="json",
        ),
    }


WRITES = [
    "goal create",
    "goal patch",
    "goal delete",
    "metric create",
    "metric patch",
    "metric delete",
    "reading",
    "batch",
]


@pytest.mark.parametrize("write", WRITES)
def test_every_write_owes_one_coalesced_rescore_of_its_org(write, org, admin, client_for):
    goal = GoalFactory(organization=org)
    metric = MetricFactory(goal=goal)
    run = _writes(org, client_for(admin), goal, metric)[write]
    assert not OutboxMessage.objects.exists()

    first = run()
    assert first.status_code in (200, 201, 204), first.content
    [owed] = pending_rescores(org)
    scoped = {"goal_ids": [str(goal.pk)], "team_ids": []} if write in ("reading", "batch") else {}
    assert owed.kwargs == {"org_id": str(org.pk), **scoped}, "readings owe a rescore of what their goal moves"
    second = run()
    assert second.status_code in (200, 201, 204), second.content
    assert pending_rescores(org).count() == 2, "each write owes its own row…"
    assert outbox_messages_sent() == [RESCORE_TASK], "…and they go out as one rescore"


def test_writes_in_two_orgs_owe_one_rescore_each(org, other_org, admin, member_of, client_for):
    client_for(admin).post(api(org, "goals/"), {"title": "x", **GOAL_DATES}, format="json")
    client_for(admin).post(api(org, "goals/"), {"title": "y", **GOAL_DATES}, format="json")
    their_admin = member_of(other_org, Role.ADMIN)
    client_for(their_admin).post(api(other_org, "goals/"), {"title": "z", **GOAL_DATES}, format="json")
    assert pending_rescores(org).count() == 2
    assert pending_rescores(other_org).count() == 1
    assert sorted(outbox_messages_sent()) == [RESCORE_TASK, RESCORE_TASK], "one rescore each"


def test_a_refused_write_owes_nothing(org, admin, client_for):
    goal = GoalFactory(organization=org)
    GoalFactory(organization=org, parent=goal)
    client = client_for(admin)
    client.delete(api(org, f"goals/{goal.pk}/"))
    client.post(api(org, "goals/"), {"title": "x", "weight": 0, **GOAL_DATES}, format="json")
    client.patch(api(org, f"goals/{goal.pk}/"), {"title": "x"}, format="json", HTTP_IF_MATCH='"9"')
    assert not OutboxMessage.objects.exists()


# --- The alignment tree -----------------------------------------------------------------------


def test_the_alignment_tree_nests_the_cascade(org, admin, viewer, team, client_for):
    client_for(admin).put(api(org, "direction/"), DIRECTION, format="json")
    pillar = PillarFactory(organization=org, title="Grow")
    area = PillarFactory(organization=org, title="Onboard", team=team, parent=pillar)
    company = GoalFactory(organization=org, title="Double players", progress=0.5)
    company.strategies.add(pillar, through_defaults={"organization": org})
    team_goal = GoalFactory(organization=org, title="Shorter tutorial", team=team, parent=company)
    grandchild = GoalFactory(organization=org, title="Tutorial v2", team=team, parent=team_goal)
    GoalFactory(organization=org, title="Dropped", parent=company, status="cancelled")
    GoalFactory(organization=org, title="Dropped company goal", status="cancelled")

    response = client_for(viewer).get(api(org, "alignment-tree/"))
    assert response.status_code == 200, response.content
    tree = response.json()
    assert set(tree) == {"direction", "pillars", "goals", "divergences"}
    assert tree["direction"]["version"] == 1
    assert tree["direction"]["vision"] == DIRECTION["vision"]
    assert {p["id"]: p["parent"] for p in tree["pillars"]} == {str(pillar.pk): None, str(area.pk): str(pillar.pk)}

    [root] = tree["goals"]
    assert root["id"] == str(company.pk)
    assert {"id", "title", "team", "strategies", "progress", "health", "alignment_score", "children"} <= root.keys()
    assert root["team"] is None
    assert root["strategies"] == [str(pillar.pk)]
    assert root["progress"] == 0.5
    assert root["alignment_score"] is None
    assert root["health"] in {"on_track", "at_risk", "off_track"}
    [child] = root["children"]
    assert (child["id"], child["team"], child["health"]) == (str(team_goal.pk), str(team.pk), "no_data")
    [leaf] = child["children"]
    assert leaf["id"] == str(grandchild.pk)
    assert leaf["children"] == []


def test_the_alignment_tree_of_an_empty_org(org, viewer, client_for):
    response = client_for(viewer).get(api(org, "alignment-tree/"))
    assert response.status_code == 200
    assert response.json()["goals"] == []
    assert response.json()["pillars"] == []
    assert response.json()["direction"]["version"] == 0


def _tree_of(org, size):
    team = TeamFactory(organization=org)
    pillars = [PillarFactory(organization=org) for _ in range(3)]
    roots = [GoalFactory(organization=org) for _ in range(max(1, size // 3))]
    made = len(roots)
    parent = roots[0]
    while made < size:
        parent = GoalFactory(organization=org, team=team, parent=roots[made % len(roots)] if made % 2 else parent)
        parent.strategies.add(*pillars, through_defaults={"organization": org})
        made += 1


TREE_QUERIES = 6  # the last one reads the active divergences


@pytest.mark.parametrize("size", [3, 30])
def test_the_alignment_tree_costs_the_same_queries_at_any_size(
    size, org, viewer, client_for, django_assert_num_queries
):
    _tree_of(org, size)
    client = client_for(viewer)
    with django_assert_num_queries(TREE_QUERIES):
        response = client.get(api(org, "alignment-tree/"))
    assert response.status_code == 200

    def count(nodes):
        return sum(1 + count(node["children"]) for node in nodes)

    assert count(response.json()["goals"]) == size


# --- Query counts of the lists ----------------------------------------------------------------


def _goals(org, size):
    team = TeamFactory(organization=org)
    pillars = [PillarFactory(organization=org) for _ in range(2)]
    for _ in range(size):
        goal = GoalFactory(organization=org, team=team)
        goal.strategies.add(*pillars, through_defaults={"organization": org})


def _metrics(org, size):
    goal = GoalFactory(organization=org)
    for _ in range(size):
        MetricFactory(goal=goal, stale_after_days=7)


def _pillars(org, size):
    team = TeamFactory(organization=org)
    top = PillarFactory(organization=org)
    for _ in range(size - 1):
        PillarFactory(organization=org, team=team, parent=top)


def _cycles(org, size):
    for _ in range(size):
        CycleFactory(organization=org)


def _versions(org, size):
    for number in range(1, size + 1):
        DirectionVersion.objects.create(organization=org, version=number, values=[{"name": "v", "description": ""}])


def _history(org, size):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    for number in range(size):
        MetricChange.objects.create(organization=org, metric=metric, field="target", old_value=number, new_value=1)
    return f"metrics/{metric.pk}/history/"


LISTS = {
    "goals/": (_goals, 4),
    "metrics/": (_metrics, 3),
    "strategies/": (_pillars, 3),
    "cycles/": (_cycles, 3),
    "direction/versions/": (_versions, 3),
    "history": (_history, 4),
}


@pytest.mark.parametrize("size", [3, 30])
@pytest.mark.parametrize("path", list(LISTS))
def test_list_query_counts_do_not_grow_with_size(path, size, org, viewer, client_for, django_assert_num_queries):
    make, queries = LISTS[path]
    made = make(org, size)
    client = client_for(viewer)
    with django_assert_num_queries(queries):
        response = client.get(api(org, made or path))
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == size
