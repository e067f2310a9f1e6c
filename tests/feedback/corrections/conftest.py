"""Course-correction fixtures: a team under a steering group with a child, another steering
group elsewhere, a goal on the team, everyone by name, a manual correction the lead opened, and
a metric that puts the goal off track."""

import pytest

from alignment_service.access import Role
from feedback.models import CourseCorrection
from teams.models import TeamMember
from tests.factories import GoalFactory, MetricFactory, TeamFactory
from tests.feedback.corrections.support import DAY, assert_status, open_manual, record, today


@pytest.fixture
def people(org, member_of):
    return {
        name: member_of(org, Role.MEMBER, username=name)
        for name in ("lead", "steerer", "goal_owner", "other_lead", "elsewhere_steerer", "child_lead")
    }


@pytest.fixture
def tree(org, people):
    """steering (steerer) ── team (lead) ── child (child_lead);  elsewhere (elsewhere_steerer) ── other"""
    steering = TeamFactory(organization=org, name="Steering", kind="steering_group")
    TeamMember.objects.create(organization=org, team=steering, user=people["steerer"])
    team = TeamFactory(organization=org, name="Team", parent=steering, lead=people["lead"])
    child = TeamFactory(organization=org, name="Child", parent=team, lead=people["child_lead"])
    elsewhere = TeamFactory(organization=org, name="Elsewhere", kind="steering_group")
    TeamMember.objects.create(organization=org, team=elsewhere, user=people["elsewhere_steerer"])
    other = TeamFactory(organization=org, name="Other", parent=elsewhere, lead=people["other_lead"])
    return {"steering": steering, "team": team, "child": child, "elsewhere": elsewhere, "other": other}


@pytest.fixture
def goal(org, tree, people):
    return GoalFactory(organization=org, team=tree["team"], owner=people["goal_owner"], title="Grow")


@pytest.fixture
def user(people, admin, owner, member, viewer):
    everyone = {**people, "admin": admin, "owner": owner, "member": member, "viewer": viewer}
    return everyone.__getitem__


@pytest.fixture
def manual(org, goal, people, client_for):
    response = open_manual(client_for(people["lead"]), org, "goal", goal, review_by=str(today() + 7 * DAY))
    assert_status(response, 201)
    return CourseCorrection.objects.get(pk=response.json()["id"])


@pytest.fixture
def off_track(org, goal):
    """`goal` 10 % of the way at 75 % of its window."""
    metric = MetricFactory(goal=goal, organization=org, name="Activation")
    record(org, metric, (40, 5.0), (1, 10.0))
    return metric
