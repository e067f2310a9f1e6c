"""Goals fixtures: a team led by `member`, another team, a first-half 2026 cycle, a metric and a
member's client that writes its readings, and the admin's and a member's access for services."""

import datetime

import pytest

from alignment_service.access import Access, Role
from tests.factories import CycleFactory, GoalFactory, MetricFactory, TeamFactory


@pytest.fixture
def team(org, member):
    """A team led by `member`."""
    return TeamFactory(organization=org, lead=member)


@pytest.fixture
def other_team(org, member_of):
    return TeamFactory(organization=org, lead=member_of(org, Role.MEMBER))


@pytest.fixture
def cycle(org):
    return CycleFactory(
        organization=org, name="2026", starts_on=datetime.date(2026, 1, 1), ends_on=datetime.date(2026, 6, 30)
    )


@pytest.fixture
def metric(org):
    return MetricFactory(goal=GoalFactory(organization=org), key="dau", baseline=0, target=100)


@pytest.fixture
def writer(member, client_for):
    return client_for(member)


@pytest.fixture
def as_admin(org, admin):
    return Access(org=org, user=admin, role=Role.ADMIN)


@pytest.fixture
def as_member(org, member):
    return Access(org=org, user=member, role=Role.MEMBER)


@pytest.fixture
def admin_access(org, admin) -> Access:
    return Access(org=org, user=admin, role=Role.ADMIN)
