"""The OpenAPI schema as client generators read it: every operation's errors as named
responses of the one shape, readable ids and summaries, exact types, ordering enums, the
webhooks, headers; and the behaviour behind them (ordering 400s, 503 with Retry-After)."""

import re

import pytest
from django.db import OperationalError

from alignment_service.api.exceptions import as_api_exception
from alignment_service.db import is_transient_db_error as is_transient_database_error
from teams import selectors

pytestmark = pytest.mark.django_db
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_every_operation_has_a_summary_and_a_readable_unique_id(schema):
    ids = [op["operationId"] for _, _, op in operations(schema)]
    assert len(ids) == len(set(ids)) > 80
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", operation_id) for operation_id in ids)
    assert all(op.get("summary") for _, _, op in operations(schema))
    assert {"listGoals", "getGoal", "updateGoal", "ingestReadings", "acknowledgeCourseCorrection"} <= set(ids)


def test_every_operation_documents_its_errors_as_shared_responses(schema):
    shared = schema["components"]["responses"]
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        errors = {code for code in responses if code[0] in "45"}
        assert "405" in errors, (path, method)
        for code in errors:
            assert responses[code] == {"$ref": f"#/components/responses/Error{code}"}
        if "{org}" in path:
            assert {"401", "404"} <= errors, (path, method)
        if method != "get":
            assert "503" in errors, (path, method)
    for response in shared.values():
        body = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert {"type", "errors"} <= set(schema["components"]["schemas"][body]["required"])
    assert shared["Error503"]["headers"]["Retry-After"]
    assert shared["Error429"]["headers"]["Retry-After"]


def test_conditional_requests_and_rate_limits_are_declared(schema):
    goal = schema["paths"]["/api/v1/orgs/{org}/goals/{id}/"]
    assert "ETag" in goal["get"]["responses"]["200"]["headers"]
    assert "304" in goal["get"]["responses"]
    assert any(p.get("name") == "If-None-Match" for p in goal["get"]["parameters"])
    assert "412" in goal["patch"]["responses"]
    assert "RateLimit-Remaining" in goal["get"]["responses"]["200"]["headers"]
    assert "## Limits" in schema["info"]["description"]


def test_response_fields_are_required_and_types_exact(schema):
    schemas = schema["components"]["schemas"]
    assert {"status", "created_at", "progress"} <= set(schemas["Goal"]["required"])
    assert {"attempts", "status", "created_at"} <= set(schemas["WebhookDelivery"]["required"])
    assert "computed_at" in schemas["ScoreSnapshot"]["required"]
    mode = schemas["CourseCorrection"]["properties"]["recommended_mode"]
    assert {"$ref": "#/components/schemas/NullEnum"} in mode["oneOf"]
    assert "BlankEnum" not in schemas
    assert schemas["Activity"]["properties"]["data"]["type"] == "object"
    assert schemas["WebhookDeliveryDetail"]["properties"]["payload"]["allOf"] == [
        {"$ref": "#/components/schemas/WebhookEvent"}
    ]
    assert schemas["ReadingBatchRequest"]["properties"]["readings"]["maxItems"] == 10_000
    owner = next(
        p for p in schema["paths"]["/api/v1/orgs/{org}/goals/"]["get"]["parameters"] if p.get("name") == "owner"
    )
    assert owner["schema"]["type"] == "integer"
    assert schema["components"]["parameters"]["Org"]["in"] == "path"
    org_params = [p for _, _, op in operations(schema) for p in op.get("parameters", []) if p.get("name") == "org"]
    assert org_params == []  # every operation refers to the one definition


def test_ordering_lists_its_fields(schema):
    params = schema["paths"]["/api/v1/orgs/{org}/goals/"]["get"]["parameters"]
    ordering = next(p for p in params if p.get("name") == "ordering")
    assert {"due_on", "-due_on", "title", "-progress"} <= set(ordering["schema"]["items"]["enum"])


def test_an_unknown_ordering_field_is_a_400_naming_it(org, owner, client_for):
    response = client_for(owner).get(f"/api/v1/orgs/{org.slug}/goals/?ordering=-due_on,secret_field")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["attr"] == "ordering"
    assert "secret_field" in error["detail"]


