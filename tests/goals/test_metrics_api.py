"""The goals API's metrics: create and validate, unique keys, direction and bounds, the history
of moved targets, `If-Match`, deletes, and what read and readings-write API keys may do.
Readings live in `test_readings_api.py`."""

import json
import uuid

import pytest

from alignment_service.access import Role, Scope
from goals.models import Metric, MetricChange, Reading
from tests.factories import GoalFactory, MetricFactory
from tests.goals.support import api, assert_refused, assert_validation_error, error_attrs, ids, metric_body

# --- Metrics ----------------------------------------------------------------------------------


def test_a_member_creates_a_metric(org, member, client_for):
    goal = GoalFactory(organization=org)
    response = client_for(member).post(api(org, "metrics/"), metric_body(goal, unit="players"), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["key"] == "weekly-actives"
    assert body["direction"] == "increase"
    assert body["weight"] == 1.0
    assert body["current"] is None
    assert body["progress"] is None
    assert body["health"] == "no_data"
    assert body["stale"] is None
    assert body["forecast"] is None
    assert body["last_reading_at"] is None
    assert {"expected_progress", "starts_on", "due_on", "stale_after_days", "unit"} <= body.keys()


def test_metric_keys_are_unique_per_org(org, other_org, admin, client_for, member_of):
    client = client_for(admin)
    assert client.post(api(org, "metrics/"), metric_body(GoalFactory(organization=org)), format="json").status_code == (
        201
    )
    duplicate = client.post(
        api(org, "metrics/"), metric_body(GoalFactory(organization=org), name="Other"), format="json"
    )
    assert_validation_error(duplicate, "key")
    assert Metric.objects.filter(organization=org).count() == 1

    elsewhere = client_for(member_of(other_org, Role.MEMBER)).post(
        api(other_org, "metrics/"), metric_body(GoalFactory(organization=other_org)), format="json"
    )
    assert elsewhere.status_code == 201, elsewhere.content


def test_renaming_a_metric_key_onto_another_is_refused(org, admin, client_for):
    taken = MetricFactory(goal=GoalFactory(organization=org), key="taken")
    metric = MetricFactory(goal=taken.goal, key="free")
    response = client_for(admin).patch(api(org, f"metrics/{metric.pk}/"), {"key": "taken"}, format="json")
    assert_validation_error(response, "key")


BAD_METRICS = [
    ({"baseline": 5, "target": 5}, "target"),
    ({"baseline": 50, "target": 10}, "target"),
    ({"direction": "decrease", "baseline": 10, "target": 50}, "target"),
    ({"direction": "sideways"}, "direction"),
    ({"weight": 0}, "weight"),
    ({"weight": -2}, "weight"),
    ({"weight": 1001}, "weight"),
    ({"key": "Not a slug!"}, "key"),
    ({"baseline": "NaN"}, "baseline"),
    ({"target": "Infinity"}, "target"),
    ({"goal": str(uuid.uuid4())}, "goal"),
    ({"starts_on": "2026-05-01", "due_on": "2026-04-01"}, "due_on"),
    ({"stale_after_days": 0}, "stale_after_days"),
]


def test_bad_metrics_are_refused(org, admin, client_for, count_rows):
    goal = GoalFactory(organization=org)
    client = client_for(admin)
    before = count_rows()
    for overrides, attr in BAD_METRICS:
        response = client.post(api(org, "metrics/"), metric_body(goal, **overrides), format="json")
        assert response.status_code == 400, (overrides, response.content)
        assert attr in error_attrs(response), (overrides, response.json())
    assert count_rows() == before


def test_a_metric_on_another_orgs_goal_is_refused(org, other_org, admin, client_for):
    response = client_for(admin).post(api(org, "metrics/"), metric_body(GoalFactory(organization=other_org)))
    assert_validation_error(response, "goal")


def test_a_non_finite_json_number_is_a_400_not_a_500(org, admin, client_for, count_rows):
    goal = GoalFactory(organization=org)
    raw = json.dumps(metric_body(goal)).replace('"baseline": 0', '"baseline": 1e400')
    assert "1e400" in raw
    client = client_for(admin)
    before = count_rows()
    response = client.post(api(org, "metrics/"), raw, content_type="application/json")
    assert_validation_error(response, "baseline")
    assert count_rows() == before


def test_a_decreasing_metric_makes_progress_as_it_falls(org, member, client_for):
    goal = GoalFactory(organization=org)
    client = client_for(member)
    created = client.post(
        api(org, "metrics/"),
        metric_body(goal, key="churn", direction="decrease", baseline=20, target=10),
        format="json",
    )
    assert created.status_code == 201, created.content
    metric_id = created.json()["id"]
    client.post(api(org, f"metrics/{metric_id}/readings/"), {"value": 17.5, "observed_at": "2026-02-01T00:00:00Z"})
    assert client.get(api(org, f"metrics/{metric_id}/")).json()["progress"] == pytest.approx(0.25)
    client.post(api(org, f"metrics/{metric_id}/readings/"), {"value": 25, "observed_at": "2026-02-02T00:00:00Z"})
    assert client.get(api(org, f"metrics/{metric_id}/")).json()["progress"] == 0.0
    client.post(api(org, f"metrics/{metric_id}/readings/"), {"value": 5, "observed_at": "2026-02-03T00:00:00Z"})
    assert client.get(api(org, f"metrics/{metric_id}/")).json()["progress"] == 1.0


def test_a_moved_target_is_kept_in_the_history_visible_to_everyone(org, member, viewer, client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org), baseline=0, target=100)
    response = client_for(member).patch(
        api(org, f"metrics/{metric.pk}/"), {"target": 150, "reason": "Launch went better"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["target"] == 150
    assert response.json()["version"] == 2
    assert "reason" not in response.json()

    history = client_for(viewer).get(api(org, f"metrics/{metric.pk}/history/"))
    assert history.status_code == 200
    [change] = history.json()["results"]
    assert change["field"] == "target"
    assert (change["old_value"], change["new_value"]) == (100, 150)
    assert change["reason"] == "Launch went better"
    assert change["changed_by"] == member.pk
    assert change["changed_at"]


def test_an_unchanged_target_or_a_rename_records_no_history(org, member, client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org), target=100)
    client = client_for(member)
    client.patch(api(org, f"metrics/{metric.pk}/"), {"target": 100, "name": "Renamed"}, format="json")
    assert not MetricChange.objects.exists()


def test_metric_patch_keeps_direction_and_bounds_consistent(org, member, client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org), baseline=0, target=100)
    client = client_for(member)
    assert_validation_error(client.patch(api(org, f"metrics/{metric.pk}/"), {"target": 0}, format="json"), "target")
    assert_validation_error(client.patch(api(org, f"metrics/{metric.pk}/"), {"target": -5}, format="json"), "target")
    assert not MetricChange.objects.exists()
    metric.refresh_from_db()
    assert metric.target == 100


