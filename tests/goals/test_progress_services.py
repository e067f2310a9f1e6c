"""Stored progress and the rescore owed, against the database: progress refreshed in the
write's transaction and rolled up by weight, moved goalposts recorded, and one coalesced rescore
owed to the workers once the change commits."""

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from alignment_service.access import Access, Role
from alignment_service.errors import Conflict, ValidationFailed
from alignment_service.outbox import services as outbox
from alignment_service.outbox.models import OutboxMessage
from goals import services
from goals.models import Goal, Metric, MetricChange
from goals.services import ReadingInput
from teams.demo import DEMO_ORG_SLUG
from teams.models import Organization
from tests.factories import GoalFactory, MetricFactory
from tests.goals.support import RESCORE_TASK, at, pending, record

# --- Stored progress --------------------------------------------------------------------------


def test_progress_rolls_up_by_weight_skipping_draft_and_cancelled_children(org, as_admin):
    top = GoalFactory(organization=org)
    counted = {
        status: GoalFactory(organization=org, parent=top, status=status, weight=weight)
        for status, weight in (("active", 1), ("achieved", 2), ("missed", 1))
    }
    skipped = [GoalFactory(organization=org, parent=top, status=status, weight=50) for status in ("draft", "cancelled")]
    for goal, value in zip([*counted.values(), *skipped], (40, 100, 0, 100, 100), strict=True):
        record(as_admin, MetricFactory(goal=goal, baseline=0, target=100), value, at(1))

    top.refresh_from_db()
    assert top.progress == pytest.approx((0.4 * 1 + 1.0 * 2 + 0.0 * 1) / 4)

    services.goal_update(access=as_admin, goal=counted["achieved"], status="cancelled")
    top.refresh_from_db()
    assert top.progress == pytest.approx(0.2)


def test_a_goal_with_metrics_ignores_its_children_and_metrics_without_readings(org, as_admin):
    goal = GoalFactory(organization=org)
    child = GoalFactory(organization=org, parent=goal)
    record(as_admin, MetricFactory(goal=child, baseline=0, target=1), 1, at(1))
    measured = MetricFactory(goal=goal, baseline=0, target=10, weight=1)
    heavy = MetricFactory(goal=goal, baseline=0, target=10, weight=3)
    MetricFactory(goal=goal, baseline=0, target=10, weight=100)  # no readings: left out
    record(as_admin, measured, 2, at(1))
    record(as_admin, heavy, 6, at(1))
    goal.refresh_from_db()
    assert goal.progress == pytest.approx((0.2 + 0.6 * 3) / 4)


def test_progress_rolls_up_through_three_levels(org, as_admin):
    top = GoalFactory(organization=org)
    middle = GoalFactory(organization=org, parent=top)
    leaf = GoalFactory(organization=org, parent=middle)
    record(as_admin, MetricFactory(goal=leaf, baseline=0, target=4), 1, at(1))
    assert (
        list(Goal.objects.filter(pk__in=[top.pk, middle.pk, leaf.pk]).values_list("progress", flat=True)) == [0.25] * 3
    )


def test_refresh_writes_only_the_goals_that_changed(org, as_admin):
    GoalFactory(organization=org)
    metric = MetricFactory(goal=GoalFactory(organization=org), baseline=0, target=2)
    record(as_admin, metric, 1, at(1))
    assert services.goals_refresh_progress(org=org) == 0
    Goal.objects.filter(pk=metric.goal_id).update(progress=None)
    assert services.goals_refresh_progress(org=org) == 1


def test_the_latest_reading_by_instant_is_current_even_when_backfilled(org, as_admin):
    metric = MetricFactory(goal=GoalFactory(organization=org), baseline=0, target=100)
    record(as_admin, metric, 60, at(10))
    record(as_admin, metric, 20, at(1))
    metric.refresh_from_db()
    assert (metric.current, metric.last_reading_at, metric.progress) == (60, at(10), 0.6)
    assert metric.last_reading_ts == at(10).timestamp()


def test_reading_record_says_whether_it_created_or_replaced(org, as_admin):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    reading, created = record(as_admin, metric, 1, at(1))
    assert created
    again, created = record(as_admin, metric, 2, at(1))
    assert not created
    assert (again.pk, again.value) == (reading.pk, 2)


def test_readings_ingest_counts_created_and_updated(org, as_admin):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    other = MetricFactory(goal=metric.goal)
    record(as_admin, metric, 1, at(2))
    batch = [ReadingInput(metric=metric, value=v, observed_at=at(d)) for v, d in ((5, 1), (6, 2), (7, 3))]
    batch.append(ReadingInput(metric=other, value=1, observed_at=at(2)))
    assert services.readings_ingest(access=as_admin, readings=batch) == (3, 1)
    assert services.readings_ingest(access=as_admin, readings=[]) == (0, 0)
    metric.refresh_from_db()
    assert metric.current == 7


