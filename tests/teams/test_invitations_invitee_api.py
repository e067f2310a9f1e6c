"""Invitations over HTTP, the invitee's side (`/invitations/`): seeing, accepting and declining
one's own; and no enumeration of accounts elsewhere either (sign-in, signup, user ids)."""

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from alignment_service.access import Role
from alignment_service.activity.models import Activity
from alignment_service.outbox.models import OutboxMessage
from teams.models import Invitation, InvitationStatus, Membership, Organization, User
from tests.factories import MembershipFactory, UserFactory
from tests.teams.invitation_support import INVITEE_KEYS, error_codes, invite, make_invitation, mine, url
from tests.teams.support import ClientFor

pytestmark = pytest.mark.django_db


# --- The invitee's side -----------------------------------------------------------------------


def test_the_invitee_sees_invitations_by_username_and_by_email_in_any_case(
    org: Organization, other_org: Organization, owner: User, client_for: ClientFor
) -> None:
    ada = UserFactory(username="ada", email="ada@example.com")
    other_owner = MembershipFactory(organization=other_org, role=Role.OWNER).user
    by_name = make_invitation(org, owner, username="ada", role=Role.VIEWER)
    by_email = make_invitation(other_org, other_owner, email="ADA@Example.COM", role=Role.ADMIN)
    make_invitation(org, owner, email="someone-else@example.com", role=Role.MEMBER)
    make_invitation(org, owner, username="ada-lovelace", role=Role.MEMBER)

    response = client_for(ada).get(mine())

    assert response.status_code == 200
    results = response.json()["results"]
    assert [item["id"] for item in results] == [str(by_email.pk), str(by_name.pk)]
    assert all(set(item) == INVITEE_KEYS for item in results)
    assert results[0]["org"] == {"slug": other_org.slug, "name": other_org.name}
    assert (results[0]["role"], results[0]["status"]) == ("admin", "pending")
    text = response.content.decode()
    for person in (owner, other_owner):
        assert person.username not in text
        assert person.email not in text


def test_someone_elses_invitation_is_404(org: Organization, owner: User, client_for: ClientFor) -> None:
    invitation = make_invitation(org, owner, email="ada@example.com", role=Role.MEMBER)
    eve = client_for(UserFactory(email="eve@example.com"))

    for path in (f"{invitation.pk}/", f"{invitation.pk}/accept/", f"{invitation.pk}/decline/"):
        response = eve.get(mine(path)) if path.count("/") == 1 else eve.post(mine(path))
        assert response.status_code == 404, path
        assert error_codes(response) == [(None, "not_found")]
    assert eve.get(mine()).json()["count"] == 0
    assert eve.post(mine("not-a-uuid/accept/")).status_code == 404
    assert Invitation.objects.get().status == InvitationStatus.PENDING


def test_accepting_makes_the_membership(
    org: Organization, owner: User, client_for: ClientFor, django_capture_on_commit_callbacks: Any
) -> None:
    ada = UserFactory(username="ada")
    invitation = make_invitation(org, owner, username="ada", role=Role.ADMIN)
    client = client_for(ada)

    with django_capture_on_commit_callbacks():
        response = client.post(mine(f"{invitation.pk}/accept/"))

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    assert Membership.objects.get(organization=org, user=ada).role == Role.ADMIN
    assert {"org": org.slug, "role": "admin"} in client.get("/api/v1/me/").json()["memberships"]
    assert client.get(f"/api/v1/orgs/{org.slug}/").status_code == 200
    entry = Activity.objects.filter(organization=org).latest("id")
    assert (entry.verb, entry.actor_user_id, entry.data["invitation"]) == ("member.added", ada.pk, str(invitation.pk))
    assert OutboxMessage.objects.filter(task_name="teams.send_welcome_email").count() == 1
    assert client_for(owner).get(url(org, f"{invitation.pk}/")).json()["status"] == "accepted"
    again = client.post(mine(f"{invitation.pk}/accept/"))
    assert again.status_code == 409
    assert error_codes(again) == [(None, "invitation_not_pending")]
    assert client.get(mine()).json()["count"] == 0


def test_accepting_an_owner_invitation_makes_an_owner(org: Organization, owner: User, client_for: ClientFor) -> None:
    ada = UserFactory(email="ada@example.com")
    invitation = make_invitation(org, owner, email="ada@example.com", role=Role.OWNER)

    assert client_for(ada).post(mine(f"{invitation.pk}/accept/")).status_code == 200
    assert Membership.objects.get(organization=org, user=ada).role == Role.OWNER


def test_declining_makes_no_membership_and_names_no_one(org: Organization, owner: User, client_for: ClientFor) -> None:
    ada = UserFactory(email="ada@example.com")
    invitation = make_invitation(org, owner, email="ada@example.com", role=Role.MEMBER)
    client = client_for(ada)

    response = client.post(mine(f"{invitation.pk}/decline/"))

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "declined"
    assert not Membership.objects.filter(user=ada).exists()
    assert client_for(owner).get(url(org, f"{invitation.pk}/")).json()["status"] == "declined"
    entry = Activity.objects.filter(organization=org).latest("id")
    assert (entry.verb, entry.actor_user_id) == ("invitation.declined", None)
    assert client.post(mine(f"{invitation.pk}/accept/")).status_code == 409
    assert client.get(mine()).json()["count"] == 0


