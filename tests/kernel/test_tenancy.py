"""Tenancy fails closed: every route under `/orgs/{org}/`, discovered from the URL
configuration, answers 404 to members and API keys of another organization."""

import pytest

from alignment_service.access import Scope
from tests.routes import fill, org_routes, populate

ROUTES = org_routes()
CASES = [(route, method) for route in ROUTES for method in route.methods]


def test_routes_are_discovered():
    templates = {route.template for route in ROUTES}
    assert {
        "/api/v1/orgs/{org}/",
        "/api/v1/orgs/{org}/members/",
        "/api/v1/orgs/{org}/members/{pk}/",
        "/api/v1/orgs/{org}/teams/",
        "/api/v1/orgs/{org}/teams/{pk}/",
        "/api/v1/orgs/{org}/api-keys/",
        "/api/v1/orgs/{org}/api-keys/{pk}/",
        "/api/v1/orgs/{org}/invitations/",
        "/api/v1/orgs/{org}/invitations/{pk}/",
    } <= templates


@pytest.mark.parametrize(("route", "method"), CASES, ids=[f"{m} {r.template}" for r, m in CASES])
def test_member_of_another_org_gets_404_everywhere(route, method, org, owner, outsider, client_for):
    populate(org, owner)
    response = client_for(outsider).generic(method, fill(route, org), data="{}", content_type="application/json")
    assert response.status_code == 404, response.content
    assert response.json()["errors"][0]["code"] == "not_found"


@pytest.mark.parametrize(("route", "method"), CASES, ids=[f"{m} {r.template}" for r, m in CASES])
def test_api_key_of_another_org_gets_404_everywhere(route, method, org, owner, other_org, key_client_for):
    populate(org, owner)
    client = key_client_for(other_org, scopes=tuple(Scope.values))
    response = client.generic(method, fill(route, org), data="{}", content_type="application/json")
    assert response.status_code == 404, response.content


@pytest.mark.parametrize("route", [r for r in ROUTES if "GET" in r.methods], ids=lambda r: r.template)
def test_the_same_reads_succeed_for_a_member(route, org, owner, client_for):
    """Guards the walk above: the 404s come from scoping, not from broken URLs."""
    populate(org, owner)
    response = client_for(owner).get(fill(route, org))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(("route", "method"), CASES, ids=[f"{m} {r.template}" for r, m in CASES])
def test_anonymous_gets_401_with_challenge(route, method, org, owner, api_client):
    response = api_client.generic(method, fill(route, org), data="{}", content_type="application/json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("route", [r for r in ROUTES if r.actions.get("post") == "create"], ids=lambda r: r.template)
def test_empty_create_names_each_missing_field_and_writes_nothing(route, org, owner, client_for, count_rows):
    populate(org, owner)
    client = client_for(owner)
    before = count_rows()
    response = client.post(fill(route, org), data={}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation_error"
    assert all(error["attr"] for error in body["errors"])
    assert count_rows() == before
