"""Goals services, selectors and batch parsing against the database, and the idempotency kernel.

What each write keeps true: versions numbered without gaps, no cycles in the cascade, stored
progress refreshed in the same transaction, moved goalposts recorded, and one coalesced rescore
owed to the workers once the change commits.
"""

import datetime
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from alignment_service.access import Access, Role
from alignment_service.errors import Conflict, PermissionDenied, PreconditionFailed, ValidationFailed
from alignment_service.idempotency.models import IdempotencyRecord
from alignment_service.idempotency.services import (
    IdempotencyKeyReused,
    Outcome,
    request_fingerprint,
    run_idempotently,
)
from alignment_service.outbox import services as outbox
from alignment_service.outbox.models import OutboxMessage
from goals import ingest, selectors, services
from goals.models import DirectionVersion, Goal, Metric, MetricChange, Reading
from goals.services import ReadingInput
from teams.demo import DEMO_ORG_SLUG
from teams.models import Organization
from tests.factories import CycleFactory, GoalFactory, MetricFactory, PillarFactory, TeamFactory

UTC = datetime.UTC
RESCORE_TASK = "feedback.rescore_org"


@pytest.fixture
def as_admin(org, admin):
    return Access(org=org, user=admin, role=Role.ADMIN)


@pytest.fixture
def as_member(org, member):
    return Access(org=org, user=member, role=Role.MEMBER)


def at(day, hour=0):
    return datetime.datetime(2026, 2, day, hour, tzinfo=UTC)


def record(access, metric, value, when):
    return services.reading_record(access=access, reading=ReadingInput(metric=metric, value=value, observed_at=when))


def pending(org):
    return OutboxMessage.objects.filter(organization=org, task_name=RESCORE_TASK, dispatched_at__isnull=True)


# --- Direction --------------------------------------------------------------------------------


def test_direction_versions_are_numbered_per_org(org, other_org, as_admin, admin):
    for expected in (1, 2, 3):
        version = services.direction_update(access=as_admin, vision=f"v{expected}", mission="m", values=[])
        assert version.version == expected
        assert version.created_by == admin
    other = services.direction_update(access=Access(org=other_org, role=Role.OWNER), vision="", mission="", values=[])
    assert other.version == 1
    assert selectors.direction_current(org=org).vision == "v3"


def test_a_direction_change_based_on_a_stale_version_is_refused(org, as_admin):
    services.direction_update(access=as_admin, vision="a", mission="", values=[], expected_version=0)
    with pytest.raises(PreconditionFailed):
        services.direction_update(access=as_admin, vision="b", mission="", values=[], expected_version=0)
    assert DirectionVersion.objects.filter(organization=org).count() == 1


# --- Pillars and cycles -----------------------------------------------------------------------


def test_only_admins_and_the_teams_lead_write_pillars(org, member, as_member, member_of):
    led = TeamFactory(organization=org, lead=member)
    not_led = TeamFactory(organization=org, lead=member_of(org, Role.MEMBER))
    pillar = services.pillar_create(access=as_member, title="Ours", team=led)
    assert pillar.owner == member
    with pytest.raises(PermissionDenied):
        services.pillar_create(access=as_member, title="Company")
    with pytest.raises(PermissionDenied):
        services.pillar_create(access=as_member, title="Theirs", team=not_led)
    with pytest.raises(PermissionDenied):
        services.pillar_update(access=as_member, pillar=pillar, team=not_led)


def test_a_pillar_chain_cannot_be_closed_into_a_loop(org, as_admin):
    chain = [PillarFactory(organization=org)]
    for _ in range(4):
        chain.append(PillarFactory(organization=org, parent=chain[-1]))
    with pytest.raises(ValidationFailed) as refused:
        services.pillar_update(access=as_admin, pillar=chain[0], parent=chain[-1])
    assert refused.value.attr == "parent"
    services.pillar_update(access=as_admin, pillar=chain[-1], parent=chain[1])
    assert chain[-1].parent == chain[1]


def test_a_cycle_in_use_cannot_be_deleted(org, as_admin):
    cycle = CycleFactory(organization=org)
    GoalFactory(organization=org, cycle=cycle)
    with pytest.raises(Conflict) as refused:
        services.cycle_delete(access=as_admin, cycle=cycle)
    assert refused.value.code == "cycle_in_use"


