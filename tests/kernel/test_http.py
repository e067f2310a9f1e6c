"""Cross-cutting HTTP behaviour: one error shape, request ids, body limits, throttling that
fails open, pagination caps, health and readiness, and the schema endpoints."""

import logging

import pytest
from celery import Celery
from django.core.cache.backends.redis import RedisCache
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from alignment_service.access import Role
from alignment_service.api import throttling
from teams import selectors
from teams.models import Membership, Team
from tests.factories import TeamFactory


def assert_error_shape(body, error_type, code):
    assert body["type"] == error_type
    assert body["errors"][0]["code"] == code
    assert set(body["errors"][0]) == {"code", "detail", "attr"}


@pytest.mark.parametrize("debug", [True, False])
def test_unknown_url_answers_json_404(api_client, settings, debug, db):
    settings.DEBUG = debug
    response = api_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert_error_shape(response.json(), "client_error", "not_found")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_write_to_an_unknown_url_answers_json_404_not_a_csrf_page(method, db):
    client = APIClient(enforce_csrf_checks=True)
    response = getattr(client, method)("/api/v1/no-such-thing/", {"a": 1}, format="json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert_error_shape(response.json(), "client_error", "not_found")


def test_oversize_body_answers_413_before_it_is_read(org, owner, client_for, settings, count_rows):
    settings.MAX_REQUEST_BODY_BYTES = 1024
    client = client_for(owner)
    before = count_rows()
    response = client.post(f"/api/v1/orgs/{org.slug}/teams/", {"name": "x" * 2000}, format="json")
    assert response.status_code == 413
    assert_error_shape(response.json(), "client_error", "payload_too_large")
    assert count_rows() == before


def test_malformed_json_is_a_400(org, owner, client_for):
    response = client_for(owner).generic(
        "POST", f"/api/v1/orgs/{org.slug}/teams/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "parse_error"


def test_request_id_is_echoed_or_minted(api_client, db):
    echoed = api_client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")
    assert echoed["X-Request-ID"] == "abc-123"
    minted = api_client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces\n")
    assert minted["X-Request-ID"] != "bad id with spaces\n"
    assert len(minted["X-Request-ID"]) == 32


def test_server_error_is_json_with_request_id_and_no_internals(org, owner, client_for, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(selectors, "team_list", explode)
    client = client_for(owner)
    client.raise_request_exception = False
    response = client.get(f"/api/v1/orgs/{org.slug}/teams/", HTTP_X_REQUEST_ID="req-500")
    assert response.status_code == 500
    body = response.json()
    assert_error_shape(body, "server_error", "error")
    assert body["request_id"] == "req-500" == response["X-Request-ID"]
    assert "secret internal detail" not in response.content.decode()


def _list_teams_after(monkeypatch, write):
    def explode(**kwargs):
        with transaction.atomic():
            write()

    monkeypatch.setattr(selectors, "team_list", explode)


def test_an_integrity_error_naming_a_constraint_is_a_conflict(org, owner, client_for, monkeypatch):
    _list_teams_after(monkeypatch, lambda: Membership.objects.create(organization=org, user=owner, role=Role.VIEWER))
    client = client_for(owner)
    client.raise_request_exception = False
    response = client.get(f"/api/v1/orgs/{org.slug}/teams/")
    assert response.status_code == 409
    assert_error_shape(response.json(), "client_error", "conflict")


@pytest.mark.parametrize("unnamed", ["raised", "not_null"])
def test_an_integrity_error_naming_no_constraint_is_a_logged_server_error(
    org, owner, client_for, monkeypatch, caplog, unnamed
):
    def write():
        if unnamed == "raised":
            raise IntegrityError("something went wrong")
        Team.objects.create(organization=org, name=None)

    _list_teams_after(monkeypatch, write)
    client = client_for(owner)
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="alignment_service.api.exceptions"):
        response = client.get(f"/api/v1/orgs/{org.slug}/teams/", HTTP_X_REQUEST_ID="req-integrity")
    assert response.status_code == 500
    body = response.json()
    assert_error_shape(body, "server_error", "error")
    assert body["request_id"] == "req-integrity"
    assert any("req-integrity" in record.getMessage() and record.exc_info for record in caplog.records)


def test_limit_is_capped_at_200_and_links_are_absolute(org, owner, client_for):
    TeamFactory.create_batch(205, organization=org)
    body = client_for(owner).get(f"/api/v1/orgs/{org.slug}/teams/?limit=1000").json()
    assert body["count"] == 205
    assert len(body["results"]) == 200
    assert body["next"].startswith("http://testserver/api/v1/orgs/")


def test_default_page_is_50(org, owner, client_for):
    TeamFactory.create_batch(51, organization=org)
    assert len(client_for(owner).get(f"/api/v1/orgs/{org.slug}/teams/").json()["results"]) == 50


@pytest.fixture
def low_rates(monkeypatch):
    rates = {"user": "2/min", "api_key": "2/min", "credentials": "2/min"}
    for throttle in (throttling.UserRateThrottle, throttling.ApiKeyRateThrottle, throttling.CredentialsRateThrottle):
        monkeypatch.setattr(throttle, "THROTTLE_RATES", rates)


def test_user_throttle_answers_429_with_retry_after(org, owner, client_for, low_rates):
    client = client_for(owner)
    statuses = [client.get("/api/v1/me/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = client.get("/api/v1/me/")
    assert int(response["Retry-After"]) > 0
    assert_error_shape(response.json(), "client_error", "throttled")


def test_api_key_throttle_is_per_key(org, key_client_for, low_rates):
    first, second = key_client_for(org), key_client_for(org)
    url = f"/api/v1/orgs/{org.slug}/teams/"
    assert [first.get(url).status_code for _ in range(3)] == [200, 200, 429]
    assert second.get(url).status_code == 200


def test_token_endpoint_is_throttled_per_client_address(api_client, low_rates, db):
    body = {"username": "nobody", "password": "wrong"}
    statuses = [api_client.post("/api/v1/auth/token/", body, format="json").status_code for _ in range(3)]
    assert statuses == [400, 400, 429]


def test_throttles_fail_open_when_the_cache_is_down(org, owner, client_for, low_rates, monkeypatch):
    unreachable = RedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 0.5}})
    for throttle in (throttling.UserRateThrottle, throttling.ApiKeyRateThrottle, throttling.CredentialsRateThrottle):
        monkeypatch.setattr(throttle, "cache", unreachable)
    client = client_for(owner)
    assert [client.get("/api/v1/me/").status_code for _ in range(4)] == [200] * 4
    throttling.breaker.reset()
    response = APIClient().post("/api/v1/auth/token/", {"username": owner.username, "password": "x"}, format="json")
    assert response.status_code == 400


def test_healthz_answers_without_database_or_auth(api_client):
    response = api_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_database_and_broker(api_client, db):
    response = api_client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}


