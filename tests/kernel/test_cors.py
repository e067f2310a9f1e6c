"""Browser clients: CORS is closed by default and open to the listed origins, preflights
are answered before authentication; `If-None-Match` on a versioned read answers 304."""

import pytest

pytestmark = pytest.mark.django_db
APP = "https://app.example.com"


@pytest.fixture
def allowed(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]


def preflight(api_client, org, origin, method="PATCH"):
    return api_client.options(
        f"/api/v1/orgs/{org.slug}/goals/",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, if-match",
    )


def test_closed_by_default(api_client, org):
    response = preflight(api_client, org, APP)
    assert "Access-Control-Allow-Origin" not in response


def test_a_listed_origin_gets_its_preflight_without_credentials(api_client, org, allowed):
    response = preflight(api_client, org, APP)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert "PATCH" in response["Access-Control-Allow-Methods"]
    assert "if-match" in response["Access-Control-Allow-Headers"]


def test_an_unlisted_origin_is_not_allowed(api_client, org, allowed):
    assert "Access-Control-Allow-Origin" not in preflight(api_client, org, "https://evil.example.com")


def test_answers_expose_the_headers_clients_read(org, owner, client_for, allowed):
    response = client_for(owner).get(f"/api/v1/orgs/{org.slug}/teams/", HTTP_ORIGIN=APP)
    assert response["Access-Control-Allow-Origin"] == APP
    exposed = response["Access-Control-Expose-Headers"].lower()
    assert {"etag", "retry-after", "ratelimit-remaining", "x-request-id"} <= set(exposed.replace(" ", "").split(","))


def test_if_none_match_answers_304_for_the_current_version(org, owner, client_for):
    from tests.factories import GoalFactory

    goal = GoalFactory(organization=org)
    client = client_for(owner)
    url = f"/api/v1/orgs/{org.slug}/goals/{goal.pk}/"
    etag = client.get(url)["ETag"]
    not_modified = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified["ETag"] == etag
    client.patch(url, {"title": "Changed"}, format="json")
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_lists_are_not_conditional(org, owner, client_for):
    response = client_for(owner).get(f"/api/v1/orgs/{org.slug}/teams/", HTTP_IF_NONE_MATCH='"1"')
    assert response.status_code == 200
    assert "ETag" not in response