def test_cycle_names_and_dates_are_checked(org, as_admin):
    services.cycle_create(
        access=as_admin, name="Q1", starts_on=datetime.date(2026, 1, 1), ends_on=datetime.date(2026, 3, 31)
    )
    with pytest.raises(ValidationFailed) as duplicate:
        services.cycle_create(
            access=as_admin, name="Q1", starts_on=datetime.date(2026, 1, 1), ends_on=datetime.date(2026, 3, 31)
        )
    assert duplicate.value.attr == "name"
    with pytest.raises(ValidationFailed) as reversed_dates:
        services.cycle_create(
            access=as_admin, name="Q2", starts_on=datetime.date(2026, 4, 1), ends_on=datetime.date(2026, 3, 1)
        )
    assert reversed_dates.value.attr == "ends_on"


# --- Goals ------------------------------------------------------------------------------------


def test_a_goal_window_is_in_the_orgs_time_zone(org, as_admin):
    org.timezone = "Asia/Tokyo"
    org.save()
    goal = services.goal_create(
        access=as_admin, title="x", starts_on=datetime.date(2026, 1, 1), due_on=datetime.date(2026, 1, 31)
    )
    assert goal.window_start_ts == datetime.datetime(2025, 12, 31, 15, tzinfo=UTC).timestamp()
    assert goal.window_end_ts == datetime.datetime(2026, 1, 31, 15, tzinfo=UTC).timestamp()


def test_moving_a_goal_to_another_cycle_moves_its_dates_and_its_metrics_windows(org, as_admin):
    goal = services.goal_create(
        access=as_admin, title="x", starts_on=datetime.date(2026, 1, 1), due_on=datetime.date(2026, 3, 31)
    )
    follows = MetricFactory(goal=goal)
    own_dates = MetricFactory(goal=goal, starts_on=datetime.date(2026, 1, 1), due_on=datetime.date(2026, 1, 31))
    cycle = CycleFactory(organization=org, starts_on=datetime.date(2026, 7, 1), ends_on=datetime.date(2026, 9, 30))

    goal = services.goal_update(access=as_admin, goal=goal, cycle=cycle)
    assert (goal.starts_on, goal.due_on, goal.version) == (cycle.starts_on, cycle.ends_on, 2)
    follows.refresh_from_db()
    own_dates.refresh_from_db()
    assert follows.window_start_ts == goal.window_start_ts
    assert follows.window_end_ts == goal.window_end_ts
    assert own_dates.window_start_ts == datetime.datetime(2026, 1, 1, tzinfo=UTC).timestamp()


def test_a_goal_owner_edits_their_goal_but_cannot_move_it_to_another_team(org, member, as_member, member_of):
    team = TeamFactory(organization=org, lead=member_of(org, Role.MEMBER))
    other = TeamFactory(organization=org)
    goal = GoalFactory(organization=org, team=team, owner=member)
    assert services.goal_update(access=as_member, goal=goal, title="Sharper").title == "Sharper"
    with pytest.raises(PermissionDenied):
        services.goal_update(access=as_member, goal=goal, team=other)
    with pytest.raises(PermissionDenied):
        services.goal_update(access=as_member, goal=GoalFactory(organization=org, team=team), title="Not mine")


def test_a_goal_chain_cannot_be_closed_into_a_loop(org, as_admin):
    a = GoalFactory(organization=org)
    b = GoalFactory(organization=org, parent=a)
    c = GoalFactory(organization=org, parent=b)
    with pytest.raises(ValidationFailed) as refused:
        services.goal_update(access=as_admin, goal=a, parent=c)
    assert (refused.value.attr, refused.value.code) == ("parent", "cycle")
    a.refresh_from_db()
    assert (a.parent_id, a.version) == (None, 1)


def test_goal_delete_refuses_goals_with_readings_or_children(org, as_admin):
    metric = MetricFactory(goal=GoalFactory(organization=org))
    Reading.objects.create(organization=org, metric=metric, observed_at=at(1), value=1)
    with pytest.raises(Conflict) as with_readings:
        services.goal_delete(access=as_admin, goal=metric.goal)
    assert with_readings.value.code == "goal_has_readings"

    parent = GoalFactory(organization=org)
    GoalFactory(organization=org, parent=parent)
    with pytest.raises(Conflict) as with_children:
        services.goal_delete(access=as_admin, goal=parent)
    assert with_children.value.code == "goal_has_children"


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


