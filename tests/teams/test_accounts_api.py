"""Contract tests for accounts: signup, bearer tokens and `me`, as described in the spec's
"Accounts" and "Conventions". Throttling, request ids and 413 live in `tests/kernel/`."""

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone
from rest_framework.test import APIClient

from alignment_service.access import Role
from teams.models import AuthToken, Organization, User
from tests.conftest import bearer_client
from tests.factories import MembershipFactory, UserFactory
from tests.teams.support import PASSWORD, STRONG_PASSWORD, USER_KEYS, ClientFor, assert_error, attrs, parse_ts

pytestmark = pytest.mark.django_db


# --- Accounts: signup -------------------------------------------------------------------------


def test_signup_creates_a_user_and_never_echoes_the_password(api_client: APIClient) -> None:
    response = api_client.post(
        "/api/v1/auth/signup/", {"username": "ada", "email": "ada@example.com", "password": STRONG_PASSWORD}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == USER_KEYS
    assert body["username"] == "ada"
    assert body["email"] == "ada@example.com"
    assert STRONG_PASSWORD not in response.content.decode()
    user = User.objects.get(pk=body["id"])
    assert user.password != STRONG_PASSWORD
    assert user.check_password(STRONG_PASSWORD)


@pytest.mark.parametrize("password", ["123", "password", "12345678", "ada-example"])
def test_signup_refuses_a_weak_password(api_client: APIClient, password: str) -> None:
    response = api_client.post(
        "/api/v1/auth/signup/", {"username": "ada-example", "email": "ada@example.com", "password": password}
    )

    assert_error(response, 400)
    assert attrs(response) == {"password"}
    assert not User.objects.filter(username="ada-example").exists()


def test_signup_refuses_a_taken_username(api_client: APIClient) -> None:
    UserFactory(username="ada")

    response = api_client.post(
        "/api/v1/auth/signup/", {"username": "ada", "email": "other@example.com", "password": STRONG_PASSWORD}
    )

    assert_error(response, 400, attr="username")
    assert User.objects.filter(username="ada").count() == 1
    assert not User.objects.filter(email="other@example.com").exists()


def test_signup_refuses_an_email_taken_in_another_case(api_client: APIClient) -> None:
    UserFactory(username="ada", email="Ada@Example.com")

    response = api_client.post(
        "/api/v1/auth/signup/", {"username": "ada2", "email": "ada@example.COM", "password": STRONG_PASSWORD}
    )

    assert_error(response, 400)
    assert not User.objects.filter(username="ada2").exists()


def test_signup_names_email_as_the_attr_of_a_duplicate_email(api_client: APIClient) -> None:
    UserFactory(username="ada", email="ada@example.com")

    response = api_client.post(
        "/api/v1/auth/signup/", {"username": "ada2", "email": "ADA@example.com", "password": STRONG_PASSWORD}
    )

    assert_error(response, 400)
    assert attrs(response) == {"email"}


def test_signup_lists_every_problem_at_once(api_client: APIClient) -> None:
    UserFactory(username="ada")

    response = api_client.post("/api/v1/auth/signup/", {"username": "ada", "email": "x@example.com", "password": "1"})

    assert_error(response, 400)
    assert attrs(response) == {"username", "password"}


def test_signup_refuses_missing_fields_by_name(api_client: APIClient) -> None:
    response = api_client.post("/api/v1/auth/signup/", {})

    assert_error(response, 400)
    assert attrs(response) == {"username", "email", "password"}


def test_signup_can_be_disabled(api_client: APIClient, settings: Any) -> None:
    settings.SIGNUP_ENABLED = False
    before = User.objects.count()

    response = api_client.post(
        "/api/v1/auth/signup/", {"username": "ada", "email": "ada@example.com", "password": STRONG_PASSWORD}
    )

    assert_error(response, 403, code="signup_disabled")
    assert User.objects.count() == before


# --- Accounts: tokens -------------------------------------------------------------------------


@pytest.mark.parametrize("identifier", ["username", "email", "email in another case"])
def test_token_create_with_username_or_email(api_client: APIClient, identifier: str) -> None:
    user = UserFactory(username="grace", email="grace@example.com")
    login = {"username": "grace", "email": "grace@example.com", "email in another case": "Grace@EXAMPLE.com"}

    response = api_client.post("/api/v1/auth/token/", {"username": login[identifier], "password": PASSWORD})

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    expires_at = parse_ts(body["expires_at"])
    ttl = timedelta(hours=django_settings.AUTH_TOKEN_TTL_HOURS)
    assert abs(expires_at - (timezone.now() + ttl)) < timedelta(minutes=1)
    assert AuthToken.objects.filter(user=user).count() == 1


@pytest.mark.parametrize(
    ("username", "password", "attr", "code"),
    [
        ("grace", "wrong password", "non_field_errors", "invalid_credentials"),
        ("grace@example.com", "wrong password", "non_field_errors", "invalid_credentials"),
        ("nobody", PASSWORD, "non_field_errors", "invalid_credentials"),
        ("nobody@example.com", PASSWORD, "non_field_errors", "invalid_credentials"),
        ("", PASSWORD, "username", "blank"),
    ],
)
def test_token_create_refuses_bad_credentials(
    api_client: APIClient, username: str, password: str, attr: str, code: str
) -> None:
    UserFactory(username="grace", email="grace@example.com")

    response = api_client.post("/api/v1/auth/token/", {"username": username, "password": password})

    body = assert_error(response, 400)
    assert [(error["attr"], error["code"]) for error in body["errors"]] == [(attr, code)]
    assert not AuthToken.objects.exists()


def test_token_create_refuses_an_inactive_user(api_client: APIClient) -> None:
    UserFactory(username="grace", is_active=False)

    response = api_client.post("/api/v1/auth/token/", {"username": "grace", "password": PASSWORD})

    assert_error(response, 400, code="invalid_credentials")
    assert not AuthToken.objects.exists()


def test_token_authenticates_me(api_client: APIClient, org: Organization, other_org: Organization) -> None:
    user = UserFactory(username="grace", email="grace@example.com")
    MembershipFactory(organization=org, user=user, role=Role.ADMIN)
    MembershipFactory(organization=other_org, user=user, role=Role.VIEWER)
    token = api_client.post("/api/v1/auth/token/", {"username": "grace", "password": PASSWORD}).json()["token"]

    response = bearer_client(token).get("/api/v1/me/")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": user.pk,
        "username": "grace",
        "email": "grace@example.com",
        "memberships": sorted(
            [{"org": org.slug, "role": "admin"}, {"org": other_org.slug, "role": "viewer"}], key=lambda m: m["org"]
        ),
    }


