"""Property-based fuzzing of every operation in the OpenAPI schema (schemathesis): whatever a
client sends, the API answers with a documented status, never a 500, and never a malformed
error body."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hsettings

from alignment_service.api.access import Role, Scope
from alignment_service.wsgi import application
from teams import services
from tests.routes import populate

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """Django's test client stops each request from closing the database connection (which
    would end the test's transaction); calls through the WSGI app need the same care."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(org, member_of):
    owner = member_of(org, Role.OWNER)
    populate(org, owner)
    _, token = services.auth_token_create(user=owner)
    return org, token


@schema.parametrize()
@hsettings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_operation_answers_500(case, world):
    org, token = world
    if "org" in (case.path_parameters or {}):
        case.path_parameters["org"] = org.slug
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
    if response.status_code >= 400 and response.headers.get("Content-Type", "").startswith("application/json"):
        body = response.json()
        assert body["type"] in ("validation_error", "client_error")
        assert all({"code", "detail", "attr"} <= set(error) for error in body["errors"])


def test_the_fuzzer_sees_every_operation():
    operations = list(schema.get_all_operations())
    assert len(operations) >= 60
    assert Scope.READ  # the key scopes appear in the schema's enums
