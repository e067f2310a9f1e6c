"""Who is acting inside an organization, and with what rights.

The base viewset asks the resolver named by `settings.ORG_ACCESS_RESOLVER` for an `Access`
before any handler runs; the resolver (in `teams`) knows memberships and API keys, the kernel
only the rules.
"""

from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings
from django.db import models
from django.utils.module_loading import import_string
from rest_framework.request import Request


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    MEMBER = "member", "Member"
    ADMIN = "admin", "Admin"
    OWNER = "owner", "Owner"


ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Scope(models.TextChoices):
    READ = "read", "Read everything in the organization"
    READINGS_WRITE = "readings:write", "Post readings and read metrics"


@dataclass(frozen=True)
class Access:
    """The acting principal inside one organization: a member with a role, or an API key."""

    org: Any
    user: Any = None
    role: Role | None = None
    api_key: Any = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_api_key(self) -> bool:
        return self.api_key is not None

    @property
    def actor(self) -> Any:
        return self.api_key if self.is_api_key else self.user

    @property
    def credential_id(self) -> str:
        """Names the credential, for state scoped to it (idempotency keys, throttles)."""
        return f"key:{self.api_key.pk}" if self.is_api_key else f"user:{self.user.pk}"

    def has_role(self, minimal: Role) -> bool:
        return self.role is not None and ROLE_RANK[self.role] >= ROLE_RANK[minimal]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def is_admin(self) -> bool:
        return self.has_role(Role.ADMIN)


class AccessResolver(Protocol):
    def __call__(self, request: Request, org_slug: str) -> Access: ...


def resolve_access(request: Request, org_slug: str) -> Access:
    """Return the caller's access to the organization, or raise `NotFound` for outsiders."""
    resolver: AccessResolver = import_string(settings.ORG_ACCESS_RESOLVER)
    return resolver(request, org_slug)
