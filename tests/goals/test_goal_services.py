"""Goals services against the database: the direction, pillars, cycles and goals.

What each write keeps true: versions numbered without gaps, no cycles in the cascade, dates in
the organization's time zone, the goal lifecycle, and only the fields it is given (an unknown
one is a TypeError)."""

import datetime

import pytest

from alignment_service.access import Access, Role
from alignment_service.errors import Conflict, PermissionDenied, PreconditionFailed, ValidationFailed
from goals import selectors, services
from goals.models import DirectionVersion, Goal, Metric, Reading
from tests.factories import CycleFactory, GoalFactory, MetricFactory, PillarFactory, TeamFactory
from tests.goals.support import UTC, at

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
