"""Shared by the invitation API tests: the two sides' URLs and shapes, and bodies compared with
ids and timestamps masked."""

import re
from typing import Any

from rest_framework.test import APIClient

from alignment_service.access import Access, Role
from teams import services
from teams.models import Invitation, Organization, User

ADMIN_KEYS = {"id", "email", "user", "role", "status", "expires_at", "invited_by", "created_at"}
INVITEE_KEYS = {"id", "org", "role", "status", "expires_at", "created_at"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)")


def url(org: Organization, path: str = "") -> str:
    return f"/api/v1/orgs/{org.slug}/invitations/{path}"


def mine(path: str = "") -> str:
    return f"/api/v1/invitations/{path}"


def invite(client: APIClient, org: Organization, **body: Any) -> Any:
    return client.post(url(org), body, format="json")


def error_codes(response: Any) -> list[tuple[str | None, str]]:
    return [(error["attr"], error["code"]) for error in response.json()["errors"]]


def without_ids_and_times(response: Any) -> str:
    return TIMESTAMP.sub("<ts>", UUID.sub("<id>", response.content.decode()))


def make_invitation(org: Organization, by: User, **fields: Any) -> Invitation:
    return services.invitation_create(access=Access(org=org, user=by, role=Role.OWNER), **fields)
