"""Invitations over HTTP: the admin's side (`/orgs/{org}/invitations/`), the invitee's side
(`/invitations/`), and what neither side may learn (contract: "Organizations and people").

No answer tells an admin whether an account exists for a username or address, or whether it
is a member already: the bodies are compared byte for byte, ids and timestamps aside.
"""

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from alignment_service.access import Access, Role, Scope
from alignment_service.activity.models import Activity
from alignment_service.outbox.models import OutboxMessage
from teams import services
from teams.models import Invitation, InvitationStatus, Membership, Organization, User
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], APIClient]
MemberOf = Callable[..., User]

ADMIN_KEYS = {"id", "email", "user", "role", "status", "expires_at", "invited_by", "created_at"}
INVITEE_KEYS = {"id", "org", "role", "status", "expires_at", "created_at"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)")


def url(org: Organization, path: str = "") -> str:
    return f"/api/v1/orgs/{org.slug}/invitations/{path}"


def mine(path: str = "") -> str:
    return f"/api/v1/invitations/{path}"


def invite(client: APIClient, org: Organization, **body: Any) -> Any:
    return client.post(url(org), body, format="json")


def error_codes(response: Any) -> list[tuple[str | None, str]]:
    return [(error["attr"], error["code"]) for error in response.json()["errors"]]


def without_ids_and_times(response: Any) -> str:
    return TIMESTAMP.sub("<ts>", UUID.sub("<id>", response.content.decode()))


def make_invitation(org: Organization, by: User, **fields: Any) -> Invitation:
    return services.invitation_create(access=Access(org=org, user=by, role=Role.OWNER), **fields)


# --- The admin's side -------------------------------------------------------------------------


def test_an_email_invitation_answers_what_was_given(org: Organization, admin: User, client_for: ClientFor) -> None:
    response = invite(client_for(admin), org, email="Ada@Example.com", role="member")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == ADMIN_KEYS
    assert (body["email"], body["user"], body["role"], body["status"]) == ("Ada@Example.com", None, "member", "pending")
    assert body["invited_by"] == admin.pk
    expected_expiry = timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS)
    assert abs(datetime.fromisoformat(body["expires_at"]) - expected_expiry) < timedelta(minutes=1)
    assert not Membership.objects.filter(organization=org).exclude(user=admin).exists()


@pytest.mark.parametrize("field", ["email", "user"])
def test_the_answer_is_the_same_whether_or_not_an_account_exists(
    org: Organization, admin: User, member_of: MemberOf, client_for: ClientFor, field: str
) -> None:
    """Existing account, unknown name, inactive account and existing member: identical bodies,
    identical owed work, and nothing of the account in the answer."""
    targets = {
        "existing": UserFactory(username="hopper", email="grace@example.com"),
        "unknown": None,
        "inactive": UserFactory(username="retired", email="old-address@example.com", is_active=False),
        "member": member_of(org, Role.MEMBER, username="linus", email="torvalds@example.com"),
    }
    client = client_for(admin)
    answers, owed = {}, {}
    for name, user in targets.items():
        given = (
            (user.email if field == "email" else user.username)
            if user
            else ("nobody@example.com", "nobody")[field == "user"]
        )
        before = OutboxMessage.objects.count()
        response = invite(client, org, **{field: given}, role="viewer")
        assert response.status_code == 201, response.content
        answers[name] = without_ids_and_times(response).replace(given, "<given>")
        owed[name] = OutboxMessage.objects.count() - before
        if user is not None:
            text = response.content.decode()
            other = user.username if field == "email" else user.email
            assert other not in text
            assert f'"id":{user.pk}' not in text
            assert f'"invited_by":{user.pk}' not in text

    assert len(set(answers.values())) == 1, answers
    assert set(owed.values()) == {1}


def test_an_invitation_needs_an_email_or_a_user(
    org: Organization, admin: User, client_for: ClientFor, count_rows: Any
) -> None:
    client = client_for(admin)
    before = count_rows()

    response = invite(client, org, role="member")

    assert response.status_code == 400
    assert error_codes(response) == [("email", "email_or_user_required")]
    assert "user" in response.json()["errors"][0]["detail"]
    assert count_rows() == before


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"email": "not-an-address", "role": "member"}, [("email", "invalid")]),
        ({"user": "ada", "role": "emperor"}, [("role", "invalid_choice")]),
        ({"user": "ada"}, [("role", "required")]),
        ({"user": "x" * 151, "email": "a@", "role": "member"}, [("email", "invalid"), ("user", "max_length")]),
        ({"email": "", "user": "", "role": "member"}, [("email", "blank"), ("user", "blank")]),
    ],
)
def test_bad_input_names_every_problem(
    org: Organization, admin: User, client_for: ClientFor, body: dict[str, Any], expected: list[Any]
) -> None:
    response = invite(client_for(admin), org, **body)

    assert response.status_code == 400, response.content
    assert sorted(error_codes(response)) == sorted(expected)
    assert not Invitation.objects.exists()


def test_only_an_owner_may_invite_an_owner(org: Organization, owner: User, admin: User, client_for: ClientFor) -> None:
    refused = invite(client_for(admin), org, email="boss@example.com", role="owner")
    granted = invite(client_for(owner), org, email="boss@example.com", role="owner")

    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "permission_denied"
    assert granted.status_code == 201, granted.content
    assert Invitation.objects.get().role == Role.OWNER


