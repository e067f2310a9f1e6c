"""How the base viewset finds the caller's `Access` (`alignment_service.access`).

It asks the resolver named by `settings.ORG_ACCESS_RESOLVER` before any handler runs; the
resolver (in `teams`) knows memberships and API keys, the kernel only the rules.
"""

from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework.request import Request

from alignment_service.access import Access


class AccessResolver(Protocol):
    def __call__(self, request: Request, org_slug: str) -> Access: ...


def resolve_access(request: Request, org_slug: str) -> Access:
    """Return the caller's access to the organization, or raise `NotFound` for outsiders."""
    resolver: AccessResolver = import_string(settings.ORG_ACCESS_RESOLVER)
    return resolver(request, org_slug)
