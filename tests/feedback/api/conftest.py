"""The feedback API's fixtures: the leads of a small team tree, a goal and a pillar on its
middle team, and feedback by an author on any kind of target."""

import pytest

from alignment_service.access import Role
from feedback.models import Feedback
from tests.factories import GoalFactory, PillarFactory, TeamFactory
from tests.feedback.api.support import target_of


@pytest.fixture
def people(org, member_of):
    """Leads of a small team tree, and a goal owner who leads nothing."""
    return {
        name: member_of(org, Role.MEMBER, username=name)
        for name in ("parent_lead", "lead", "sibling_lead", "child_lead", "goal_owner", "pillar_owner")
    }


@pytest.fixture
def tree(org, people):
    """parent ─┬─ team ── child
    └─ sibling"""
    parent = TeamFactory(organization=org, name="Parent", lead=people["parent_lead"])
    team = TeamFactory(organization=org, name="Team", parent=parent, lead=people["lead"])
    sibling = TeamFactory(organization=org, name="Sibling", parent=parent, lead=people["sibling_lead"])
    child = TeamFactory(organization=org, name="Child", parent=team, lead=people["child_lead"])
    return {"parent": parent, "team": team, "sibling": sibling, "child": child}


@pytest.fixture
def goal(org, tree, people):
    return GoalFactory(organization=org, team=tree["team"], owner=people["goal_owner"], title="Grow")


@pytest.fixture
def pillar(org, tree, people):
    return PillarFactory(organization=org, team=tree["team"], owner=people["pillar_owner"], title="Play more")


@pytest.fixture
def author(org, member_of):
    return member_of(org, Role.MEMBER, username="author")


@pytest.fixture
def feedback_on(org, goal, tree, pillar, author):
    def make(target_type, status="open"):
        return Feedback.objects.create(
            organization=org, target_type=target_type, target_id=target_of(target_type, goal, tree, pillar),
            kind="concern", body="Is this right?", author=author, status=status,
        )  # fmt: skip

    return make