def test_readyz_stays_200_when_the_broker_is_down(api_client, db, monkeypatch):
    from alignment_service import health

    monkeypatch.setattr(health, "_broker_status", lambda: "down")
    response = api_client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["broker"] == "down"


def test_readyz_probes_an_unreachable_broker_as_down(db, monkeypatch):
    from alignment_service import health

    unreachable = Celery("readyz-test", broker="redis://127.0.0.1:1/0", set_as_current=False)
    unreachable.conf.broker_transport_options = {"socket_connect_timeout": 0.5}
    monkeypatch.setattr(health, "celery_app", unreachable)
    assert health._broker_status() == "down"


def test_readyz_is_503_when_the_database_is_down(api_client, db, monkeypatch):
    from alignment_service import health

    monkeypatch.setattr(health, "_database_status", lambda: "down")
    response = api_client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "down"


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/", "/api/redoc/"])
def test_docs_are_public_by_default(api_client, path, db):
    assert api_client.get(path).status_code == 200


def test_schema_names_the_org_parameter_and_bearer_auth(api_client, db):
    schema = api_client.get("/api/schema/?format=json").json()
    params = schema["paths"]["/api/v1/orgs/{org}/teams/"]["get"]["parameters"]
    assert {"$ref": "#/components/parameters/Org"} in params
    assert schema["components"]["parameters"]["Org"]["in"] == "path"
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