def test_metric_patch_with_a_stale_if_match_is_refused(org, member, client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org), target=100)
    client = client_for(member)
    assert client.get(api(org, f"metrics/{metric.pk}/"))["ETag"] == '"1"'
    assert client.patch(api(org, f"metrics/{metric.pk}/"), {"target": 120}, HTTP_IF_MATCH='"1"').status_code == 200
    stale = client.patch(api(org, f"metrics/{metric.pk}/"), {"target": 130}, HTTP_IF_MATCH='"1"')
    assert_refused(stale, 412)
    metric.refresh_from_db()
    assert (metric.target, metric.version) == (120, 2)
    assert MetricChange.objects.count() == 1


def test_a_metric_with_readings_is_not_deleted(org, member, client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    bare = MetricFactory(goal=metric.goal)
    Reading.objects.create(organization=org, metric=metric, observed_at="2026-02-01T00:00:00Z", value=1)
    client = client_for(member)
    assert_refused(client.delete(api(org, f"metrics/{metric.pk}/")), 409, "metric_has_readings")
    assert Metric.objects.filter(pk=metric.pk).exists()
    assert client.delete(api(org, f"metrics/{bare.pk}/")).status_code == 204


def test_a_readings_write_key_reads_metrics_and_posts_readings_only(org, key_client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org), key="dau")
    client = key_client_for(org, scopes=(Scope.READINGS_WRITE,))

    assert ids(client.get(api(org, "metrics/"))) == [str(metric.pk)]
    assert client.get(api(org, f"metrics/{metric.pk}/")).status_code == 200
    assert client.get(api(org, f"metrics/{metric.pk}/history/")).status_code == 200
    assert client.get(api(org, f"metrics/{metric.pk}/readings/")).status_code == 200
    posted = client.post(
        api(org, f"metrics/{metric.pk}/readings/"), {"value": 1, "observed_at": "2026-02-01T00:00:00Z"}
    )
    assert posted.status_code == 201, posted.content
    batch = client.post(
        api(org, "readings/batch/"),
        {"readings": [{"metric": "dau", "value": 2, "observed_at": "2026-02-02T00:00:00Z"}]},
        format="json",
    )
    assert batch.status_code == 200, batch.content

    assert_refused(client.post(api(org, "metrics/"), metric_body(metric.goal, key="new"), format="json"), 403)
    assert_refused(client.patch(api(org, f"metrics/{metric.pk}/"), {"target": 5}, format="json"), 403)
    assert_refused(client.delete(api(org, f"metrics/{metric.pk}/")), 403)
    assert_refused(client.get(api(org, "goals/")), 403)
    assert_refused(client.get(api(org, f"goals/{metric.goal_id}/")), 403)
    assert_refused(client.get(api(org, "direction/")), 403)


