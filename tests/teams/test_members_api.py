"""Contract tests for an organization's members: the list, role changes, leaving and removal,
and the owners who must remain, as described in the spec's "Roles" and "Organizations and people"."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from alignment_service.access import Role
from teams.models import Membership, Organization, TeamMember, User
from tests.factories import GoalFactory, TeamFactory, UserFactory
from tests.teams.support import (
    MEMBER_KEYS,
    PAGE_KEYS,
    USER_KEYS,
    ClientFor,
    MemberOf,
    assert_error,
    attrs,
    membership,
    url,
)

pytestmark = pytest.mark.django_db


# --- Members ----------------------------------------------------------------------------------


def test_member_list_shape(org: Organization, owner: User, viewer: User, client_for: ClientFor) -> None:
    response = client_for(viewer).get(url(org, "members/"))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == PAGE_KEYS
    assert body["count"] == 2
    assert (body["next"], body["previous"]) == (None, None)
    for item in body["results"]:
        assert set(item) == MEMBER_KEYS
        assert set(item["user"]) == USER_KEYS
    assert {(item["user"]["username"], item["role"]) for item in body["results"]} == {
        (owner.username, "owner"),
        (viewer.username, "viewer"),
    }
    first = next(item for item in body["results"] if item["user"]["id"] == owner.pk)
    assert first == {
        "id": str(membership(org, owner).pk),
        "user": {"id": owner.pk, "username": owner.username, "email": owner.email},
        "role": "owner",
        "created_at": first["created_at"],
    }


def test_member_retrieve(org: Organization, member: User, viewer: User, client_for: ClientFor) -> None:
    response = client_for(viewer).get(url(org, f"members/{membership(org, member).pk}/"))

    assert response.status_code == 200
    assert response.json()["user"]["id"] == member.pk


def test_no_one_can_make_a_member_directly(org: Organization, owner: User, client_for: ClientFor) -> None:
    """People join by accepting an invitation; the members list takes no POST."""
    user = UserFactory()

    response = client_for(owner).post(url(org, "members/"), {"user": user.username, "role": "member"})

    assert_error(response, 405)
    assert user.email not in response.content.decode()
    assert not Membership.objects.filter(user=user).exists()


def test_member_role_change(org: Organization, admin: User, member: User, client_for: ClientFor) -> None:
    response = client_for(admin).patch(url(org, f"members/{membership(org, member).pk}/"), {"role": "viewer"})

    assert response.status_code == 200, response.content
    assert response.json()["role"] == "viewer"
    assert membership(org, member).role == Role.VIEWER


def test_member_role_change_refuses_a_bad_role(
    org: Organization, admin: User, member: User, client_for: ClientFor
) -> None:
    response = client_for(admin).patch(url(org, f"members/{membership(org, member).pk}/"), {"role": "god"})

    assert_error(response, 400)
    assert attrs(response) == {"role"}


def test_an_admin_cannot_touch_an_owner(org: Organization, owner: User, admin: User, client_for: ClientFor) -> None:
    client = client_for(admin)
    owner_url = url(org, f"members/{membership(org, owner).pk}/")

    assert_error(client.patch(owner_url, {"role": "member"}), 403)
    assert_error(client.delete(owner_url), 403)
    assert_error(client.patch(url(org, f"members/{membership(org, admin).pk}/"), {"role": "owner"}), 403)
    assert membership(org, owner).role == Role.OWNER
    assert membership(org, admin).role == Role.ADMIN


def test_the_last_owner_can_be_neither_demoted_nor_removed(
    org: Organization, owner: User, client_for: ClientFor
) -> None:
    client = client_for(owner)
    owner_url = url(org, f"members/{membership(org, owner).pk}/")

    demoted = client.patch(owner_url, {"role": "admin"})
    removed = client.delete(owner_url)

    assert_error(demoted, 409, code="last_owner")
    assert_error(removed, 409, code="last_owner")
    assert membership(org, owner).role == Role.OWNER


def test_one_of_two_owners_can_be_demoted_and_then_not_the_other(
    org: Organization, owner: User, member_of: MemberOf, client_for: ClientFor
) -> None:
    second = member_of(org, Role.OWNER)
    client = client_for(owner)

    response = client.patch(url(org, f"members/{membership(org, second).pk}/"), {"role": "admin"})

    assert response.status_code == 200, response.content
    assert membership(org, second).role == Role.ADMIN
    assert_error(client.patch(url(org, f"members/{membership(org, owner).pk}/"), {"role": "admin"}), 409)


def test_one_of_two_owners_can_leave(
    org: Organization, owner: User, member_of: MemberOf, client_for: ClientFor
) -> None:
    second = member_of(org, Role.OWNER)

    response = client_for(second).delete(url(org, f"members/{membership(org, second).pk}/"))

    assert response.status_code == 204
    assert not Membership.objects.filter(organization=org, user=second).exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER, Role.ADMIN])
def test_a_member_can_leave(
    org: Organization, owner: User, member_of: MemberOf, client_for: ClientFor, role: Role
) -> None:
    user = member_of(org, role)
    client = client_for(user)

    response = client.delete(url(org, f"members/{membership(org, user).pk}/"))

    assert response.status_code == 204
    assert not Membership.objects.filter(organization=org, user=user).exists()
    assert client.get(url(org)).status_code == 404


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_a_member_cannot_remove_others(
    org: Organization,
    member_of: MemberOf,
    client_for: ClientFor,
    role: Role,
) -> None:
    target = member_of(org, Role.MEMBER)

    response = client_for(member_of(org, role)).delete(url(org, f"members/{membership(org, target).pk}/"))

    assert_error(response, 403)
    assert Membership.objects.filter(organization=org, user=target).exists()


def test_removing_a_member_clears_their_team_roles_and_keeps_the_user(
    org: Organization, admin: User, member: User, client_for: ClientFor
) -> None:
    led = TeamFactory(organization=org, lead=member)
    joined = TeamFactory(organization=org)
    TeamMember.objects.create(organization=org, team=joined, user=member)
    TeamMember.objects.create(organization=org, team=joined, user=admin)

    response = client_for(admin).delete(url(org, f"members/{membership(org, member).pk}/"))

    assert response.status_code == 204
    led.refresh_from_db()
    assert led.lead is None
    assert list(TeamMember.objects.filter(team=joined).values_list("user_id", flat=True)) == [admin.pk]
    assert User.objects.filter(pk=member.pk).exists()
    assert not Membership.objects.filter(organization=org, user=member).exists()


def test_removing_a_member_leaves_no_goal_owned_by_a_non_member(
    org: Organization, admin: User, member: User, client_for: ClientFor
) -> None:
    goal = GoalFactory(organization=org, owner=member)

    response = client_for(admin).delete(url(org, f"members/{membership(org, member).pk}/"))

    assert response.status_code == 204
    goal.refresh_from_db()
    assert goal.owner_id is None or Membership.objects.filter(organization=org, user_id=goal.owner_id).exists()


def test_members_are_readable_with_a_read_key(
    org: Organization, member: User, key_client_for: Callable[..., APIClient]
) -> None:
    response = key_client_for(org).get(url(org, "members/"))

    assert response.status_code == 200
    assert [item["user"]["id"] for item in response.json()["results"]] == [member.pk]


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_members_cannot_be_changed_with_a_read_key(
    org: Organization, member: User, key_client_for: Callable[..., APIClient], method: str
) -> None:
    client = key_client_for(org)
    path = url(org, f"members/{membership(org, member).pk}/")

    response = getattr(client, method)(path, {"role": "viewer"})

    assert_error(response, 403)
    assert Membership.objects.filter(organization=org).count() == 1