def test_a_moved_goalpost_is_recorded_and_progress_follows(org, as_member, member):
    metric = MetricFactory(goal=GoalFactory(organization=org), baseline=0, target=100)
    record(as_member, metric, 50, at(1))
    metric = services.metric_update(access=as_member, metric=metric, baseline=10, target=210, reason="Bigger launch")
    assert metric.progress == pytest.approx(0.2)
    assert Goal.objects.get(pk=metric.goal_id).progress == pytest.approx(0.2)
    changes = {c.field: (c.old_value, c.new_value, c.reason, c.changed_by) for c in MetricChange.objects.all()}
    assert changes == {
        "baseline": (0, 10, "Bigger launch", member),
        "target": (100, 210, "Bigger launch", member),
    }


def test_metric_bounds_must_follow_the_direction(org, as_member):
    goal = GoalFactory(organization=org)
    fields = {"goal": goal, "name": "n", "key": "k", "baseline": 10.0}
    for direction, target in (("increase", 5.0), ("decrease", 15.0), ("increase", 10.0)):
        with pytest.raises(ValidationFailed) as refused:
            services.metric_create(access=as_member, direction=direction, target=target, **fields)
        assert refused.value.attr == "target"
    assert services.metric_create(access=as_member, direction="decrease", target=5.0, **fields).target == 5.0


def test_a_metric_with_readings_is_kept(org, as_member):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    record(as_member, metric, 1, at(1))
    with pytest.raises(Conflict) as refused:
        services.metric_delete(access=as_member, metric=metric)
    assert refused.value.code == "metric_has_readings"


# --- The rescore owed -------------------------------------------------------------------------


def test_every_write_owes_the_rescore_of_its_org_under_one_dedupe_key(org, as_admin):
    goal = services.goal_create(access=as_admin, title="x", starts_on=at(1).date(), due_on=at(28).date())
    metric = services.metric_create(access=as_admin, goal=goal, name="m", key="m", baseline=0.0, target=1.0)
    record(as_admin, metric, 1, at(1))
    owed = list(pending(org))
    assert len(owed) == 3, "goal, metric and reading each owe their own row"
    assert {(o.task_name, o.dedupe_key) for o in owed} == {("feedback.rescore_org", f"rescore:{org.pk}")}, (
        "…which go out as one rescore"
    )
    assert sorted(str(o.kwargs) for o in owed) == sorted(
        [
            str({"org_id": str(org.pk)}),
            str({"org_id": str(org.pk)}),
            str({"org_id": str(org.pk), "goal_ids": [str(goal.pk)], "team_ids": []}),
        ]
    ), "the new goal and metric rescore the organization; the reading only its goal and ancestors"

    OutboxMessage.objects.update(dispatched_at=timezone.now())
    record(as_admin, metric, 2, at(2))
    assert pending(org).count() == 1, "owed anew while the first is in flight"
    assert OutboxMessage.objects.filter(task_name=RESCORE_TASK).count() == 4


def test_the_rescore_is_owed_in_the_writes_transaction_and_kicked_after_commit(
    org, as_admin, django_capture_on_commit_callbacks, monkeypatch
):
    kicks = []
    monkeypatch.setattr(outbox, "_broker_down_until", 0.0)
    monkeypatch.setattr(outbox, "outbox_dispatch_pending", lambda **_: kicks.append(1) or 0)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.goal_create(access=as_admin, title="x", starts_on=at(1).date(), due_on=at(2).date())
        assert pending(org).count() == 1
        assert kicks == []
    assert callbacks
    assert kicks

    goal = Goal.objects.get()
    OutboxMessage.objects.update(dispatched_at=timezone.now())

    def change_then_fail():
        with transaction.atomic():
            services.goal_update(access=as_admin, goal=goal, title="y")
            raise RuntimeError("a later step of the same transaction failed")

    with pytest.raises(RuntimeError):
        change_then_fail()
    goal.refresh_from_db()
    assert goal.title == "x"
    assert pending(org).count() == 0


def test_a_scoped_roll_up_agrees_with_a_full_one(db):
    """Writes recompute only the touched goals and their ancestors; a full pass finds nothing left."""
    call_command("load_demo")
    org = Organization.objects.get(slug=DEMO_ORG_SLUG)
    owner = org.memberships.get(role="owner").user
    metric = Metric.objects.get(organization=org, key="store-conversion")
    services.readings_ingest(
        access=Access(org=org, user=owner, role=Role.OWNER),
        readings=[ReadingInput(metric=metric, value=3.4, observed_at=timezone.now())],
    )
    before = dict(Goal.objects.filter(organization=org).values_list("id", "progress"))
    assert services.goals_refresh_progress(org=org) == 0
    assert dict(Goal.objects.filter(organization=org).values_list("id", "progress")) == before
    assert before[metric.goal_id] == pytest.approx((3.4 - 2.0) / 1.5)
