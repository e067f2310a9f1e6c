"""Reading the goals API: goal filters, ordering and pagination, the alignment tree, and the
query count of every list, pinned at two sizes."""

import datetime

import pytest

from goals.models import DirectionVersion, MetricChange
from tests.factories import CycleFactory, GoalFactory, MetricFactory, PillarFactory, TeamFactory
from tests.goals.support import DIRECTION, api, ids

# --- Goals: reading ---------------------------------------------------------------------------


def test_goal_filters(org, viewer, member, team, cycle, client_for):
    pillar = PillarFactory(organization=org)
    company = GoalFactory(organization=org, title="Company growth", owner=member, status="active", progress=1.0)
    team_goal = GoalFactory(
        organization=org,
        title="Team onboarding",
        team=team,
        parent=company,
        cycle=cycle,
        status="draft",
        hypothesis="Shorter tutorials keep players",
    )
    team_goal.strategies.add(pillar, through_defaults={"organization": org})
    late = GoalFactory(
        organization=org,
        title="Late",
        status="missed",
        starts_on=datetime.date(2020, 1, 1),
        due_on=datetime.date(2020, 12, 31),
        progress=0.1,
    )
    client = client_for(viewer)

    def listed(**params):
        response = client.get(api(org, "goals/"), params)
        assert response.status_code == 200, response.content
        return set(ids(response))

    assert listed() == {str(company.pk), str(team_goal.pk), str(late.pk)}
    assert listed(team=str(team.pk)) == {str(team_goal.pk)}
    assert listed(company="true") == {str(company.pk), str(late.pk)}
    assert listed(owner=member.pk) == {str(company.pk)}
    assert listed(parent=str(company.pk)) == {str(team_goal.pk)}
    assert listed(cycle=str(cycle.pk)) == {str(team_goal.pk)}
    assert listed(status="draft") == {str(team_goal.pk)}
    assert client.get(api(org, "goals/") + "?status=draft&status=missed").status_code == 200
    assert set(ids(client.get(api(org, "goals/") + "?status=draft&status=missed"))) == {
        str(team_goal.pk),
        str(late.pk),
    }
    assert listed(health="on_track") == {str(company.pk)}
    assert listed(health="off_track") == {str(late.pk)}
    assert listed(health="no_data") == {str(team_goal.pk)}
    assert listed(strategy=str(pillar.pk)) == {str(team_goal.pk)}
    assert listed(search="tutorials") == {str(team_goal.pk)}
    assert listed(search="GROWTH") == {str(company.pk)}
    assert listed(search="growth onboarding") == set()


@pytest.mark.parametrize("params", [{"status": "abandoned"}, {"health": "fine"}, {"team": "not-a-uuid"}])
def test_bad_goal_filters_are_a_400(params, org, viewer, client_for):
    response = client_for(viewer).get(api(org, "goals/"), params)
    assert response.status_code == 400, response.content


def test_goal_ordering(org, viewer, client_for):
    light = GoalFactory(organization=org, title="B", weight=1, due_on=datetime.date(2026, 3, 1))
    heavy = GoalFactory(organization=org, title="C", weight=5, due_on=datetime.date(2026, 2, 1))
    middle = GoalFactory(organization=org, title="A", weight=3, due_on=datetime.date(2026, 4, 1))
    client = client_for(viewer)
    assert ids(client.get(api(org, "goals/"))) == [str(heavy.pk), str(light.pk), str(middle.pk)]
    assert ids(client.get(api(org, "goals/"), {"ordering": "-weight"})) == [
        str(heavy.pk),
        str(middle.pk),
        str(light.pk),
    ]
    assert ids(client.get(api(org, "goals/"), {"ordering": "title"})) == [str(middle.pk), str(light.pk), str(heavy.pk)]


