"""Contract tests for the teams app's HTTP API: status, shape and error body.

Accounts, organizations, members, teams and API keys, as described in the spec's
"Conventions", "Roles", "Accounts" and "Organizations and people". Cross-organization 404s,
the role matrix over every route, throttling, request ids and 413 live in `tests/kernel/`.
"""

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone
from rest_framework.test import APIClient

from alignment_service.access import Role, Scope
from teams import services
from teams.models import ApiKey, AuthToken, Membership, Organization, Team, TeamKind, TeamMember, User
from tests.conftest import bearer_client
from tests.factories import GoalFactory, MembershipFactory, OrganizationFactory, PillarFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], APIClient]
MemberOf = Callable[..., User]

PASSWORD = "correct-horse-battery"  # what UserFactory sets
STRONG_PASSWORD = "a-very-long-passphrase-77"

USER_KEYS = {"id", "username", "email"}
MEMBER_KEYS = {"id", "user", "role", "created_at"}
TEAM_KEYS = {"id", "name", "slug", "kind", "parent", "lead", "members", "description", "created_at", "updated_at"}
ORG_KEYS = {"id", "name", "slug", "timezone", "settings", "created_at"}
API_KEY_KEYS = {"id", "name", "scopes", "prefix", "created_at", "last_used_at", "expires_at"}
PAGE_KEYS = {"count", "next", "previous", "results"}

SETTINGS_DEFAULTS = {
    "checkin_interval_days": 7,
    "score_threshold": 60,
    "score_drop_alert": 15,
    "low_confidence": 3,
    "intervention_days": 21,
    "drift_days": 14,
    "health_tolerance": 0.05,
    "at_risk_gap": 0.2,
    "forecast_window_days": 28,
    "busted_after": 0.5,
    "busted_below": 0.5,
    "likely_miss_below": 0.2,
    "likely_miss_min_readings": 5,
    "likely_miss_after": 0.25,
    "goalpost_changes": "direct",
}
WEIGHT_KEYS = {
    "weight_linkage",
    "weight_pace",
    "weight_forecast",
    "weight_confidence",
    "weight_assessment",
    "weight_feedback",
    "weight_freshness",
}


# --- helpers ----------------------------------------------------------------------------------


def url(org: Organization, path: str = "") -> str:
    return f"/api/v1/orgs/{org.slug}/{path}"


def assert_error(response: Any, status: int, *, attr: str | None = None, code: str | None = None) -> dict[str, Any]:
    """The one error shape; when given, `attr` and `code` must name one of the listed errors."""
    assert response.status_code == status, response.content
    body = response.json()
    expected_type = "validation_error" if status == 400 else "client_error"
    assert body["type"] == expected_type
    assert body["errors"], body
    for error in body["errors"]:
        assert set(error) == {"code", "detail", "attr"}
        assert error["detail"]
    if attr is not None:
        assert attr in attrs(response), body
    if code is not None:
        assert code in {error["code"] for error in body["errors"]}, body
    return body


def attrs(response: Any) -> set[str | None]:
    return {error["attr"] for error in response.json()["errors"]}


def ids(response: Any) -> list[str]:
    return [item["id"] for item in response.json()["results"]]


def parse_ts(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value} has no offset"
    return parsed


def membership(org: Organization, user: User) -> Membership:
    return Membership.objects.get(organization=org, user=user)


def new_key(org: Organization, scopes: list[str], **fields: Any) -> tuple[ApiKey, APIClient]:
    key, secret = services.api_key_create(org=org, created_by=None, name="integration", scopes=scopes, **fields)
    return key, bearer_client(secret)


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


# --- Organizations ----------------------------------------------------------------------------


