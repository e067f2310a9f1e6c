"""Activity feed fixtures: a world of people, a team, a goal, a metric and an API key in the
org, and a client for any of them by name."""

import pytest

from alignment_service.access import Role, Scope
from teams import services as team_services
from tests.factories import GoalFactory, MetricFactory, TeamFactory


@pytest.fixture
def world(org, owner, admin, member, viewer, member_of):
    lead = member_of(org, Role.MEMBER, username="lead")
    team = TeamFactory(organization=org, name="Platform", lead=lead)
    goal = GoalFactory(organization=org, team=team, owner=member, title="Ship it")
    metric = MetricFactory(goal=goal, key="activation", name="Activation", baseline=0.0, target=100.0)
    key, secret = team_services.api_key_create(
        org=org, created_by=admin, name="warehouse", scopes=[Scope.READ, Scope.READINGS_WRITE]
    )
    return {
        "owner": owner, "admin": admin, "member": member, "viewer": viewer, "lead": lead, "team": team,
        "goal": goal, "metric": metric, "key": key, "secret": secret,
    }  # fmt: skip


@pytest.fixture
def as_(client_for, world):
    from tests.conftest import bearer_client

    def client(who):
        if who == "key":
            return bearer_client(world["secret"])
        return client_for(world[who])

    return client
