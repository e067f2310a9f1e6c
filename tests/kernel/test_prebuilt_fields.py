"""Output serializers with prebuilt fields render exactly what DRF's own loop renders."""

from typing import Any

import pytest
from django.utils import timezone
from rest_framework import serializers

from goals.api.serializers import GoalSerializer, TreeGoalSerializer
from goals.models import GoalScore, GoalStrategy
from goals.selectors import alignment_tree, goal_list
from teams.api.serializers import OrganizationSerializer
from tests.factories import GoalFactory, OrganizationFactory, PillarFactory, TeamFactory


def generic(serializer: Any, instance: Any) -> dict[str, Any]:
    return serializers.Serializer.to_representation(serializer, instance)


@pytest.mark.django_db
def test_goals_render_as_drf_renders_them():
    org = OrganizationFactory()
    parent = GoalFactory(organization=org, progress=0.5, p_hit=0.25, hypothesis="h", weight=2.5)
    child = GoalFactory(organization=org, parent=parent, team=TeamFactory(organization=org), status="draft")
    GoalScore.objects.create(goal=parent, organization=org, score=71.5)
    for pillar in (PillarFactory(organization=org), PillarFactory(organization=org)):
        GoalStrategy.objects.create(organization=org, goal=child, pillar=pillar)
    goals = list(goal_list(org=org))
    assert {goal.pk for goal in goals} == {parent.pk, child.pk}
    for goal in goals:
        serializer = GoalSerializer()
        assert serializer.to_representation(goal) == generic(serializer, goal)
    assert GoalSerializer(goals, many=True).data == [generic(GoalSerializer(), goal) for goal in goals]


@pytest.mark.django_db
def test_organizations_render_as_drf_renders_them():
    org = OrganizationFactory(settings={"health_tolerance": 0, "score_threshold": 70})
    serializer = OrganizationSerializer()
    rendered = serializer.to_representation(org)
    assert rendered == generic(serializer, org)
    assert rendered["settings"]["health_tolerance"] == 0.0


@pytest.mark.django_db
def test_tree_nodes_render_as_drf_renders_them():
    org = OrganizationFactory()
    company = GoalFactory(organization=org, progress=0.4, p_hit=0.5)
    team_goal = GoalFactory(organization=org, parent=company, team=TeamFactory(organization=org))
    GoalFactory(organization=org, parent=team_goal, progress=1.0)
    GoalScore.objects.create(goal=team_goal, organization=org, score=55.0)
    GoalStrategy.objects.create(organization=org, goal=team_goal, pillar=PillarFactory(organization=org))
    pending = list(alignment_tree(org=org)["goals"])
    seen = 0
    while pending:
        node = pending.pop()
        serializer = TreeGoalSerializer()
        assert serializer.to_representation(node) == generic(serializer, node)
        pending += node["children"]
        seen += 1
    assert seen == 3


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/St_Johns"])
def test_timestamps_render_as_drf_renders_them_in_the_current_time_zone(zone):
    org = OrganizationFactory()
    GoalFactory(organization=org)
    (listed,) = goal_list(org=org)
    with timezone.override(zone):
        serializer = GoalSerializer()
        rendered = serializer.to_representation(listed)
        assert rendered == generic(serializer, listed)
    assert rendered["created_at"].endswith("Z") == (zone == "UTC")
