"""Contract tests for teams: create, the parent tree without cycles, leads and members from
the org, slugs, patch, put and delete, as described in the spec's "Organizations and people".
Filters, ordering and list query counts live in `test_lists_api.py`."""

from typing import Any

import pytest

from alignment_service.access import Role
from teams.models import Membership, Organization, Team, TeamKind, TeamMember, User
from tests.factories import GoalFactory, PillarFactory, TeamFactory, UserFactory
from tests.teams.support import TEAM_KEYS, ClientFor, MemberOf, assert_error, attrs, parse_ts, url

pytestmark = pytest.mark.django_db


# --- Teams ------------------------------------------------------------------------------------


def test_team_create_with_a_name_only(org: Organization, admin: User, client_for: ClientFor) -> None:
    response = client_for(admin).post(url(org, "teams/"), {"name": "Platform Team"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == TEAM_KEYS
    team = Team.objects.get(pk=body["id"])
    assert team.organization_id == org.pk
    assert body == {
        "id": str(team.pk),
        "name": "Platform Team",
        "slug": "platform-team",
        "kind": "team",
        "parent": None,
        "lead": None,
        "members": [],
        "description": "",
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    parse_ts(body["created_at"])


def test_team_create_derives_a_free_slug(org: Organization, admin: User, client_for: ClientFor) -> None:
    client = client_for(admin)

    slugs = [client.post(url(org, "teams/"), {"name": "Platform"}).json()["slug"] for _ in range(3)]

    assert slugs == ["platform", "platform-2", "platform-3"]


def test_team_create_a_steering_group_with_everything(
    org: Organization, admin: User, member: User, viewer: User, client_for: ClientFor
) -> None:
    parent = TeamFactory(organization=org)
    payload = {
        "name": "Leadership",
        "slug": "lead-sg",
        "kind": "steering_group",
        "parent": str(parent.pk),
        "lead": member.pk,
        "members": [viewer.pk, member.pk],
        "description": "Steers the cascade.",
    }

    response = client_for(admin).post(url(org, "teams/"), payload)

    assert response.status_code == 201, response.content
    body = response.json()
    assert {key: body[key] for key in payload} == {**payload, "members": sorted([viewer.pk, member.pk])}
    team = Team.objects.get(pk=body["id"])
    assert team.kind == TeamKind.STEERING_GROUP
    assert set(team.members.values_list("pk", flat=True)) == {viewer.pk, member.pk}


def test_team_create_refuses_a_parent_from_another_org(
    org: Organization, other_org: Organization, admin: User, client_for: ClientFor
) -> None:
    foreign = TeamFactory(organization=other_org)

    response = client_for(admin).post(url(org, "teams/"), {"name": "Sneaky", "parent": str(foreign.pk)})

    assert_error(response, 400, code="does_not_exist")
    assert attrs(response) == {"parent"}
    assert not Team.objects.filter(organization=org).exists()


@pytest.mark.parametrize("parent", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", 7])
def test_team_create_refuses_an_unknown_parent(
    org: Organization, admin: User, client_for: ClientFor, parent: Any
) -> None:
    response = client_for(admin).post(url(org, "teams/"), {"name": "Orphan", "parent": parent})

    assert_error(response, 400)
    assert attrs(response) == {"parent"}
    assert not Team.objects.filter(organization=org).exists()


def test_team_refuses_to_be_its_own_parent(org: Organization, admin: User, client_for: ClientFor) -> None:
    team = TeamFactory(organization=org)

    response = client_for(admin).patch(url(org, f"teams/{team.pk}/"), {"parent": str(team.pk)})

    assert_error(response, 400, code="cycle")
    assert attrs(response) == {"parent"}
    team.refresh_from_db()
    assert team.parent_id is None


@pytest.mark.parametrize("depth", [1, 3])
def test_team_refuses_a_descendant_as_parent(org: Organization, admin: User, client_for: ClientFor, depth: int) -> None:
    top = TeamFactory(organization=org)
    bottom = top
    for _ in range(depth):
        bottom = TeamFactory(organization=org, parent=bottom)

    response = client_for(admin).patch(url(org, f"teams/{top.pk}/"), {"parent": str(bottom.pk)})

    assert_error(response, 400, code="cycle")
    assert attrs(response) == {"parent"}
    top.refresh_from_db()
    assert top.parent_id is None


def test_team_cycle_built_through_the_api_is_refused(org: Organization, admin: User, client_for: ClientFor) -> None:
    client = client_for(admin)
    a = client.post(url(org, "teams/"), {"name": "A"}).json()["id"]
    b = client.post(url(org, "teams/"), {"name": "B", "parent": a}).json()["id"]

    response = client.patch(url(org, f"teams/{a}/"), {"parent": b})

    assert_error(response, 400, code="cycle", attr="parent")
    assert Team.objects.get(pk=a).parent_id is None


def test_team_can_move_under_a_sibling(org: Organization, admin: User, client_for: ClientFor) -> None:
    root = TeamFactory(organization=org)
    a, b = TeamFactory(organization=org, parent=root), TeamFactory(organization=org, parent=root)

    response = client_for(admin).patch(url(org, f"teams/{a.pk}/"), {"parent": str(b.pk)})

    assert response.status_code == 200, response.content
    assert response.json()["parent"] == str(b.pk)


def test_team_lead_must_be_an_org_member(org: Organization, admin: User, outsider: User, client_for: ClientFor) -> None:
    loner = UserFactory()
    client = client_for(admin)

    for lead in (outsider.pk, loner.pk, 999_999, "x"):
        response = client.post(url(org, "teams/"), {"name": "Team", "lead": lead})
        assert_error(response, 400)
        assert attrs(response) == {"lead"}
    assert not Team.objects.filter(organization=org).exists()


def test_team_members_must_be_org_members(
    org: Organization, admin: User, member: User, outsider: User, client_for: ClientFor
) -> None:
    response = client_for(admin).post(url(org, "teams/"), {"name": "Team", "members": [member.pk, outsider.pk]})

    assert_error(response, 400, code="does_not_exist")
    assert attrs(response) == {"members"}
    assert not Team.objects.filter(organization=org).exists()
    assert not TeamMember.objects.exists()


def test_team_create_lists_every_bad_field(
    org: Organization, other_org: Organization, admin: User, outsider: User, client_for: ClientFor
) -> None:
    response = client_for(admin).post(
        url(org, "teams/"),
        {
            "name": "",
            "slug": "not a slug",
            "kind": "squad",
            "parent": str(TeamFactory(organization=other_org).pk),
            "lead": outsider.pk,
            "members": [outsider.pk],
        },
    )

    assert_error(response, 400)
    assert attrs(response) == {"name", "slug", "kind", "parent", "lead", "members"}


def test_team_create_refuses_a_taken_slug(org: Organization, admin: User, client_for: ClientFor) -> None:
    TeamFactory(organization=org, slug="core")

    response = client_for(admin).post(url(org, "teams/"), {"name": "Core again", "slug": "core"})

    assert_error(response, 400, code="unique")
    assert attrs(response) == {"slug"}
    assert Team.objects.filter(organization=org).count() == 1


def test_team_slug_is_unique_per_org_only(
    org: Organization, other_org: Organization, admin: User, client_for: ClientFor
) -> None:
    TeamFactory(organization=other_org, slug="core")

    response = client_for(admin).post(url(org, "teams/"), {"name": "Core", "slug": "core"})

    assert response.status_code == 201, response.content


def test_team_patch_refuses_a_taken_slug(org: Organization, admin: User, client_for: ClientFor) -> None:
    TeamFactory(organization=org, slug="core")
    team = TeamFactory(organization=org, slug="edge")

    response = client_for(admin).patch(url(org, f"teams/{team.pk}/"), {"slug": "core"})

    assert_error(response, 400, code="unique")
    assert attrs(response) == {"slug"}
    team.refresh_from_db()
    assert team.slug == "edge"


def test_team_patch_changes_only_what_it_names(
    org: Organization, admin: User, member: User, viewer: User, client_for: ClientFor
) -> None:
    parent = TeamFactory(organization=org)
    team = TeamFactory(
        organization=org, kind=TeamKind.STEERING_GROUP, parent=parent, lead=member, description="Keep me", slug="sg"
    )
    TeamMember.objects.create(organization=org, team=team, user=member)

    response = client_for(admin).patch(url(org, f"teams/{team.pk}/"), {"name": "Renamed", "members": [viewer.pk]})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "Renamed"
    assert body["members"] == [viewer.pk]
    assert (body["slug"], body["kind"], body["parent"], body["lead"], body["description"]) == (
        "sg",
        "steering_group",
        str(parent.pk),
        member.pk,
        "Keep me",
    )
    assert list(team.members.values_list("pk", flat=True)) == [viewer.pk]


def test_team_patch_can_clear_lead_and_parent(
    org: Organization, admin: User, member: User, client_for: ClientFor
) -> None:
    team = TeamFactory(organization=org, parent=TeamFactory(organization=org), lead=member)

    response = client_for(admin).patch(url(org, f"teams/{team.pk}/"), {"lead": None, "parent": None})

    assert response.status_code == 200, response.content
    team.refresh_from_db()
    assert (team.lead_id, team.parent_id) == (None, None)


def test_team_put_replaces_the_team(org: Organization, admin: User, member: User, client_for: ClientFor) -> None:
    team = TeamFactory(organization=org, kind=TeamKind.STEERING_GROUP, description="Old")

    response = client_for(admin).put(
        url(org, f"teams/{team.pk}/"),
        {"name": "New name", "slug": "new-slug", "kind": "team", "lead": member.pk, "description": "New"},
    )

    assert response.status_code == 200, response.content
    team.refresh_from_db()
    assert (team.name, team.slug, team.kind, team.lead_id, team.description) == (
        "New name",
        "new-slug",
        "team",
        member.pk,
        "New",
    )


def test_team_put_needs_a_name(org: Organization, admin: User, client_for: ClientFor) -> None:
    team = TeamFactory(organization=org)

    response = client_for(admin).put(url(org, f"teams/{team.pk}/"), {"description": "No name"})

    assert_error(response, 400)
    assert attrs(response) == {"name"}


def test_team_delete_with_children_is_a_conflict(org: Organization, admin: User, client_for: ClientFor) -> None:
    parent = TeamFactory(organization=org)
    TeamFactory(organization=org, parent=parent)

    response = client_for(admin).delete(url(org, f"teams/{parent.pk}/"))

    assert_error(response, 409, code="team_has_children")
    assert Team.objects.filter(pk=parent.pk).exists()


@pytest.mark.parametrize("factory", [GoalFactory, PillarFactory], ids=["goal", "pillar"])
def test_team_delete_with_goals_or_strategies_is_a_conflict(
    org: Organization, admin: User, client_for: ClientFor, factory: Any
) -> None:
    team = TeamFactory(organization=org)
    factory(organization=org, team=team)

    response = client_for(admin).delete(url(org, f"teams/{team.pk}/"))

    assert_error(response, 409, code="team_in_use")
    assert Team.objects.filter(pk=team.pk).exists()


def test_team_delete_of_a_leaf(org: Organization, admin: User, member: User, client_for: ClientFor) -> None:
    parent = TeamFactory(organization=org)
    leaf = TeamFactory(organization=org, parent=parent)
    TeamMember.objects.create(organization=org, team=leaf, user=member)
    client = client_for(admin)

    response = client.delete(url(org, f"teams/{leaf.pk}/"))

    assert response.status_code == 204
    assert not Team.objects.filter(pk=leaf.pk).exists()
    assert Team.objects.filter(pk=parent.pk).exists()
    assert Membership.objects.filter(organization=org, user=member).exists()
    assert client.get(url(org, f"teams/{leaf.pk}/")).status_code == 404


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_team_writes_need_admin(org: Organization, member_of: MemberOf, client_for: ClientFor, role: Role) -> None:
    team = TeamFactory(organization=org, name="Untouched")
    client = client_for(member_of(org, role))

    assert_error(client.post(url(org, "teams/"), {"name": "New"}), 403)
    assert_error(client.patch(url(org, f"teams/{team.pk}/"), {"name": "Changed"}), 403)
    assert_error(client.put(url(org, f"teams/{team.pk}/"), {"name": "Changed"}), 403)
    assert_error(client.delete(url(org, f"teams/{team.pk}/")), 403)
    assert list(Team.objects.filter(organization=org).values_list("name", flat=True)) == ["Untouched"]
    assert client.get(url(org, f"teams/{team.pk}/")).status_code == 200