# --- Selectors --------------------------------------------------------------------------------


def test_metrics_are_found_by_key_or_id_inside_the_org_only(org, other_org):
    metric = MetricFactory(goal=GoalFactory(organization=org), key="dau")
    foreign = MetricFactory(goal=GoalFactory(organization=other_org), key="wau")
    found = selectors.metrics_by_reference(org=org, references={"dau", str(metric.pk), "wau", str(foreign.pk), "x"})
    assert found == {"dau": metric, str(metric.pk): metric}


def test_the_tree_lists_company_goals_then_goals_whose_parent_is_hidden(org):
    team = TeamFactory(organization=org)
    company = GoalFactory(organization=org, title="Company")
    cancelled = GoalFactory(organization=org, title="Dropped", status="cancelled")
    orphan = GoalFactory(organization=org, team=team, parent=cancelled)
    child = GoalFactory(organization=org, team=team, parent=company)
    tree = selectors.alignment_tree(org=org)
    assert [node["goal"]["id"] for node in tree["goals"]] == [company.pk, orphan.pk]
    assert [node["goal"]["id"] for node in tree["goals"][0]["children"]] == [child.pk]


def test_goal_health_is_computed_by_the_database(org):
    now_ts = datetime.datetime(2026, 7, 2, tzinfo=UTC).timestamp()  # about half of 2026 elapsed
    made = {
        "on_track": GoalFactory(organization=org, progress=0.5),
        "at_risk": GoalFactory(organization=org, progress=0.4),
        "off_track": GoalFactory(organization=org, progress=0.1),
        "no_data": GoalFactory(organization=org),
    }
    health = dict(selectors.goal_list(org=org, now_ts=now_ts).values_list("id", "health"))
    assert {name: health[goal.pk] for name, goal in made.items()} == {name: name for name in made}


# --- Batch parsing ----------------------------------------------------------------------------


def test_parse_batch_names_every_bad_item_up_to_the_limit(org, settings):
    MetricFactory(goal=GoalFactory(organization=org), key="dau")
    settings.BATCH_MAX_ERRORS = 3
    items = [{"metric": "dau", "value": "x", "observed_at": "nope"} for _ in range(5)]
    with pytest.raises(ValidationError) as refused:
        ingest.parse_batch(org=org, payload={"readings": items})
    errors = refused.value.detail["readings"]
    assert sum(len(messages) for item in errors.values() for messages in item.values()) == 3
    assert set(errors["0"]) == {"value", "observed_at"}


def test_parse_batch_resolves_keys_and_ids(org):
    metric = MetricFactory(goal=GoalFactory(organization=org), key="dau")
    parsed = ingest.parse_batch(
        org=org,
        payload={
            "readings": [
                {"metric": "dau", "value": 1, "observed_at": "2026-02-01T00:00:00Z"},
                {"metric": str(metric.pk), "value": 2.5, "observed_at": "2026-02-01T01:00:00+00:00", "source": "s"},
            ]
        },
    )
    assert [(r.metric.pk, r.value, r.observed_at, r.source) for r in parsed] == [
        (metric.pk, 1.0, at(1), ""),
        (metric.pk, 2.5, at(1, 1), "s"),
    ]


# --- The idempotency kernel -------------------------------------------------------------------


def test_run_idempotently_runs_once_and_replays(org):
    calls = []

    def operation():
        calls.append(1)
        return Outcome(status=200, body={"n": len(calls)})

    first = run_idempotently(org=org, credential="user:1", key="k", body={"a": 1, "b": 2}, operation=operation)
    again = run_idempotently(org=org, credential="user:1", key="k", body={"b": 2, "a": 1}, operation=operation)
    assert (first.body, first.replayed) == ({"n": 1}, False)
    assert (again.status, again.body, again.replayed) == (200, {"n": 1}, True)
    assert calls == [1]
    with pytest.raises(IdempotencyKeyReused):
        run_idempotently(org=org, credential="user:1", key="k", body={"a": 2}, operation=operation)
    other = run_idempotently(org=org, credential="key:7", key="k", body={"a": 1, "b": 2}, operation=operation)
    assert (other.body, other.replayed) == ({"n": 2}, False)


