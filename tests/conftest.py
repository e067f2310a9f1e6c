"""Shared fixtures. Tests marked `postgres` or `redis` run only where those servers are
configured (DATABASE_URL / REDIS_URL); elsewhere they are skipped and counted at the end."""

from collections.abc import Callable

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from alignment_service.access import Role, Scope
from alignment_service.api import throttling
from teams import services
from teams.models import Organization, User
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

ON_POSTGRES = "postgresql" in settings.DATABASES["default"]["ENGINE"]
ON_REDIS = bool(settings.REDIS_URL)
_skipped_for: dict[str, int] = {"PostgreSQL (DATABASE_URL)": 0, "Redis (REDIS_URL)": 0}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "postgres" in item.keywords and not ON_POSTGRES:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL"))
            _skipped_for["PostgreSQL (DATABASE_URL)"] += 1
        elif "redis" in item.keywords and not ON_REDIS:
            item.add_marker(pytest.mark.skip(reason="needs Redis: set REDIS_URL"))
            _skipped_for["Redis (REDIS_URL)"] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for server, count in _skipped_for.items():
        if count:
            terminalreporter.write_line(f"Skipped {count} test(s) that need {server}.", yellow=True)


@pytest.fixture(autouse=True)
def _clean_cache() -> None:
    cache.clear()
    throttling.breaker.reset()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def bearer_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def client_for(db: None) -> Callable[[User], APIClient]:
    """An API client signed in as `user` with a real bearer token."""

    def make(user: User) -> APIClient:
        _, secret = services.auth_token_create(user=user)
        return bearer_client(secret)

    return make


@pytest.fixture
def key_client_for(db: None) -> Callable[..., APIClient]:
    """An API client authenticated with a new API key of `org`."""

    def make(org: Organization, scopes: tuple[str, ...] = (Scope.READ,)) -> APIClient:
        _, secret = services.api_key_create(org=org, created_by=None, name="test key", scopes=list(scopes))
        return bearer_client(secret)

    return make


@pytest.fixture
def org(db: None) -> Organization:
    return OrganizationFactory()


@pytest.fixture
def other_org(db: None) -> Organization:
    return OrganizationFactory()


@pytest.fixture
def member_of(db: None) -> Callable[..., User]:
    """A new user holding `role` in `org`."""

    def make(org: Organization, role: Role = Role.MEMBER, **user_fields: object) -> User:
        return MembershipFactory(organization=org, role=role, user=UserFactory(**user_fields)).user

    return make


@pytest.fixture
def owner(org: Organization, member_of: Callable[..., User]) -> User:
    return member_of(org, Role.OWNER)


@pytest.fixture
def admin(org: Organization, member_of: Callable[..., User]) -> User:
    return member_of(org, Role.ADMIN)


@pytest.fixture
def member(org: Organization, member_of: Callable[..., User]) -> User:
    return member_of(org, Role.MEMBER)


@pytest.fixture
def viewer(org: Organization, member_of: Callable[..., User]) -> User:
    return member_of(org, Role.VIEWER)


@pytest.fixture
def outsider(other_org: Organization, member_of: Callable[..., User]) -> User:
    """An owner of another organization: sees nothing of `org`."""
    return member_of(other_org, Role.OWNER)


@pytest.fixture
def count_rows(db: None) -> Callable[[], dict[str, int]]:
    """Row counts of every table, to prove that a refused write left nothing behind."""
    from django.apps import apps

    def count() -> dict[str, int]:
        return {model._meta.label: model._default_manager.count() for model in apps.get_models()}

    return count