def test_goal_list_is_paginated_with_limit(org, viewer, client_for):
    for _ in range(3):
        GoalFactory(organization=org)
    body = client_for(viewer).get(api(org, "goals/"), {"limit": 2}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"].startswith("http://testserver/api/v1/orgs/")
    assert body["previous"] is None


# --- The alignment tree -----------------------------------------------------------------------


def test_the_alignment_tree_nests_the_cascade(org, admin, viewer, team, client_for):
    client_for(admin).put(api(org, "direction/"), DIRECTION, format="json")
    pillar = PillarFactory(organization=org, title="Grow")
    area = PillarFactory(organization=org, title="Onboard", team=team, parent=pillar)
    company = GoalFactory(organization=org, title="Double players", progress=0.5)
    company.strategies.add(pillar, through_defaults={"organization": org})
    team_goal = GoalFactory(organization=org, title="Shorter tutorial", team=team, parent=company)
    grandchild = GoalFactory(organization=org, title="Tutorial v2", team=team, parent=team_goal)
    GoalFactory(organization=org, title="Dropped", parent=company, status="cancelled")
    GoalFactory(organization=org, title="Dropped company goal", status="cancelled")

    response = client_for(viewer).get(api(org, "alignment-tree/"))
    assert response.status_code == 200, response.content
    tree = response.json()
    assert set(tree) == {"direction", "pillars", "goals", "divergences"}
    assert tree["direction"]["version"] == 1
    assert tree["direction"]["vision"] == DIRECTION["vision"]
    assert {p["id"]: p["parent"] for p in tree["pillars"]} == {str(pillar.pk): None, str(area.pk): str(pillar.pk)}

    [root] = tree["goals"]
    assert root["id"] == str(company.pk)
    assert {"id", "title", "team", "strategies", "progress", "health", "alignment_score", "children"} <= root.keys()
    assert root["team"] is None
    assert root["strategies"] == [str(pillar.pk)]
    assert root["progress"] == 0.5
    assert root["alignment_score"] is None
    assert root["health"] in {"on_track", "at_risk", "off_track"}
    [child] = root["children"]
    assert (child["id"], child["team"], child["health"]) == (str(team_goal.pk), str(team.pk), "no_data")
    [leaf] = child["children"]
    assert leaf["id"] == str(grandchild.pk)
    assert leaf["children"] == []


def test_the_alignment_tree_of_an_empty_org(org, viewer, client_for):
    response = client_for(viewer).get(api(org, "alignment-tree/"))
    assert response.status_code == 200
    assert response.json()["goals"] == []
    assert response.json()["pillars"] == []
    assert response.json()["direction"]["version"] == 0


def _tree_of(org, size):
    team = TeamFactory(organization=org)
    pillars = [PillarFactory(organization=org) for _ in range(3)]
    roots = [GoalFactory(organization=org) for _ in range(max(1, size // 3))]
    made = len(roots)
    parent = roots[0]
    while made < size:
        parent = GoalFactory(organization=org, team=team, parent=roots[made % len(roots)] if made % 2 else parent)
        parent.strategies.add(*pillars, through_defaults={"organization": org})
        made += 1


TREE_QUERIES = 6  # the last one reads the active divergences


@pytest.mark.parametrize("size", [3, 30])
def test_the_alignment_tree_costs_the_same_queries_at_any_size(
    size, org, viewer, client_for, django_assert_num_queries
):
    _tree_of(org, size)
    client = client_for(viewer)
    with django_assert_num_queries(TREE_QUERIES):
        response = client.get(api(org, "alignment-tree/"))
    assert response.status_code == 200

    def count(nodes):
        return sum(1 + count(node["children"]) for node in nodes)

    assert count(response.json()["goals"]) == size


# --- Query counts of the lists ----------------------------------------------------------------


def _goals(org, size):
    team = TeamFactory(organization=org)
    pillars = [PillarFactory(organization=org) for _ in range(2)]
    for _ in range(size):
        goal = GoalFactory(organization=org, team=team)
        goal.strategies.add(*pillars, through_defaults={"organization": org})


def _metrics(org, size):
    goal = GoalFactory(organization=org)
    for _ in range(size):
        MetricFactory(goal=goal, stale_after_days=7)


def _pillars(org, size):
    team = TeamFactory(organization=org)
    top = PillarFactory(organization=org)
    for _ in range(size - 1):
        PillarFactory(organization=org, team=team, parent=top)


def _cycles(org, size):
    for _ in range(size):
        CycleFactory(organization=org)


def _versions(org, size):
    for number in range(1, size + 1):
        DirectionVersion.objects.create(organization=org, version=number, values=[{"name": "v", "description": ""}])


def _history(org, size):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    for number in range(size):
        MetricChange.objects.create(organization=org, metric=metric, field="target", old_value=number, new_value=1)
    return f"metrics/{metric.pk}/history/"


LISTS = {
    "goals/": (_goals, 4),
    "metrics/": (_metrics, 3),
    "strategies/": (_pillars, 3),
    "cycles/": (_cycles, 3),
    "direction/versions/": (_versions, 3),
    "history": (_history, 4),
}


@pytest.mark.parametrize("size", [3, 30])
@pytest.mark.parametrize("path", list(LISTS))
def test_list_query_counts_do_not_grow_with_size(path, size, org, viewer, client_for, django_assert_num_queries):
    make, queries = LISTS[path]
    made = make(org, size)
    client = client_for(viewer)
    with django_assert_num_queries(queries):
        response = client.get(api(org, made or path))
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == size
