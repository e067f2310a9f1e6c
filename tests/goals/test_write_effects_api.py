"""What each goals API write leaves behind: progress that is read-your-writes up the cascade,
and one coalesced rescore of its organization (none for a refused write)."""

import uuid

import pytest

from alignment_service.access import Role
from alignment_service.outbox.models import OutboxMessage
from tests.factories import GoalFactory, MetricFactory
from tests.goals.support import GOAL_DATES, RESCORE_TASK, api, metric_body, outbox_messages_sent, pending_rescores

# --- Progress is read-your-writes -------------------------------------------------------------


def test_a_reading_rolls_up_to_its_metric_its_goal_and_the_parent_goal(org, admin, member, viewer, client_for):
    parent = GoalFactory(organization=org, title="Company")
    child = GoalFactory(organization=org, parent=parent, status="active", weight=1)
    other_child = GoalFactory(organization=org, parent=parent, status="active", weight=3)
    draft_child = GoalFactory(organization=org, parent=parent, status="draft", weight=100)
    metric = MetricFactory(goal=child, baseline=0, target=100)
    other_metric = MetricFactory(goal=other_child, baseline=10, target=20)
    draft_metric = MetricFactory(goal=draft_child, baseline=0, target=1)
    writer, reader = client_for(member), client_for(viewer)

    for m, value in ((other_metric, 18), (draft_metric, 0)):
        posted = writer.post(
            api(org, f"metrics/{m.pk}/readings/"), {"value": value, "observed_at": "2026-02-01T00:00:00Z"}
        )
        assert posted.status_code == 201, posted.content
    posted = writer.post(
        api(org, f"metrics/{metric.pk}/readings/"), {"value": 40, "observed_at": "2026-02-01T00:00:00Z"}
    )
    assert posted.status_code == 201, posted.content

    metric_body = reader.get(api(org, f"metrics/{metric.pk}/")).json()
    assert metric_body["current"] == 40
    assert metric_body["progress"] == pytest.approx(0.4)
    assert metric_body["last_reading_at"] == "2026-02-01T00:00:00Z"
    assert reader.get(api(org, f"goals/{child.pk}/")).json()["progress"] == pytest.approx(0.4)
    assert reader.get(api(org, f"goals/{other_child.pk}/")).json()["progress"] == pytest.approx(0.8)
    assert reader.get(api(org, f"goals/{draft_child.pk}/")).json()["progress"] == pytest.approx(0.0)
    # (0.4 * 1 + 0.8 * 3) / 4; the draft child is left out whatever its weight.
    assert reader.get(api(org, f"goals/{parent.pk}/")).json()["progress"] == pytest.approx(0.7)

    activated = client_for(admin).patch(api(org, f"goals/{draft_child.pk}/"), {"status": "active"}, format="json")
    assert activated.status_code == 200, activated.content
    assert reader.get(api(org, f"goals/{parent.pk}/")).json()["progress"] == pytest.approx(2.8 / 104)


def test_replacing_a_reading_updates_progress_at_once(org, member, client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org), baseline=0, target=10)
    client = client_for(member)
    url = api(org, f"metrics/{metric.pk}/readings/")
    client.post(url, {"value": 2, "observed_at": "2026-02-01T00:00:00Z"})
    assert client.post(url, {"value": 5, "observed_at": "2026-02-01T00:00:00Z"}).status_code == 200
    assert client.get(api(org, f"metrics/{metric.pk}/")).json()["current"] == 5
    assert client.get(api(org, f"goals/{metric.goal_id}/")).json()["progress"] == pytest.approx(0.5)


# --- The rescore owed by every write ----------------------------------------------------------


def _writes(org, admin_client, goal, metric):
    """Each write that can change a score, once; every call builds fresh objects."""
    return {
        "goal create": lambda: admin_client.post(api(org, "goals/"), {"title": "New", **GOAL_DATES}, format="json"),
        "goal patch": lambda: admin_client.patch(api(org, f"goals/{goal.pk}/"), {"title": "T"}, format="json"),
        "goal delete": lambda: admin_client.delete(api(org, f"goals/{GoalFactory(organization=org).pk}/")),
        "metric create": lambda: admin_client.post(
            api(org, "metrics/"), metric_body(goal, key=f"k-{uuid.uuid4().hex[:8]}"), format="json"
        ),
        "metric patch": lambda: admin_client.patch(api(org, f"metrics/{metric.pk}/"), {"target": 77}, format="json"),
        "metric delete": lambda: admin_client.delete(api(org, f"metrics/{MetricFactory(goal=goal).pk}/")),
        "reading": lambda: admin_client.post(
            api(org, f"metrics/{metric.pk}/readings/"), {"value": 3, "observed_at": "2026-02-01T00:00:00Z"}
        ),
        "batch": lambda: admin_client.post(
            api(org, "readings/batch/"),
            {"readings": [{"metric": metric.key, "value": 4, "observed_at": "2026-02-02T00:00:00Z"}]},
            format="json",
        ),
    }


WRITES = [
    "goal create",
    "goal patch",
    "goal delete",
    "metric create",
    "metric patch",
    "metric delete",
    "reading",
    "batch",
]


@pytest.mark.parametrize("write", WRITES)
def test_every_write_owes_one_coalesced_rescore_of_its_org(write, org, admin, client_for):
    goal = GoalFactory(organization=org)
    metric = MetricFactory(goal=goal)
    run = _writes(org, client_for(admin), goal, metric)[write]
    assert not OutboxMessage.objects.exists()

    first = run()
    assert first.status_code in (200, 201, 204), first.content
    [owed] = pending_rescores(org)
    scoped = {"goal_ids": [str(goal.pk)], "team_ids": []} if write in ("reading", "batch") else {}
    assert owed.kwargs == {"org_id": str(org.pk), **scoped}, "readings owe a rescore of what their goal moves"
    second = run()
    assert second.status_code in (200, 201, 204), second.content
    assert pending_rescores(org).count() == 2, "each write owes its own row…"
    assert outbox_messages_sent() == [RESCORE_TASK], "…and they go out as one rescore"


def test_writes_in_two_orgs_owe_one_rescore_each(org, other_org, admin, member_of, client_for):
    client_for(admin).post(api(org, "goals/"), {"title": "x", **GOAL_DATES}, format="json")
    client_for(admin).post(api(org, "goals/"), {"title": "y", **GOAL_DATES}, format="json")
    their_admin = member_of(other_org, Role.ADMIN)
    client_for(their_admin).post(api(other_org, "goals/"), {"title": "z", **GOAL_DATES}, format="json")
    assert pending_rescores(org).count() == 2
    assert pending_rescores(other_org).count() == 1
    assert sorted(outbox_messages_sent()) == [RESCORE_TASK, RESCORE_TASK], "one rescore each"


def test_a_refused_write_owes_nothing(org, admin, client_for):
    goal = GoalFactory(organization=org)
    GoalFactory(organization=org, parent=goal)
    client = client_for(admin)
    client.delete(api(org, f"goals/{goal.pk}/"))
    client.post(api(org, "goals/"), {"title": "x", "weight": 0, **GOAL_DATES}, format="json")
    client.patch(api(org, f"goals/{goal.pk}/"), {"title": "x"}, format="json", HTTP_IF_MATCH='"9"')
    assert not OutboxMessage.objects.exists()
