"""The organization path pattern, defined once: every API route under `/orgs/{org}/` uses it."""

from typing import Any

from django.urls import URLPattern, path
from django.urls.converters import SlugConverter

#: The `{org}` segment as a router prefix: the slug converter's own pattern, so that router
#: routes and `org_path` routes accept exactly the same organizations.
ORG = rf"orgs/(?P<org>{SlugConverter.regex})"


def org_path(route: str, view: Any, *, name: str) -> URLPattern:
    """A route of the organization outside a router: `orgs/<slug:org>/` + `route`."""
    return path(f"orgs/<slug:org>/{route}", view, name=name)
