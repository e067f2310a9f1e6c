"""Shared by the teams tests: the API's response shapes, every setting's default, and small
helpers for URLs, the one error body, API keys, memberships and the access they grant."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rest_framework.test import APIClient

from alignment_service.access import Access, Role
from teams import services
from teams.models import ApiKey, Membership, Organization, User
from tests.conftest import bearer_client

ClientFor = Callable[[User], APIClient]
MemberOf = Callable[..., User]

PASSWORD = "correct-horse-battery"  # what UserFactory sets
STRONG_PASSWORD = "a-very-long-passphrase-77"

USER_KEYS = {"id", "username", "email"}
MEMBER_KEYS = {"id", "user", "role", "created_at"}
TEAM_KEYS = {"id", "name", "slug", "kind", "parent", "lead", "members", "description", "created_at", "updated_at"}
ORG_KEYS = {"id", "name", "slug", "timezone", "settings", "created_at"}
API_KEY_KEYS = {"id", "name", "scopes", "prefix", "created_at", "last_used_at", "expires_at"}
PAGE_KEYS = {"count", "next", "previous", "results"}

SETTINGS_DEFAULTS = {
    "checkin_interval_days": 7,
    "score_threshold": 60,
    "score_drop_alert": 15,
    "low_confidence": 3,
    "intervention_days": 21,
    "drift_days": 14,
    "health_tolerance": 0.05,
    "at_risk_gap": 0.2,
    "forecast_window_days": 28,
    "busted_after": 0.5,
    "busted_below": 0.5,
    "likely_miss_below": 0.2,
    "likely_miss_min_readings": 5,
    "likely_miss_after": 0.25,
    "goalpost_changes": "direct",
}
WEIGHT_KEYS = {
    "weight_linkage",
    "weight_pace",
    "weight_forecast",
    "weight_confidence",
    "weight_assessment",
    "weight_feedback",
    "weight_freshness",
}


# --- helpers ----------------------------------------------------------------------------------


def url(org: Organization, path: str = "") -> str:
    return f"/api/v1/orgs/{org.slug}/{path}"


def assert_error(response: Any, status: int, *, attr: str | None = None, code: str | None = None) -> dict[str, Any]:
    """The one error shape; when given, `attr` and `code` must name one of the listed errors."""
    assert response.status_code == status, response.content
    body = response.json()
    expected_type = "validation_error" if status == 400 else "client_error"
    assert body["type"] == expected_type
    assert body["errors"], body
    for error in body["errors"]:
        assert set(error) == {"code", "detail", "attr"}
        assert error["detail"]
    if attr is not None:
        assert attr in attrs(response), body
    if code is not None:
        assert code in {error["code"] for error in body["errors"]}, body
    return body


def attrs(response: Any) -> set[str | None]:
    return {error["attr"] for error in response.json()["errors"]}


def ids(response: Any) -> list[str]:
    return [item["id"] for item in response.json()["results"]]


def parse_ts(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value} has no offset"
    return parsed


def membership(org: Organization, user: User) -> Membership:
    return Membership.objects.get(organization=org, user=user)


def new_key(org: Organization, scopes: list[str], **fields: Any) -> tuple[ApiKey, APIClient]:
    key, secret = services.api_key_create(org=org, created_by=None, name="integration", scopes=scopes, **fields)
    return key, bearer_client(secret)


def access_of(org: Organization, user: User) -> Access:
    role = Membership.objects.get(organization=org, user=user).role
    return Access(org=org, user=user, role=Role(role))
