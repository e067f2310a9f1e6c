"""Who is acting inside an organization, and with what rights: roles, API key scopes, `Access`.

Services take an `Access` (the organization, and a member with a role or an API key); the base
viewset builds one before any handler runs (`alignment_service.api.access.resolve_access`).
This module is part of the domain kernel, so services never import the API package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from teams.models import ApiKey, Organization, User


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    MEMBER = "member", "Member"
    ADMIN = "admin", "Admin"
    OWNER = "owner", "Owner"


ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}
#: The roles that administer an organization.
ADMIN_ROLES = (Role.ADMIN, Role.OWNER)


class Scope(models.TextChoices):
    READ = "read", "Read everything in the organization"
    READINGS_WRITE = "readings:write", "Post readings and read metrics"


@dataclass(frozen=True)
class Access:
    """The acting principal inside one organization: a member with a role, or an API key."""

    org: Organization
    user: User | None = None
    role: Role | None = None
    api_key: ApiKey | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_api_key(self) -> bool:
        return self.api_key is not None

    @property
    def actor(self) -> User | ApiKey | None:
        return self.api_key if self.is_api_key else self.user

    @property
    def credential_id(self) -> str:
        """Names the credential, for state scoped to it (idempotency keys, throttles)."""
        principal = self.api_key if self.api_key is not None else self.user
        assert principal is not None
        return f"key:{principal.pk}" if self.is_api_key else f"user:{principal.pk}"

    def has_role(self, minimal: Role) -> bool:
        return self.role is not None and ROLE_RANK[self.role] >= ROLE_RANK[minimal]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def is_admin(self) -> bool:
        return self.has_role(Role.ADMIN)


def org_admin_ids(*, org: Organization) -> set[Any]:
    """The users who are admins or owners of the organization."""
    return set(org.memberships.filter(role__in=ADMIN_ROLES).values_list("user_id", flat=True))
