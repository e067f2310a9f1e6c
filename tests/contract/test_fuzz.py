"""Property-based fuzzing of every operation in the OpenAPI schema (schemathesis), as a viewer,
a member, an admin and an API key, with a fixed seed (hypothesis `derandomize`): whatever a
client sends, the API never answers 5xx, and its answers conform to the schema.

Runs on PostgreSQL in CI (and on SQLite locally). Checks: `not_a_server_error` on every
answer; `status_code_conformance`, `content_type_conformance` and
`response_schema_conformance` on every answer whose status the operation documents (every 2xx
and 3xx must be documented). Until the schema documents the error responses of each operation,
an undocumented 4xx is checked against the contract's error shape here instead (JSON,
`{"type", "errors": [{"code", "detail", "attr"}]}`); as soon as an operation documents a 4xx,
schemathesis checks it too.
"""

import re
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, note
from hypothesis import settings as hsettings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from alignment_service.access import Role, Scope
from alignment_service.wsgi import application
from teams import services
from tests.routes import org_routes, populate

SEED = 20261201


def _load(phase: str) -> Any:
    """The schema, run in one phase only and with a fixed seed."""
    phases = {name: {"enabled": name == phase} for name in ("examples", "coverage", "fuzzing", "stateful")}
    config = SchemathesisConfig.from_dict({"seed": SEED, "phases": phases})
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=config)


# Random cases for every operation as every role, on real objects; the coverage phase's
# boundary and negative cases (missing fields, wrong types, extreme values, unexpected methods)
# once, as an admin, with the generated ids (real ones would make it ten times slower).
schema = _load("fuzzing")
coverage_schema = _load("coverage")

SCHEMA_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ROLES = ["viewer", "member", "admin", "api_key"]
ERROR_TYPES = {"validation_error", "client_error"}


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
    """The organization with one of everything, and a credential of each role."""
    owner = member_of(org, Role.OWNER)
    populate(org, owner)
    secrets = {}
    for role in ROLES:
        if role == "api_key":
            _, secrets[role] = services.api_key_create(
                org=org, created_by=owner, name="fuzz", scopes=list(Scope.values)
            )
        else:
            _, secrets[role] = services.auth_token_create(user=member_of(org, Role(role)))
    return org, secrets, real_ids(org)


def _shape(template: str) -> str:
    return re.sub(r"{\w+}", "{}", template)


def real_ids(org: Any) -> dict[str, dict[str, str]]:
    """For each path template (parameters unnamed), a real object id per path parameter, so
    that detail operations reach their handlers instead of answering 404 to a random id."""
    from tests.routes import fill

    found: dict[str, dict[str, str]] = {}
    for route in org_routes():
        filled = fill(route, org)
        pattern = re.escape(_shape(route.template)).replace(re.escape("{}"), "([^/]+)")
        values = re.fullmatch(pattern, filled)
        if values is not None:
            found[_shape(route.template)] = dict(zip(route.params, values.groups(), strict=True))
    return found


def _with_real_ids(case: Any, org: Any, ids: dict[str, dict[str, str]]) -> None:
    params = case.path_parameters
    if not params:
        return
    known = list(ids.get(_shape(case.path), {}).values())
    names = re.findall(r"{(\w+)}", case.path)
    for name, value in zip(names, known, strict=False):
        if name != "org":
            params[name] = value
    if "org" in params:
        params["org"] = org.slug


def _documents(case: Any, status_code: int) -> bool:
    codes = {str(code).upper() for code in case.operation.responses.status_codes}
    return bool(codes & {str(status_code), f"{str(status_code)[0]}XX", "DEFAULT"})


def _assert_error_shape(case: Any, response: Any) -> None:
    label = f"{case.method} {case.formatted_path} → {response.status_code}"
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), label
    body = response.json()
    assert body["type"] in ERROR_TYPES, (label, body)
    assert body["errors"], (label, body)
    for error in body["errors"]:
        assert set(error) == {"code", "detail", "attr"}, (label, body)
        assert isinstance(error["code"], str), (label, body)
        assert isinstance(error["detail"], str), (label, body)
        assert error["attr"] is None or isinstance(error["attr"], str), (label, body)


def _call_and_check(case: Any, world: Any, role: str, *, real_ids: bool = True) -> None:
    org, secrets, ids = world
    _with_real_ids(case, org, ids if real_ids else {})
    note(f"as {role}")
    response = case.call(headers={"Authorization": f"Bearer {secrets[role]}"})
    if response.status_code < 400 or _documents(case, response.status_code):
        case.validate_response(response, checks=SCHEMA_CHECKS)
    else:
        case.validate_response(response, checks=[not_a_server_error])
        _assert_error_shape(case, response)


@schema.parametrize()
@hsettings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_conforms_and_never_answers_5xx(case, world):
    """Each generated case is sent as every role in turn."""
    for role in ROLES:
        _call_and_check(case, world, role)


@coverage_schema.parametrize()
@hsettings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_boundary_and_negative_cases_never_answer_5xx(case, world):
    _call_and_check(case, world, "admin", real_ids=False)


def test_the_fuzzer_sees_every_operation():
    operations = list(schema.get_all_operations())
    assert len(operations) >= 60
    assert {route.template for route in org_routes()}, "the route walk finds the org routes"
