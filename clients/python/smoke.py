"""Drive a live server with the client generated from openapi.yaml (bin/check-clients).

Signs up, takes a token, creates an organization, a goal, a metric and an API key, lists the
goals, posts a readings batch with the key, and reads a 404 and a 400 into their typed error
models. Every answer must parse into the model the schema promises.
"""

import datetime
import os
import sys
import uuid

from alignment_client import AuthenticatedClient, Client
from alignment_client.api.accounts import create_token, sign_up
from alignment_client.api.api_keys import create_api_key
from alignment_client.api.goals import create_goal, get_goal, list_goals
from alignment_client.api.metrics import create_metric
from alignment_client.api.organizations import create_organization
from alignment_client.api.readings import ingest_readings
from alignment_client.models import (
    ApiKeyCreated,
    ApiKeyCreateRequest,
    ErrorResponse400,
    ErrorResponse404,
    Goal,
    GoalWriteRequest,
    ListGoalsOrderingItem,
    Metric,
    MetricWriteRequest,
    Organization,
    OrganizationCreateRequest,
    PaginatedGoalList,
    ReadingBatchItemRequest,
    ReadingBatchRequest,
    ReadingBatchResult,
    ScopeEnum,
    SignupRequest,
    Token,
    TokenCreateRequest,
    User,
)


def expect(value: object, model: type) -> object:
    if not isinstance(value, model):
        sys.exit(f"expected {model.__name__}, got {value!r}")
    print(f"ok  {model.__name__}")
    return value


def main() -> None:
    base_url = os.environ["BASE_URL"]
    suffix = uuid.uuid4().hex[:8]
    username, password = f"client-{suffix}", f"Correct-Horse-{suffix}"
    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)

    body = SignupRequest(username=username, email=f"{username}@example.com", password=password)
    expect(sign_up.sync(client=anonymous, body=body), User)
    token = expect(create_token.sync(client=anonymous, body=TokenCreateRequest(username, password)), Token)
    assert isinstance(token, Token)
    client = AuthenticatedClient(base_url=base_url, token=token.token, raise_on_unexpected_status=True)

    org = expect(
        create_organization.sync(client=client, body=OrganizationCreateRequest("Client check", suffix)), Organization
    )
    assert isinstance(org, Organization)
    today = datetime.date.today()
    goal = create_goal.sync(
        org.slug,
        client=client,
        body=GoalWriteRequest(title="Ship", starts_on=today, due_on=today.replace(year=today.year + 1)),
    )
    assert isinstance(expect(goal, Goal), Goal)
    metric = create_metric.sync(
        org.slug,
        client=client,
        body=MetricWriteRequest(goal=goal.id, name="Users", key="users", baseline=0, target=100),
    )
    assert isinstance(expect(metric, Metric), Metric)
    goals = expect(
        list_goals.sync(org.slug, client=client, ordering=[ListGoalsOrderingItem.DUE_ON_DESC]), PaginatedGoalList
    )
    assert isinstance(goals, PaginatedGoalList)
    assert goals.count == 1
    assert goals.results[0].id == goal.id

    key = create_api_key.sync(
        org.slug, client=client, body=ApiKeyCreateRequest(name="ingest", scopes=[ScopeEnum.READINGSWRITE])
    )
    assert isinstance(expect(key, ApiKeyCreated), ApiKeyCreated)
    integration = AuthenticatedClient(base_url=base_url, token=key.key, raise_on_unexpected_status=True)
    now = datetime.datetime.now(datetime.UTC)
    readings = [
        ReadingBatchItemRequest(metric="users", value=10.0 * n, observed_at=now - datetime.timedelta(hours=n))
        for n in range(3)
    ]
    result = ingest_readings.sync(
        org.slug, client=integration, body=ReadingBatchRequest(readings=readings), idempotency_key=suffix
    )
    assert isinstance(expect(result, ReadingBatchResult), ReadingBatchResult)
    assert result.created == 3

    missing = expect(get_goal.sync(org.slug, uuid.uuid4(), client=client), ErrorResponse404)
    assert isinstance(missing, ErrorResponse404)
    assert missing.errors[0].code.value == "not_found"
    bad = create_goal.sync(org.slug, client=client, body=GoalWriteRequest(title=""))
    assert isinstance(expect(bad, ErrorResponse400), ErrorResponse400)
    assert bad.errors[0].attr == "title", bad
    print(f"ok  400 names {bad.errors[0].attr!r}: {bad.errors[0].code}")


if __name__ == "__main__":
    main()