def test_a_read_key_reads_metrics_and_readings_but_posts_nothing(org, key_client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    client = key_client_for(org, scopes=(Scope.READ,))
    assert client.get(api(org, "metrics/")).status_code == 200
    assert client.get(api(org, f"metrics/{metric.pk}/readings/")).status_code == 200
    assert client.get(api(org, "goals/")).status_code == 200
    reading = {"value": 1, "observed_at": "2026-02-01T00:00:00Z"}
    assert_refused(client.post(api(org, f"metrics/{metric.pk}/readings/"), reading), 403)
    assert_refused(
        client.post(api(org, "readings/batch/"), {"readings": [{**reading, "metric": metric.key}]}, format="json"),
        403,
    )
    assert not Reading.objects.exists()


def test_viewers_read_but_do_not_write_metrics(org, viewer, client_for):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    client = client_for(viewer)
    assert client.get(api(org, f"metrics/{metric.pk}/")).status_code == 200
    assert_refused(client.post(api(org, "metrics/"), metric_body(metric.goal, key="x")), 403)
    assert_refused(client.patch(api(org, f"metrics/{metric.pk}/"), {"target": 5}), 403)
    assert_refused(
        client.post(api(org, f"metrics/{metric.pk}/readings/"), {"value": 1, "observed_at": "2026-02-01T00:00:00Z"}),
        403,
    )


def test_metric_filters(org, viewer, team, client_for):
    goal = GoalFactory(organization=org, team=team)
    ours = MetricFactory(goal=goal, key="ours", progress=1.0)
    theirs = MetricFactory(goal=GoalFactory(organization=org), key="theirs")
    client = client_for(viewer)
    assert ids(client.get(api(org, "metrics/"), {"goal": str(goal.pk)})) == [str(ours.pk)]
    assert ids(client.get(api(org, "metrics/"), {"team": str(team.pk)})) == [str(ours.pk)]
    assert ids(client.get(api(org, "metrics/"), {"key": "theirs"})) == [str(theirs.pk)]
    assert ids(client.get(api(org, "metrics/"), {"health": "no_data"})) == [str(theirs.pk)]