def test_an_expired_invitation_cannot_be_answered(org: Organization, owner: User, client_for: ClientFor) -> None:
    ada = UserFactory(email="ada@example.com")
    invitation = make_invitation(org, owner, email="ada@example.com", role=Role.MEMBER)
    later = timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS, seconds=1)

    with time_machine.travel(later):
        client = client_for(ada)
        listed = client.get(mine())
        accepted = client.post(mine(f"{invitation.pk}/accept/"))
        declined = client.post(mine(f"{invitation.pk}/decline/"))
        shown = client.get(mine(f"{invitation.pk}/"))

    assert listed.json()["count"] == 0
    assert accepted.status_code == declined.status_code == 409
    assert error_codes(accepted) == error_codes(declined) == [(None, "invitation_expired")]
    assert shown.json()["status"] == "expired"
    assert not Membership.objects.filter(user=ada).exists()


def test_a_member_invited_again_learns_it_and_the_admin_learns_nothing(
    org: Organization, owner: User, member: User, client_for: ClientFor
) -> None:
    response = invite(client_for(owner), org, user=member.username, role="admin")
    invitation_id = response.json()["id"]

    accepted = client_for(member).post(mine(f"{invitation_id}/accept/"))

    assert response.status_code == 201
    assert accepted.status_code == 409
    assert error_codes(accepted) == [(None, "already_member")]
    assert Membership.objects.get(organization=org, user=member).role == Role.MEMBER


def test_an_email_address_changed_away_takes_its_invitations_along(
    org: Organization, owner: User, client_for: ClientFor
) -> None:
    ada = UserFactory(email="ada@example.com")
    invitation = make_invitation(org, owner, email="ada@example.com", role=Role.MEMBER)
    User.objects.filter(pk=ada.pk).update(email="ada@elsewhere.example")

    assert client_for(ada).post(mine(f"{invitation.pk}/accept/")).status_code == 404


@pytest.mark.parametrize("size", [3, 30])
def test_the_invitee_list_query_count(
    owner: User, client_for: ClientFor, django_assert_num_queries: Any, size: int
) -> None:
    ada = UserFactory(email="ada@example.com")
    for _ in range(size):
        org = MembershipFactory(user=owner, role=Role.OWNER).organization
        make_invitation(org, owner, email="ada@example.com", role=Role.MEMBER)
    client = client_for(ada)

    with django_assert_num_queries(3):  # token, COUNT, page with organizations
        response = client.get(mine())

    assert len(response.json()["results"]) == size


# --- No enumeration elsewhere -----------------------------------------------------------------


def test_sign_in_errors_are_the_same_for_unknown_and_known_accounts(api_client: APIClient) -> None:
    UserFactory(username="grace", email="grace@example.com")
    UserFactory(username="inactive", is_active=False)
    attempts = [
        {"username": "grace", "password": "wrong-password"},
        {"username": "nobody", "password": "wrong-password"},
        {"username": "grace@example.com", "password": "wrong-password"},
        {"username": "nobody@example.com", "password": "wrong-password"},
        {"username": "inactive", "password": "correct-horse-battery"},
    ]

    bodies = {api_client.post("/api/v1/auth/token/", body, format="json").content for body in attempts}

    assert len(bodies) == 1
    assert json.loads(bodies.pop())["errors"][0]["code"] == "invalid_credentials"


def test_signup_with_a_taken_email_names_no_account(api_client: APIClient) -> None:
    UserFactory(username="grace-hopper", email="grace@example.com")

    response = api_client.post(
        "/api/v1/auth/signup/",
        {"username": "newcomer", "email": "GRACE@example.com", "password": "a-very-long-passphrase-77"},
        format="json",
    )

    assert response.status_code == 400
    assert error_codes(response) == [("email", "unique")]
    assert "grace-hopper" not in response.content.decode()
    assert "grace@example.com" not in response.content.decode()


def _user_field_cases(org: Organization) -> list[tuple[str, str, Callable[[int], dict[str, Any]]]]:
    from tests.factories import GoalFactory, TeamFactory

    team = TeamFactory(organization=org)
    goal = GoalFactory(organization=org, team=team)
    teams = f"/api/v1/orgs/{org.slug}/teams/"
    return [
        ("patch", f"{teams}{team.pk}/", lambda pk: {"lead": pk}),
        ("patch", f"{teams}{team.pk}/", lambda pk: {"members": [pk]}),
        ("post", teams, lambda pk: {"name": "New", "lead": pk}),
        ("patch", f"/api/v1/orgs/{org.slug}/goals/{goal.pk}/", lambda pk: {"owner": pk}),
    ]


def test_a_user_id_outside_the_org_is_answered_like_a_missing_one(
    org: Organization, other_org: Organization, admin: User, outsider: User, client_for: ClientFor
) -> None:
    client = client_for(admin)
    missing = User.objects.order_by("-pk").first().pk + 1000  # type: ignore[union-attr]

    for method, path, body in _user_field_cases(org):
        answers = []
        for pk in (outsider.pk, missing):
            response = getattr(client, method)(path, body(pk), format="json")
            assert response.status_code == 400, response.content
            answers.append(response.content.decode().replace(str(pk), "<id>"))
        assert answers[0] == answers[1], (path, answers)


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_invitee_side_needs_credentials(org: Organization, owner: User, api_client: APIClient, method: str) -> None:
    invitation = make_invitation(org, owner, email="ada@example.com", role=Role.MEMBER)
    path = mine() if method == "get" else mine(f"{invitation.pk}/accept/")

    response = getattr(api_client, method)(path)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