def test_org_list_shows_only_mine(
    org: Organization, other_org: Organization, member: User, client_for: ClientFor
) -> None:
    OrganizationFactory()

    response = client_for(member).get("/api/v1/orgs/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == PAGE_KEYS
    assert body["count"] == 1
    assert [item["slug"] for item in body["results"]] == [org.slug]
    assert set(body["results"][0]) == ORG_KEYS


def test_org_list_for_an_api_key_is_its_own_org(
    org: Organization, other_org: Organization, key_client_for: Callable[..., APIClient]
) -> None:
    response = key_client_for(org).get("/api/v1/orgs/")

    assert response.status_code == 200
    assert [item["slug"] for item in response.json()["results"]] == [org.slug]


def test_org_create_makes_me_owner_of_an_empty_org(member: User, client_for: ClientFor) -> None:
    client = client_for(member)

    response = client.post("/api/v1/orgs/", {"name": "Acme", "slug": "acme"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == ORG_KEYS
    assert (body["name"], body["slug"], body["timezone"]) == ("Acme", "acme", "UTC")
    assert {"org": "acme", "role": "owner"} in client.get("/api/v1/me/").json()["memberships"]
    teams = client.get("/api/v1/orgs/acme/teams/")
    assert teams.status_code == 200
    assert teams.json()["count"] == 0
    members = client.get("/api/v1/orgs/acme/members/").json()
    assert [(m["user"]["id"], m["role"]) for m in members["results"]] == [(member.pk, "owner")]


def test_org_create_refuses_a_taken_slug(org: Organization, member: User, client_for: ClientFor) -> None:
    response = client_for(member).post("/api/v1/orgs/", {"name": "Copy", "slug": org.slug})

    assert_error(response, 400, code="unique")
    assert attrs(response) == {"slug"}
    assert Organization.objects.filter(slug=org.slug).count() == 1


@pytest.mark.parametrize("slug", ["not a slug", "ümlaut", "dots.not.allowed", "", "x" * 61])
def test_org_create_refuses_a_bad_slug(member: User, client_for: ClientFor, slug: str) -> None:
    before = Organization.objects.count()

    response = client_for(member).post("/api/v1/orgs/", {"name": "Acme", "slug": slug})

    assert_error(response, 400)
    assert attrs(response) == {"slug"}
    assert Organization.objects.count() == before


def test_org_create_lists_every_missing_field(member: User, client_for: ClientFor) -> None:
    response = client_for(member).post("/api/v1/orgs/", {})

    assert_error(response, 400)
    assert attrs(response) == {"name", "slug"}


def test_org_create_refuses_an_api_key(org: Organization, key_client_for: Callable[..., APIClient]) -> None:
    response = key_client_for(org).post("/api/v1/orgs/", {"name": "Acme", "slug": "acme"})

    assert_error(response, 403)
    assert not Organization.objects.filter(slug="acme").exists()


def test_org_detail_holds_timezone_and_every_setting_default(
    org: Organization, viewer: User, client_for: ClientFor
) -> None:
    response = client_for(viewer).get(url(org))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == ORG_KEYS
    assert body["id"] == str(org.pk)
    assert body["timezone"] == "UTC"
    assert set(body["settings"]) == set(SETTINGS_DEFAULTS) | WEIGHT_KEYS
    assert {key: body["settings"][key] for key in SETTINGS_DEFAULTS} == SETTINGS_DEFAULTS
    assert all(isinstance(body["settings"][key], int | float) for key in WEIGHT_KEYS)
    assert sum(body["settings"][key] for key in WEIGHT_KEYS) > 0
    parse_ts(body["created_at"])


def test_org_patch_by_admin_changes_name_timezone_and_settings(
    org: Organization, admin: User, client_for: ClientFor
) -> None:
    new_settings = {**SETTINGS_DEFAULTS, "score_threshold": 50, "drift_days": 10}
    new_settings |= dict.fromkeys(WEIGHT_KEYS, 10)

    response = client_for(admin).patch(
        url(org), {"name": "Renamed", "timezone": "Europe/Berlin", "settings": new_settings}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["timezone"]) == ("Renamed", "Europe/Berlin")
    assert body["settings"] == new_settings
    org.refresh_from_db()
    assert (org.name, org.timezone) == ("Renamed", "Europe/Berlin")
    assert org.effective_settings == new_settings


def test_org_patch_of_the_name_alone_keeps_timezone_and_settings(
    org: Organization, admin: User, client_for: ClientFor
) -> None:
    Organization.objects.filter(pk=org.pk).update(timezone="Asia/Tokyo", settings={"score_threshold": 40})

    response = client_for(admin).patch(url(org), {"name": "Renamed"})

    assert response.status_code == 200, response.content
    assert response.json()["timezone"] == "Asia/Tokyo"
    assert response.json()["settings"]["score_threshold"] == 40


def test_org_patch_merges_partial_settings(org: Organization, admin: User, client_for: ClientFor) -> None:
    Organization.objects.filter(pk=org.pk).update(settings={"score_threshold": 40})

    response = client_for(admin).patch(url(org), {"settings": {"drift_days": 10}})

    assert response.status_code == 200, response.content
    expected = {**SETTINGS_DEFAULTS, "score_threshold": 40, "drift_days": 10}
    assert {key: response.json()["settings"][key] for key in SETTINGS_DEFAULTS} == expected
    org.refresh_from_db()
    assert {key: org.effective_settings[key] for key in SETTINGS_DEFAULTS} == expected


def test_org_patch_refuses_an_unknown_timezone(org: Organization, admin: User, client_for: ClientFor) -> None:
    response = client_for(admin).patch(url(org), {"timezone": "Mars/Olympus_Mons"})

    assert_error(response, 400)
    assert attrs(response) == {"timezone"}
    org.refresh_from_db()
    assert org.timezone == "UTC"


@pytest.mark.parametrize(
    ("change", "attr"),
    [
        ({"score_threshold": 101}, "settings.score_threshold"),
        ({"checkin_interval_days": 0}, "settings.checkin_interval_days"),
        ({"low_confidence": "low"}, "settings.low_confidence"),
        ({"health_tolerance": 1.5}, "settings.health_tolerance"),
        ({"weight_pace": -1}, "settings.weight_pace"),
        ({"health_tolerance": 0.3, "at_risk_gap": 0.1}, "settings.at_risk_gap"),
        (dict.fromkeys(WEIGHT_KEYS, 0), "settings.weight_pace"),
    ],
)
def test_org_patch_names_the_bad_setting(
    org: Organization, admin: User, client_for: ClientFor, change: dict[str, Any], attr: str
) -> None:
    full = {**SETTINGS_DEFAULTS, **dict.fromkeys(WEIGHT_KEYS, 10)}

    response = client_for(admin).patch(url(org), {"settings": {**full, **change}})

    assert_error(response, 400)
    assert attrs(response) == {attr}
    org.refresh_from_db()
    assert org.settings == {}


def test_org_patch_lists_every_bad_field(org: Organization, admin: User, client_for: ClientFor) -> None:
    full = {**SETTINGS_DEFAULTS, **dict.fromkeys(WEIGHT_KEYS, 10)}
    name = org.name

    response = client_for(admin).patch(
        url(org),
        {"name": "", "timezone": "Nowhere/Special", "settings": {**full, "score_threshold": -1, "drift_days": 0}},
    )

    assert_error(response, 400)
    assert attrs(response) == {"name", "timezone", "settings.score_threshold", "settings.drift_days"}
    org.refresh_from_db()
    assert (org.name, org.timezone, org.settings) == (name, "UTC", {})


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_org_patch_needs_admin(org: Organization, member_of: MemberOf, client_for: ClientFor, role: Role) -> None:
    response = client_for(member_of(org, role)).patch(url(org), {"name": "Mine now"})

    assert_error(response, 403)
    org.refresh_from_db()
    assert org.name != "Mine now"


def test_org_delete_by_admin_is_refused(org: Organization, admin: User, client_for: ClientFor) -> None:
    response = client_for(admin).delete(url(org))

    assert_error(response, 403)
    assert Organization.objects.filter(pk=org.pk).exists()


def test_org_delete_by_owner_removes_it_and_what_it_owns(
    org: Organization, owner: User, member: User, client_for: ClientFor
) -> None:
    client = client_for(owner)
    root = TeamFactory(organization=org, lead=member)
    child = TeamFactory(organization=org, parent=root)
    TeamFactory(organization=org, parent=child)
    TeamMember.objects.create(organization=org, team=child, user=member)
    new_key(org, [Scope.READ])

    response = client.delete(url(org))

    assert response.status_code == 204
    assert not Organization.objects.filter(pk=org.pk).exists()
    assert not Team.objects.filter(organization_id=org.pk).exists()
    assert not Membership.objects.filter(organization_id=org.pk).exists()
    assert not ApiKey.objects.filter(organization_id=org.pk).exists()
    assert User.objects.filter(pk__in=[owner.pk, member.pk]).count() == 2
    assert client.get(url(org)).status_code == 404


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


def test_team_filters(org: Organization, admin: User, member: User, client_for: ClientFor) -> None:
    root = TeamFactory(organization=org, name="Root")
    child = TeamFactory(organization=org, name="Child", parent=root, lead=member)
    group = TeamFactory(organization=org, name="Group", kind=TeamKind.STEERING_GROUP, parent=root)
    loose = TeamFactory(organization=org, name="Loose", lead=admin)
    client = client_for(member)

    def listed(query: str) -> set[str]:
        response = client.get(url(org, f"teams/?{query}"))
        assert response.status_code == 200, response.content
        assert response.json()["count"] == len(response.json()["results"])
        return set(ids(response))

    assert listed(f"parent={root.pk}") == {str(child.pk), str(group.pk)}
    assert listed(f"parent={child.pk}") == set()
    assert listed("kind=steering_group") == {str(group.pk)}
    assert listed("kind=team") == {str(root.pk), str(child.pk), str(loose.pk)}
    assert listed(f"lead={member.pk}") == {str(child.pk)}
    assert listed(f"lead={admin.pk}") == {str(loose.pk)}
    assert listed(f"parent={root.pk}&kind=team") == {str(child.pk)}
    assert listed("") == {str(t.pk) for t in (root, child, group, loose)}


@pytest.mark.parametrize(("query", "attr"), [("parent=nope", "parent"), ("kind=squad", "kind"), ("lead=abc", "lead")])
def test_team_filters_refuse_bad_values(
    org: Organization, member: User, client_for: ClientFor, query: str, attr: str
) -> None:
    response = client_for(member).get(url(org, f"teams/?{query}"))

    assert_error(response, 400)
    assert attrs(response) == {attr}


@pytest.mark.parametrize(
    ("ordering", "expected"), [("name", ["Alpha", "Bravo", "Charlie"]), ("-name", ["Charlie", "Bravo", "Alpha"])]
)
def test_team_ordering(
    org: Organization, member: User, client_for: ClientFor, ordering: str, expected: list[str]
) -> None:
    for name, slug in (("Bravo", "a"), ("Charlie", "b"), ("Alpha", "c")):
        TeamFactory(organization=org, name=name, slug=slug)

    response = client_for(member).get(url(org, f"teams/?ordering={ordering}"))

    assert response.status_code == 200
    assert [item["name"] for item in response.json()["results"]] == expected


def test_team_default_order_is_by_name(org: Organization, member: User, client_for: ClientFor) -> None:
    for name, slug in (("Bravo", "a"), ("Charlie", "b"), ("Alpha", "c")):
        TeamFactory(organization=org, name=name, slug=slug)

    response = client_for(member).get(url(org, "teams/?ordering=slug"))
    default = client_for(member).get(url(org, "teams/"))

    assert [item["slug"] for item in response.json()["results"]] == ["a", "b", "c"]
    assert [item["name"] for item in default.json()["results"]] == ["Alpha", "Bravo", "Charlie"]


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


# --- API keys ---------------------------------------------------------------------------------


def test_api_key_create_shows_the_key_once(org: Organization, admin: User, client_for: ClientFor) -> None:
    client = client_for(admin)

    response = client.post(url(org, "api-keys/"), {"name": "CI", "scopes": ["read", "readings:write"]})

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == API_KEY_KEYS | {"key"}
    assert body["name"] == "CI"
    assert sorted(body["scopes"]) == ["read", "readings:write"]
    assert (body["last_used_at"], body["expires_at"]) == (None, None)
    assert len(body["prefix"]) >= 8
    assert body["key"].startswith(body["prefix"])
    assert len(body["key"]) >= 32

    listed = client.get(url(org, "api-keys/")).json()["results"]
    detail = client.get(url(org, f"api-keys/{body['id']}/")).json()
    assert [set(item) for item in listed] == [API_KEY_KEYS]
    assert set(detail) == API_KEY_KEYS
    assert body["key"] not in str(listed) + str(detail)


def test_api_key_is_stored_hashed(org: Organization, admin: User, client_for: ClientFor) -> None:
    secret = client_for(admin).post(url(org, "api-keys/"), {"name": "CI", "scopes": ["read"]}).json()["key"]

    key = ApiKey.objects.get(organization=org)
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {key.key_hash, key.prefix, key.name}
    assert key.created_by_id == admin.pk


def test_api_key_created_through_the_api_authenticates_as_its_org(
    org: Organization, admin: User, client_for: ClientFor
) -> None:
    team = TeamFactory(organization=org)
    secret = client_for(admin).post(url(org, "api-keys/"), {"name": "CI", "scopes": ["read"]}).json()["key"]

    response = bearer_client(secret).get(url(org, "teams/"))

    assert response.status_code == 200, response.content
    assert ids(response) == [str(team.pk)]


def test_a_read_key_reads_but_cannot_write(org: Organization, member: User) -> None:
    team = TeamFactory(organization=org)
    _, client = new_key(org, [Scope.READ])

    assert client.get(url(org, "teams/")).status_code == 200
    assert client.get(url(org, f"teams/{team.pk}/")).status_code == 200
    assert client.get(url(org)).status_code == 200
    assert client.get(url(org, "members/")).status_code == 200
    assert_error(client.post(url(org, "teams/"), {"name": "By key"}), 403)
    assert_error(client.patch(url(org, f"teams/{team.pk}/"), {"name": "By key"}), 403)
    assert_error(client.delete(url(org, f"teams/{team.pk}/")), 403)
    assert_error(client.patch(url(org), {"name": "By key"}), 403)
    assert_error(client.post(url(org, "api-keys/"), {"name": "Another", "scopes": ["read"]}), 403)
    assert not Team.objects.filter(name="By key").exists()
    assert ApiKey.objects.filter(organization=org).count() == 1


def test_a_readings_key_cannot_read_teams(org: Organization) -> None:
    _, client = new_key(org, [Scope.READINGS_WRITE])

    assert_error(client.get(url(org, "teams/")), 403)
    assert_error(client.get(url(org, "members/")), 403)


def test_api_key_use_sets_last_used_at(org: Organization, admin: User, client_for: ClientFor) -> None:
    key, client = new_key(org, [Scope.READ])

    client.get(url(org, "teams/"))

    key.refresh_from_db()
    assert key.last_used_at is not None
    assert abs(key.last_used_at - timezone.now()) < timedelta(minutes=1)
    listed = client_for(admin).get(url(org, "api-keys/")).json()["results"]
    assert parse_ts(listed[0]["last_used_at"]) == key.last_used_at


def test_api_key_last_used_at_is_written_at_most_once_a_resolution(org: Organization) -> None:
    key, client = new_key(org, [Scope.READ])
    start = timezone.now()
    resolution = timedelta(seconds=django_settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)

    with time_machine.travel(start, tick=False):
        client.get(url(org, "teams/"))
    with time_machine.travel(start + resolution / 2, tick=False):
        client.get(url(org, "teams/"))
    key.refresh_from_db()
    assert key.last_used_at == start

    with time_machine.travel(start + resolution * 2, tick=False):
        client.get(url(org, "teams/"))
    key.refresh_from_db()
    assert key.last_used_at == start + resolution * 2


def test_api_key_delete_revokes_at_once(org: Organization, admin: User, client_for: ClientFor) -> None:
    key, key_client = new_key(org, [Scope.READ])
    assert key_client.get(url(org, "teams/")).status_code == 200
    client = client_for(admin)

    response = client.delete(url(org, f"api-keys/{key.pk}/"))

    assert response.status_code == 204
    refused = key_client.get(url(org, "teams/"))
    assert_error(refused, 401, code="authentication_failed")
    assert refused["WWW-Authenticate"] == "Bearer"
    assert client.get(url(org, "api-keys/")).json()["count"] == 0
    assert client.get(url(org, f"api-keys/{key.pk}/")).status_code == 404
    assert client.delete(url(org, f"api-keys/{key.pk}/")).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_an_expired_key_is_refused(org: Organization) -> None:
    _, client = new_key(org, [Scope.READ], expires_at=timezone.now() + timedelta(days=1))
    assert client.get(url(org, "teams/")).status_code == 200

    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1)):
        response = client.get(url(org, "teams/"))

    assert_error(response, 401, code="authentication_failed")
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("payload", "attr", "code"),
    [
        ({"name": "k", "scopes": ["admin"]}, "scopes.0", "invalid_choice"),
        ({"name": "k", "scopes": ["read", "write"]}, "scopes.1", "invalid_choice"),
        ({"name": "k", "scopes": []}, "scopes", "min_length"),
        ({"name": "k", "scopes": "read"}, "scopes", "not_a_list"),
        ({"name": "k"}, "scopes", "required"),
        ({"name": "", "scopes": ["read"]}, "name", "blank"),
        ({"name": "k", "scopes": ["read"], "expires_at": "2099-01-01T00:00:00"}, "expires_at", "naive"),
        ({"name": "k", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"}, "expires_at", "past"),
        ({"name": "k", "scopes": ["read"], "expires_at": "soon"}, "expires_at", "invalid"),
    ],
)
def test_api_key_create_refuses_bad_input(
    org: Organization,
    admin: User,
    client_for: ClientFor,
    payload: dict[str, Any],
    attr: str,
    code: str,
) -> None:
    response = client_for(admin).post(url(org, "api-keys/"), payload)

    body = assert_error(response, 400)
    assert [(error["attr"], error["code"]) for error in body["errors"]] == [(attr, code)]
    assert not ApiKey.objects.exists()


def test_api_key_create_with_an_aware_expiry(org: Organization, admin: User, client_for: ClientFor) -> None:
    response = client_for(admin).post(
        url(org, "api-keys/"), {"name": "k", "scopes": ["read"], "expires_at": "2099-01-01T09:00:00+02:00"}
    )

    assert response.status_code == 201, response.content
    assert parse_ts(response.json()["expires_at"]) == datetime.fromisoformat("2099-01-01T07:00:00+00:00")


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_api_keys_need_admin(org: Organization, member_of: MemberOf, client_for: ClientFor, role: Role) -> None:
    key, _ = new_key(org, [Scope.READ])
    client = client_for(member_of(org, role))

    assert_error(client.post(url(org, "api-keys/"), {"name": "Mine", "scopes": ["read"]}), 403)
    assert_error(client.get(url(org, "api-keys/")), 403)
    assert_error(client.get(url(org, f"api-keys/{key.pk}/")), 403)
    assert_error(client.delete(url(org, f"api-keys/{key.pk}/")), 403)
    assert list(ApiKey.objects.values_list("pk", "revoked_at")) == [(key.pk, None)]


# --- Pagination -------------------------------------------------------------------------------


def make_teams(org: Organization, count: int) -> None:
    Team.objects.bulk_create(Team(organization=org, name=f"Team {n:04}", slug=f"team-{n:04}") for n in range(count))


def test_limit_is_capped_at_200_and_links_are_absolute(org: Organization, member: User, client_for: ClientFor) -> None:
    make_teams(org, 205)
    client = client_for(member)

    response = client.get(url(org, "teams/?limit=500"))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 205
    assert len(body["results"]) == 200
    assert body["previous"] is None
    assert body["next"].startswith(f"http://testserver/api/v1/orgs/{org.slug}/teams/?")
    rest = client.get(body["next"]).json()
    assert len(rest["results"]) == 5
    assert rest["next"] is None
    assert rest["previous"].startswith("http://testserver/")
    assert len(set(ids(response)) | set(ids(client.get(body["next"])))) == 205


# --- Query counts -----------------------------------------------------------------------------
# Per request: the bearer token (with its user), the membership (with its org), COUNT, the page,
# plus one prefetch of team members for teams. The same at both sizes: no N+1.

MEMBERS_LIST_QUERIES = 3
TEAMS_LIST_QUERIES = 4
API_KEYS_LIST_QUERIES = 3
ORGS_LIST_QUERIES = 3


@pytest.mark.parametrize("size", [3, 30])
def test_member_list_query_count(
    org: Organization,
    owner: User,
    client_for: ClientFor,
    django_assert_num_queries: Any,
    size: int,
) -> None:
    MembershipFactory.create_batch(size - 1, organization=org)
    client = client_for(owner)

    with django_assert_num_queries(MEMBERS_LIST_QUERIES):
        response = client.get(url(org, "members/"))

    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", [3, 30])
def test_team_list_query_count(
    org: Organization,
    owner: User,
    member_of: MemberOf,
    client_for: ClientFor,
    django_assert_num_queries: Any,
    size: int,
) -> None:
    people = [member_of(org) for _ in range(3)]
    parent = TeamFactory(organization=org)
    for n in range(size - 1):
        team = TeamFactory(organization=org, parent=parent, lead=people[n % 3])
        TeamMember.objects.bulk_create(TeamMember(organization=org, team=team, user=user) for user in people)
    client = client_for(owner)

    with django_assert_num_queries(TEAMS_LIST_QUERIES):
        response = client.get(url(org, "teams/"))

    results = response.json()["results"]
    assert len(results) == size
    assert sum(len(item["members"]) for item in results) == 3 * (size - 1)


@pytest.mark.parametrize("size", [3, 30])
def test_api_key_list_query_count(
    org: Organization,
    admin: User,
    client_for: ClientFor,
    django_assert_num_queries: Any,
    size: int,
) -> None:
    for _ in range(size):
        new_key(org, [Scope.READ])
    client = client_for(admin)

    with django_assert_num_queries(API_KEYS_LIST_QUERIES):
        response = client.get(url(org, "api-keys/"))

    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", [3, 30])
def test_org_list_query_count(member: User, client_for: ClientFor, django_assert_num_queries: Any, size: int) -> None:
    for _ in range(size - 1):
        MembershipFactory(user=member)
    client = client_for(member)

    with django_assert_num_queries(ORGS_LIST_QUERIES):
        response = client.get("/api/v1/orgs/")

    assert len(response.json()["results"]) == size