def test_token_is_stored_hashed(api_client: APIClient) -> None:
    UserFactory(username="grace")

    secret = api_client.post("/api/v1/auth/token/", {"username": "grace", "password": PASSWORD}).json()["token"]

    token = AuthToken.objects.get()
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.key_hash != secret
    assert not AuthToken.objects.filter(key_hash=secret).exists()
    assert secret not in {token.key_hash, token.prefix}
    assert secret.startswith(token.prefix)


def test_token_delete_revokes_only_that_token(member: User, client_for: ClientFor) -> None:
    client, other_client = client_for(member), client_for(member)

    response = client.delete("/api/v1/auth/token/")

    assert response.status_code == 204
    assert AuthToken.objects.filter(user=member).count() == 1
    refused = client.get("/api/v1/me/")
    assert_error(refused, 401, code="authentication_failed")
    assert refused["WWW-Authenticate"] == "Bearer"
    assert other_client.get("/api/v1/me/").status_code == 200


def test_token_delete_needs_a_token(api_client: APIClient) -> None:
    response = api_client.delete("/api/v1/auth/token/")

    assert_error(response, 401)
    assert response["WWW-Authenticate"] == "Bearer"


def test_an_expired_token_is_refused(member: User, client_for: ClientFor) -> None:
    client = client_for(member)
    assert client.get("/api/v1/me/").status_code == 200

    with time_machine.travel(timezone.now() + timedelta(hours=django_settings.AUTH_TOKEN_TTL_HOURS, seconds=1)):
        response = client.get("/api/v1/me/")

    assert_error(response, 401, code="authentication_failed")
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_token_of_a_deactivated_user_is_refused(member: User, client_for: ClientFor) -> None:
    client = client_for(member)
    User.objects.filter(pk=member.pk).update(is_active=False)

    response = client.get("/api/v1/me/")

    assert_error(response, 401)
    assert response["WWW-Authenticate"] == "Bearer"


def test_an_expired_token_is_refused_under_the_org_too(org: Organization, member: User, client_for: ClientFor) -> None:
    client = client_for(member)
    with time_machine.travel(timezone.now() + timedelta(hours=django_settings.AUTH_TOKEN_TTL_HOURS, seconds=1)):
        response = client.get(f"/api/v1/orgs/{org.slug}/")

    assert_error(response, 401, code="authentication_failed")


def test_a_deactivated_member_is_refused_under_the_org(org: Organization, member: User, client_for: ClientFor) -> None:
    client = client_for(member)
    User.objects.filter(pk=member.pk).update(is_active=False)

    assert_error(client.get(f"/api/v1/orgs/{org.slug}/"), 401)


def test_the_token_and_the_membership_are_one_query(
    org: Organization, member: User, client_for: ClientFor, django_assert_num_queries: Any
) -> None:
    client = client_for(member)
    with django_assert_num_queries(1):
        response = client.get(f"/api/v1/orgs/{org.slug.upper()}/")

    assert response.status_code == 200
    assert response.json()["slug"] == org.slug


def test_an_outsider_token_costs_two_queries_and_gets_404(
    org: Organization, other_org: Organization, client_for: ClientFor, django_assert_num_queries: Any
) -> None:
    outsider = MembershipFactory(organization=other_org).user
    client = client_for(outsider)
    with django_assert_num_queries(2):  # no membership with the token: the token alone, then 404
        response = client.get(f"/api/v1/orgs/{org.slug}/")

    assert_error(response, 404)


def test_an_unknown_token_under_the_org_is_401(org: Organization) -> None:
    response = bearer_client("not-a-token").get(f"/api/v1/orgs/{org.slug}/")

    assert_error(response, 401, code="authentication_failed")


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "not_authenticated"),
        ("Bearer", "authentication_failed"),
        ("Bearer not-a-token", "authentication_failed"),
        ("Bearer alk_not-a-key", "authentication_failed"),
        ("Bearer alt_not-a-token", "authentication_failed"),
        ("Bearer two parts", "authentication_failed"),
        ("Basic Z3JhY2U6cGFzc3dvcmQ=", "not_authenticated"),
    ],
)
def test_missing_or_garbage_credentials_answer_401(header: str | None, code: str) -> None:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/me/")

    body = assert_error(response, 401)
    assert body == {
        "type": "client_error",
        "errors": [{"code": code, "detail": body["errors"][0]["detail"], "attr": None}],
    }
    assert response["WWW-Authenticate"] == "Bearer"


def test_me_refuses_an_api_key(org: Organization, key_client_for: Callable[..., APIClient]) -> None:
    assert_error(key_client_for(org).get("/api/v1/me/"), 403)
