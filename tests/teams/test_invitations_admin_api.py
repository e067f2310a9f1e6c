"""Invitations over HTTP, the admin's side (`/orgs/{org}/invitations/`): create, list, revoke,
who may, and answers that never tell whether an account exists (contract: "Organizations and people")."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from alignment_service.access import Role, Scope
from alignment_service.outbox.models import OutboxMessage
from teams.models import Invitation, InvitationStatus, Membership, Organization, User
from tests.factories import UserFactory
from tests.teams.invitation_support import (
    ADMIN_KEYS,
    error_codes,
    invite,
    make_invitation,
    mine,
    url,
    without_ids_and_times,
)
from tests.teams.support import ClientFor, MemberOf

pytestmark = pytest.mark.django_db


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
