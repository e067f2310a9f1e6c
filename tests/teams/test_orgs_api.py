"""Contract tests for organizations: list, create, detail, settings and delete, as described in
the spec's "Organizations and people". Cross-organization 404s live in `tests/kernel/`."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from alignment_service.access import Role, Scope
from teams.models import ApiKey, Membership, Organization, Team, TeamMember, User
from tests.factories import OrganizationFactory, TeamFactory
from tests.teams.support import (
    ORG_KEYS,
    PAGE_KEYS,
    SETTINGS_DEFAULTS,
    WEIGHT_KEYS,
    ClientFor,
    MemberOf,
    assert_error,
    attrs,
    new_key,
    parse_ts,
    url,
)

pytestmark = pytest.mark.django_db


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
