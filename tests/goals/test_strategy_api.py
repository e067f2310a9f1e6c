"""The goals API's strategy: the versioned direction, strategy pillars and cycles.

Status, shape and error body of each endpoint; who may write what (admins, a team's lead);
what a refused write leaves behind (nothing); stale versions and `If-Match`."""

import datetime

import pytest

from alignment_service.access import Role
from goals.models import Cycle, DirectionVersion, StrategyPillar
from tests.factories import CycleFactory, GoalFactory, PillarFactory, TeamFactory
from tests.goals.support import DIRECTION, api, assert_refused, assert_validation_error, ids

# --- Direction --------------------------------------------------------------------------------


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
