"""Contract tests for API keys: shown once and stored hashed, scopes, last use, revocation and
expiry, as described in the spec's "Conventions" and "Roles"."""

import hashlib
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone

from alignment_service.access import Role, Scope
from teams.models import ApiKey, Organization, Team, User
from tests.conftest import bearer_client
from tests.factories import TeamFactory
from tests.teams.support import API_KEY_KEYS, ClientFor, MemberOf, assert_error, ids, new_key, parse_ts, url

pytestmark = pytest.mark.django_db


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