def test_known_ordering_fields_sort_either_way(org, owner, client_for):
    from tests.factories import TeamFactory

    TeamFactory(organization=org, name="Alpha")
    TeamFactory(organization=org, name="Beta")
    client = client_for(owner)
    names = [t["name"] for t in client.get(f"/api/v1/orgs/{org.slug}/teams/?ordering=-name").json()["results"]]
    assert names == ["Beta", "Alpha"]
    repeated = client.get(f"/api/v1/orgs/{org.slug}/teams/?ordering=name&ordering=created_at").json()["results"]
    assert [t["name"] for t in repeated] == ["Alpha", "Beta"]


def test_webhooks_publish_every_event_with_its_payload(schema):
    from alignment_service.notifications.models import WebhookEventType

    assert set(schema["webhooks"]) == {str(t) for t in WebhookEventType}
    opened = schema["webhooks"]["course_correction.opened"]["post"]
    body = opened["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    envelope = schema["components"]["schemas"][body]
    assert envelope["properties"]["type"] == {"type": "string", "const": "course_correction.opened"}
    assert {p["name"] for p in opened["parameters"]} == {"webhook-id", "webhook-timestamp", "webhook-signature"}


class _Deadlock(Exception):
    sqlstate = "40P01"


@pytest.mark.parametrize(
    ("sqlstate", "transient"), [("40P01", True), ("40001", True), ("55P03", True), ("23505", False)]
)
def test_transient_database_errors_are_recognised_by_sqlstate(sqlstate, transient):
    cause = type("Cause", (Exception,), {"sqlstate": sqlstate})()
    error = OperationalError("boom")
    error.__cause__ = cause
    assert is_transient_database_error(error) is transient
    assert is_transient_database_error(RuntimeError("boom")) is False


def test_a_deadlock_answers_503_retry_with_retry_after(org, owner, client_for, monkeypatch):
    def deadlock(**kwargs):
        error = OperationalError("deadlock detected")
        error.__cause__ = _Deadlock()
        raise error

    monkeypatch.setattr(selectors, "team_list", deadlock)
    response = client_for(owner).get(f"/api/v1/orgs/{org.slug}/teams/")
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    body = response.json()
    assert body["type"] == "server_error"
    assert body["errors"] == [{"code": "retry", "detail": body["errors"][0]["detail"], "attr": None}]
    other = OperationalError("internal error")
    other.__cause__ = type("Cause", (Exception,), {"sqlstate": "XX000"})()
    assert as_api_exception(other) is other, "any other database error stays a 500"


def test_references_appear_in_request_bodies(schema):
    metric = schema["components"]["schemas"]["MetricWriteRequest"]
    assert metric["properties"]["goal"]["format"] == "uuid"
    assert "goal" in metric["required"]
    assert schema["components"]["schemas"]["GoalWriteRequest"]["properties"]["team"]["type"] == ["string", "null"]


def test_pages_always_have_their_links(schema):
    assert set(schema["components"]["schemas"]["PaginatedGoalList"]["required"]) == {
        "count",
        "next",
        "previous",
        "results",
    }
    assert set(schema["components"]["schemas"]["PaginatedActivityList"]["required"]) == {"next", "previous", "results"}


def test_public_operations_say_so_and_ordering_values_have_names(schema):
    assert schema["paths"]["/api/v1/auth/signup/"]["post"]["security"] == []
    params = schema["paths"]["/api/v1/orgs/{org}/goals/"]["get"]["parameters"]
    items = next(p for p in params if p.get("name") == "ordering")["schema"]["items"]
    names = dict(zip(items["enum"], items["x-enum-varnames"], strict=True))
    assert names["-due_on"] == "DUE_ON_DESC"
    assert names["title"] == "TITLE"


@pytest.mark.parametrize(
    ("since", "status_code"),
    [("0262-09-28T22:37:18-18:35", 200), ("2026-03-01T10:00:00+23:59", 200), ("0001-01-01T00:00:00+01:00", 400)],
)
def test_timestamp_filters_take_any_offset_python_reads(org, owner, client_for, since, status_code):
    response = client_for(owner).get(f"/api/v1/orgs/{org.slug}/check-ins/", {"since": since})
    assert response.status_code == status_code, response.content
