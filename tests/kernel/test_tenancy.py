"""Tenancy fails closed: every route under `/orgs/{org}/`, discovered from the URL
configuration, answers 404 to members and API keys of another organization; and the base
viewset filters every queryset by organization itself, so a selector that forgets cannot leak."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from alignment_service.access import Access, Role, Scope
from alignment_service.api.views import OrgScopedViewSet, has_organization
from teams.models import User
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


VIEWSETS = sorted(
    {route.view_class for route in ROUTES if issubclass(route.view_class, OrgScopedViewSet)}, key=lambda v: v.__name__
)


def test_every_route_is_served_by_the_base_viewset():
    assert {route.view_class for route in ROUTES} == set(VIEWSETS)


@pytest.mark.parametrize("viewset", VIEWSETS, ids=lambda v: v.__name__)
def test_a_model_without_an_organization_says_why(viewset):
    assert has_organization(viewset.model) or viewset.unscoped_reason


@pytest.mark.parametrize("viewset", [v for v in VIEWSETS if has_organization(v.model)], ids=lambda v: v.__name__)
def test_a_selector_that_forgets_the_organization_cannot_leak(viewset, org, owner, other_org, outsider, monkeypatch):
    """Every viewset's queryset is filtered by the base class, whatever `get_org_queryset` returns."""
    populate(org, owner)
    populate(other_org, outsider)
    unfiltered = viewset.model._default_manager.all()
    assert unfiltered.exclude(organization=org).exists(), "the other organization owns some too"
    monkeypatch.setattr(viewset, "get_org_queryset", lambda self, org: unfiltered)
    view = viewset()
    view.access = Access(org=org, user=owner, role=Role.OWNER)
    assert set(view.get_queryset().values_list("organization", flat=True)) == {org.pk}


def test_a_queryset_of_a_model_without_an_organization_is_refused_unless_a_reason_is_named(org, owner):
    class Forgetful(OrgScopedViewSet):
        model = User
        required_roles = {"list": Role.VIEWER}

        def get_org_queryset(self, org):
            return User.objects.all()

    view = Forgetful()
    view.access = Access(org=org, user=owner, role=Role.OWNER)
    with pytest.raises(ImproperlyConfigured, match="unscoped_reason"):
        view.get_queryset()
    Forgetful.unscoped_reason = "A test of the escape hatch."
    assert view.get_queryset().filter(pk=owner.pk).exists()