def test_a_failed_operation_releases_its_key_and_rolls_back(org):
    def failing():
        GoalFactory(organization=org)
        raise ValidationFailed("bad")

    with pytest.raises(ValidationFailed):
        run_idempotently(org=org, credential="user:1", key="k", body={}, operation=failing)
    assert not IdempotencyRecord.objects.exists()
    assert not Goal.objects.exists()
    ok = run_idempotently(org=org, credential="user:1", key="k", body={}, operation=lambda: Outcome(200, {}))
    assert not ok.replayed


def test_a_running_claim_is_a_conflict_until_it_goes_stale(org, settings):
    IdempotencyRecord.objects.create(
        organization=org, credential="user:1", key="k", request_hash=request_fingerprint({"a": 1})
    )
    with pytest.raises(Conflict) as running:
        run_idempotently(org=org, credential="user:1", key="k", body={"a": 1}, operation=lambda: Outcome(200, {}))
    assert running.value.code == "idempotency_in_progress"

    IdempotencyRecord.objects.update(
        created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_STALE_SECONDS + 1)
    )
    outcome = run_idempotently(org=org, credential="user:1", key="k", body={"a": 1}, operation=lambda: Outcome(200, {}))
    assert not outcome.replayed
    assert IdempotencyRecord.objects.get().response_status == 200


@pytest.mark.parametrize(
    ("current", "wanted", "allowed"),
    [
        ("draft", "active", True),
        ("draft", "achieved", False),
        ("draft", "missed", False),
        ("active", "achieved", True),
        ("active", "missed", True),
        ("active", "cancelled", True),
        ("achieved", "active", True),
        ("cancelled", "active", False),
        ("cancelled", "draft", True),
    ],
)
def test_goal_status_follows_the_lifecycle(org, owner, current, wanted, allowed):
    from alignment_service.access import Access, Role
    from alignment_service.errors import Conflict
    from tests.factories import GoalFactory

    goal = GoalFactory(organization=org, status=current)
    access = Access(org=org, user=owner, role=Role.OWNER)
    if allowed:
        assert services.goal_update(access=access, goal=goal, status=wanted).status == wanted
    else:
        with pytest.raises(Conflict) as refused:
            services.goal_update(access=access, goal=goal, status=wanted)
        assert refused.value.code == "status_transition"
        goal.refresh_from_db()
        assert goal.status == current


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


def test_an_unknown_field_is_a_type_error_not_silently_dropped(org, as_admin):
    cycle = CycleFactory(organization=org)
    goal = services.goal_create(access=as_admin, title="Grow", cycle=cycle)
    pillar = services.pillar_create(access=as_admin, title="Focus")
    metric = services.metric_create(access=as_admin, goal=goal, name="Users", key="users", baseline=0, target=10)
    typos = [
        (services.goal_create, {"titel": "Typo", "cycle": cycle}),
        (services.goal_update, {"goal": goal, "titel": "Typo"}),
        (services.pillar_create, {"titel": "Typo"}),
        (services.pillar_update, {"pillar": pillar, "titel": "Typo"}),
        (services.cycle_create, {"nam": "Typo", "starts_on": cycle.starts_on, "ends_on": cycle.ends_on}),
        (services.cycle_update, {"cycle": cycle, "nam": "Typo"}),
        (services.metric_create, {"goal": goal, "name": "X", "key": "x", "baseline": 0, "target": 1, "unti": "%"}),
        (services.metric_update, {"metric": metric, "targte": 5}),
    ]
    for service, kwargs in typos:
        with pytest.raises(TypeError):
            service(access=as_admin, **kwargs)

    assert list(Goal.objects.filter(organization=org).values_list("title", flat=True)) == ["Grow"]
    assert Metric.objects.get(pk=metric.pk).target == 10


def test_an_update_changes_only_the_fields_it_is_given(org, as_admin):
    goal = services.goal_create(
        access=as_admin, title="Grow", description="Why", cycle=CycleFactory(organization=org), weight=2.0
    )
    services.goal_update(access=as_admin, goal=goal, title="Grow faster")

    goal.refresh_from_db()
    assert (goal.title, goal.description, goal.weight) == ("Grow faster", "Why", 2.0)
    services.goal_update(access=as_admin, goal=goal, parent=None, owner=None)
    goal.refresh_from_db()
    assert (goal.parent_id, goal.owner_id, goal.title) == (None, None, "Grow faster")
