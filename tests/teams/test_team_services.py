"""The team services against the database: derived slugs, members, moves without cycles and
deletes."""

import pytest

from alignment_service.errors import Conflict, ValidationFailed
from teams import services
from teams.models import Membership, Organization, Team, TeamKind, TeamMember, User
from tests.factories import TeamFactory
from tests.teams.support import access_of

pytestmark = pytest.mark.django_db


# --- Teams ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "slugs"),
    [
        (["Platform", "Platform", "Platform"], ["platform", "platform-2", "platform-3"]),
        (["Data & ML", "data ml"], ["data-ml", "data-ml-2"]),
        (["!!!", "???"], ["team", "team-2"]),
        (["x" * 80], ["x" * 50]),
    ],
)
def test_team_create_derives_a_free_slug(org: Organization, admin: User, names: list[str], slugs: list[str]) -> None:
    created = [services.team_create(access=access_of(org, admin), name=name) for name in names]

    assert [team.slug for team in created] == slugs
    assert all(team.kind == TeamKind.TEAM for team in created)


def test_team_slugs_are_derived_per_org(org: Organization, other_org: Organization, admin: User) -> None:
    TeamFactory(organization=other_org, slug="platform")

    team = services.team_create(access=access_of(org, admin), name="Platform")

    assert team.slug == "platform"


def test_team_create_refuses_a_taken_slug(org: Organization, admin: User) -> None:
    TeamFactory(organization=org, slug="core")

    with pytest.raises(ValidationFailed) as raised:
        services.team_create(access=access_of(org, admin), name="Core", slug="core")

    assert (raised.value.code, raised.value.attr) == ("unique", "slug")
    assert Team.objects.filter(organization=org).count() == 1


def test_team_create_sets_members(org: Organization, admin: User, member: User, viewer: User) -> None:
    team = services.team_create(
        access=access_of(org, admin),
        name="Core",
        kind=TeamKind.STEERING_GROUP,
        lead=member,
        members=[member, viewer],
    )

    team.refresh_from_db()
    assert (team.organization_id, team.kind, team.lead_id) == (org.pk, TeamKind.STEERING_GROUP, member.pk)
    assert set(TeamMember.objects.filter(team=team).values_list("organization_id", "user_id")) == {
        (org.pk, member.pk),
        (org.pk, viewer.pk),
    }


@pytest.mark.parametrize("depth", [0, 1, 4])
def test_team_update_refuses_a_cycle(org: Organization, admin: User, depth: int) -> None:
    top = TeamFactory(organization=org)
    bottom = top
    for _ in range(depth):
        bottom = TeamFactory(organization=org, parent=bottom)

    with pytest.raises(ValidationFailed) as raised:
        services.team_update(access=access_of(org, admin), team=top, parent=bottom)

    assert (raised.value.code, raised.value.attr) == ("cycle", "parent")
    top.refresh_from_db()
    assert top.parent_id is None


def test_team_update_moves_a_subtree(org: Organization, admin: User) -> None:
    a, b = TeamFactory(organization=org), TeamFactory(organization=org)
    child = TeamFactory(organization=org, parent=a)

    services.team_update(access=access_of(org, admin), team=a, parent=b)

    a.refresh_from_db()
    assert a.parent_id == b.pk
    assert Team.objects.get(pk=child.pk).parent_id == a.pk


def test_team_update_replaces_members_only_when_given(
    org: Organization, admin: User, member: User, viewer: User
) -> None:
    team = TeamFactory(organization=org)
    TeamMember.objects.create(organization=org, team=team, user=member)

    services.team_update(access=access_of(org, admin), team=team, name="Renamed")
    assert list(team.members.values_list("pk", flat=True)) == [member.pk]

    services.team_update(access=access_of(org, admin), team=team, members=[viewer, admin])
    assert set(team.members.values_list("pk", flat=True)) == {viewer.pk, admin.pk}

    services.team_update(access=access_of(org, admin), team=team, members=[])
    assert not team.members.exists()


def test_team_update_refuses_a_taken_slug_but_keeps_its_own(org: Organization, admin: User) -> None:
    TeamFactory(organization=org, slug="core")
    team = TeamFactory(organization=org, slug="edge")

    services.team_update(access=access_of(org, admin), team=team, slug="edge", name="Edge")
    with pytest.raises(ValidationFailed):
        services.team_update(access=access_of(org, admin), team=team, slug="core")

    team.refresh_from_db()
    assert (team.slug, team.name) == ("edge", "Edge")


def test_team_update_cannot_reach_another_org(org: Organization, other_org: Organization, admin: User) -> None:
    foreign = TeamFactory(organization=other_org, name="Theirs")

    with pytest.raises(Team.DoesNotExist):
        services.team_update(access=access_of(org, admin), team=foreign, name="Mine")

    foreign.refresh_from_db()
    assert foreign.name == "Theirs"


def test_team_delete_refuses_a_team_with_children(org: Organization, admin: User) -> None:
    parent = TeamFactory(organization=org)
    TeamFactory(organization=org, parent=parent)

    with pytest.raises(Conflict) as raised:
        services.team_delete(access=access_of(org, admin), team=parent)

    assert raised.value.code == "team_has_children"
    assert Team.objects.filter(pk=parent.pk).exists()


def test_team_delete_of_a_leaf_drops_its_memberships(org: Organization, admin: User, member: User) -> None:
    parent = TeamFactory(organization=org)
    leaf = TeamFactory(organization=org, parent=parent, lead=member)
    TeamMember.objects.create(organization=org, team=leaf, user=member)

    services.team_delete(access=access_of(org, admin), team=leaf)

    assert list(Team.objects.values_list("pk", flat=True)) == [parent.pk]
    assert not TeamMember.objects.exists()
    assert Membership.objects.filter(organization=org, user=member).exists()
