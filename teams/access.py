"""Resolves `Access` for the kernel's org-scoped views: a membership, or an API key of the org."""

from typing import Any

from django.db.models.functions import Lower
from rest_framework.request import Request

from alignment_service.access import Access, Role
from alignment_service.errors import NotFound
from teams.models import Membership

#: Where authentication leaves the membership it read with the token: `(org slug, membership
#: or None)`, so that resolving the access does not read it again.
REMEMBERED = "_org_membership"


def remember_membership(request: Any, org_slug: str, membership: Membership | None) -> None:
    setattr(request, REMEMBERED, (org_slug.lower(), membership))


def resolve_access(request: Request, org_slug: str) -> Access:
    principal: Any = request.user
    if getattr(principal, "is_api_key", False):
        key = principal.api_key
        if key.organization.slug.lower() != org_slug.lower():
            raise NotFound("Not found.")
        return Access(org=key.organization, api_key=key, scopes=frozenset(key.scopes))
    remembered = getattr(request, REMEMBERED, None)
    if remembered is not None and remembered[0] == org_slug.lower():
        membership = remembered[1]
    else:
        membership = (
            Membership.objects.select_related("organization")
            .alias(org_slug_lower=Lower("organization__slug"))
            .filter(org_slug_lower=org_slug.lower(), user_id=principal.pk)
            .first()
        )
    if membership is None:
        raise NotFound("Not found.")
    return Access(org=membership.organization, user=principal, role=Role(membership.role))