def test_a_second_pending_invitation_for_the_same_name_is_refused(
    org: Organization, admin: User, client_for: ClientFor
) -> None:
    client = client_for(admin)
    invite(client, org, email="ada@example.com", role="member")
    invite(client, org, user="nobody", role="member")

    by_email = invite(client, org, email="ADA@example.com", role="admin")
    by_user = invite(client, org, user="nobody", role="viewer")

    assert by_email.status_code == by_user.status_code == 409
    assert error_codes(by_email) == error_codes(by_user) == [(None, "already_invited")]
    assert Invitation.objects.count() == 2


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_invitations_are_for_admins(
    org: Organization, owner: User, member_of: MemberOf, client_for: ClientFor, role: Role
) -> None:
    invitation = make_invitation(org, owner, email="ada@example.com", role=Role.MEMBER)
    client = client_for(member_of(org, role))

    assert client.get(url(org)).status_code == 403
    assert client.get(url(org, f"{invitation.pk}/")).status_code == 403
    assert invite(client, org, email="x@example.com", role="viewer").status_code == 403
    assert client.delete(url(org, f"{invitation.pk}/")).status_code == 403
    assert Invitation.objects.get().status == InvitationStatus.PENDING


def test_no_api_key_reads_or_makes_invitations(org: Organization, owner: User, key_client_for: Any) -> None:
    invitation = make_invitation(org, owner, email="ada@example.com", role=Role.MEMBER)
    client = key_client_for(org, scopes=tuple(Scope.values))

    assert client.get(url(org)).status_code == 403
    assert client.get(url(org, f"{invitation.pk}/")).status_code == 403
    assert invite(client, org, email="x@example.com", role="viewer").status_code == 403
    assert client.get(mine()).status_code == 403


def test_another_orgs_admin_gets_404(
    org: Organization, other_org: Organization, owner: User, outsider: User, client_for: ClientFor
) -> None:
    invitation = make_invitation(org, owner, email="ada@example.com", role=Role.MEMBER)
    client = client_for(outsider)

    assert client.get(url(org, f"{invitation.pk}/")).status_code == 404
    assert client.get(url(other_org, f"{invitation.pk}/")).status_code == 404
    assert client.delete(url(other_org, f"{invitation.pk}/")).status_code == 404
    assert client.get(url(other_org)).json()["count"] == 0
    assert Invitation.objects.get().status == InvitationStatus.PENDING


def test_the_list_filters_by_status_and_orders(org: Organization, owner: User, client_for: ClientFor) -> None:
    client = client_for(owner)
    pending = make_invitation(org, owner, email="p@example.com", role=Role.MEMBER)
    revoked = make_invitation(org, owner, email="r@example.com", role=Role.MEMBER)
    expired = make_invitation(org, owner, email="e@example.com", role=Role.ADMIN)
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    client.delete(url(org, f"{revoked.pk}/"))

    def listed(query: str) -> list[str]:
        return [item["id"] for item in client.get(url(org) + query).json()["results"]]

    assert listed("?status=pending") == [str(pending.pk)]
    assert listed("?status=expired") == [str(expired.pk)]
    assert listed("?status=revoked") == [str(revoked.pk)]
    assert listed("") == [str(expired.pk), str(revoked.pk), str(pending.pk)]
    assert listed("?ordering=created_at") == [str(pending.pk), str(revoked.pk), str(expired.pk)]
    statuses = {item["id"]: item["status"] for item in client.get(url(org)).json()["results"]}
    assert statuses == {str(pending.pk): "pending", str(revoked.pk): "revoked", str(expired.pk): "expired"}
    assert client.get(url(org) + "?status=nonsense").status_code == 400


def test_revoking_withdraws_it_from_the_invitee(
    org: Organization, owner: User, client_for: ClientFor, count_rows: Any
) -> None:
    ada = UserFactory(email="ada@example.com")
    invitation = make_invitation(org, owner, email="ada@example.com", role=Role.MEMBER)
    admin_client, ada_client = client_for(owner), client_for(ada)

    response = admin_client.delete(url(org, f"{invitation.pk}/"))

    assert response.status_code == 204
    assert admin_client.get(url(org, f"{invitation.pk}/")).json()["status"] == "revoked"
    assert ada_client.get(mine()).json()["count"] == 0
    assert ada_client.post(mine(f"{invitation.pk}/accept/")).status_code == 404
    assert not Membership.objects.filter(user=ada).exists()
    before = count_rows()
    assert admin_client.delete(url(org, f"{invitation.pk}/")).status_code == 204
    assert count_rows() == before, "revoking twice changes nothing"


def test_an_answered_invitation_cannot_be_revoked(org: Organization, owner: User, client_for: ClientFor) -> None:
    ada = UserFactory()
    invitation = make_invitation(org, owner, username=ada.username, role=Role.MEMBER)
    client_for(ada).post(mine(f"{invitation.pk}/accept/"))

    response = client_for(owner).delete(url(org, f"{invitation.pk}/"))

    assert response.status_code == 409
    assert error_codes(response) == [(None, "invitation_not_pending")]
    assert Membership.objects.filter(organization=org, user=ada).exists()


@pytest.mark.parametrize("size", [3, 30])
def test_the_admin_list_query_count(
    org: Organization, owner: User, client_for: ClientFor, django_assert_num_queries: Any, size: int
) -> None:
    for n in range(size):
        make_invitation(org, owner, email=f"person{n}@example.com", role=Role.MEMBER)
    client = client_for(owner)

    with django_assert_num_queries(3):  # token with membership, COUNT, page
        response = client.get(url(org))

    assert len(response.json()["results"]) == size


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
