"""Goals: who may write them, their dates and lifecycle, and the cascade's shape."""

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError

from alignment_service.access import Access
from alignment_service.db import check_parent_acyclic, check_parent_depth, delete_or_conflict
from alignment_service.errors import Conflict, PermissionDenied
from alignment_service.notifications.webhooks import emit_event
from alignment_service.unset import UNSET, NotGiven, given
from goals.derived import goals_refresh_progress, metrics_refresh, refresh_metric_windows, set_goal_window
from goals.models import Cycle, Goal, GoalStatus, GoalStrategy, Reading, StrategyPillar
from goals.services.common import (
    check_dates,
    check_version,
    is_team_lead,
    owe_rescore,
    record_activity,
    writes_derived_values,
)
from teams.models import Organization, Team, User


def _emit_goal_event(org: Organization, event_type: str, goal: Goal) -> None:
    data = {
        "id": str(goal.pk), "title": goal.title, "team": str(goal.team_id) if goal.team_id else None,
        "owner": goal.owner_id, "parent": str(goal.parent_id) if goal.parent_id else None, "status": goal.status,
        "starts_on": goal.starts_on.isoformat(), "due_on": goal.due_on.isoformat(), "version": goal.version,
    }  # fmt: skip
    emit_event(org=org, event_type=event_type, data=data, event_key=f"{event_type}:{goal.pk}:{goal.version}")


def _require_goal_editor(access: Access, goal: Goal | None, team: Team | None) -> None:
    """Admins write any goal; a team's lead writes its goals; an owner writes their own goal."""
    if access.is_admin or is_team_lead(access, team):
        return
    if (
        goal is not None
        and team is not None
        and access.user is not None
        and goal.owner_id == access.user.pk
        and goal.team_id == team.pk
    ):
        return
    if team is None:
        raise PermissionDenied("Only admins can write company goals.")
    raise PermissionDenied("Only the team's lead, the goal's owner or an admin can write this team's goals.")


def _resolve_goal_dates(fields: dict[str, Any], goal: Goal | None) -> None:
    """Dates not given come from the cycle named in this write (or, for a new goal, its cycle);
    otherwise an existing goal keeps its dates, and a new one must give them."""
    cycle = fields.get("cycle")
    for name, from_cycle in (("starts_on", "starts_on"), ("due_on", "ends_on")):
        if fields.get(name) is not None:
            continue
        if cycle is not None:
            fields[name] = getattr(cycle, from_cycle)
        else:
            fields.pop(name, None)
    if goal is None:
        missing = [name for name in ("starts_on", "due_on") if name not in fields]
        if missing:
            raise DjangoValidationError(
                {name: DjangoValidationError("Give a cycle or both dates.", code="required") for name in missing}
            )
    check_dates(fields.get("starts_on", goal and goal.starts_on), fields.get("due_on", goal and goal.due_on))


#: The goal lifecycle: a draft goes live or is dropped; a live goal ends achieved, missed or
#: cancelled; an ended goal can be reopened or withdrawn, a cancelled one revived as a draft.
STATUS_CHANGES = {
    GoalStatus.DRAFT: {GoalStatus.ACTIVE, GoalStatus.CANCELLED},
    GoalStatus.ACTIVE: {GoalStatus.ACHIEVED, GoalStatus.MISSED, GoalStatus.CANCELLED, GoalStatus.DRAFT},
    GoalStatus.ACHIEVED: {GoalStatus.ACTIVE, GoalStatus.CANCELLED},
    GoalStatus.MISSED: {GoalStatus.ACTIVE, GoalStatus.CANCELLED},
    GoalStatus.CANCELLED: {GoalStatus.DRAFT},
}


def _check_status_change(current: str, wanted: str) -> None:
    if wanted != current and wanted not in STATUS_CHANGES[GoalStatus(current)]:
        allowed = ", ".join(sorted(STATUS_CHANGES[GoalStatus(current)]))
        raise Conflict(f"A {current} goal can become {allowed}, not {wanted}.", code="status_transition")


def _check_goal_depth(goal: Goal, parent: Goal | None) -> None:
    limit = settings.GOAL_MAX_DEPTH
    message = f"The cascade may be at most {limit} goals deep; this parent would make it deeper."
    check_parent_depth(goal, parent, max_depth=limit, message=message)


@writes_derived_values
def goal_create(
    *,
    access: Access,
    title: str,
    description: str = "",
    team: Team | None = None,
    owner: User | NotGiven | None = UNSET,
    parent: Goal | None = None,
    strategies: Sequence[StrategyPillar] = (),
    cycle: Cycle | None = None,
    starts_on: date | None = None,
    due_on: date | None = None,
    weight: float = 1.0,
    hypothesis: str = "",
    status: str = GoalStatus.DRAFT,
) -> Goal:
    """A new goal; its owner defaults to the writer and its dates to its cycle's."""
    _require_goal_editor(access, None, team)
    fields: dict[str, Any] = {"cycle": cycle, "starts_on": starts_on, "due_on": due_on}
    _resolve_goal_dates(fields, None)
    goal = Goal(
        organization=access.org, title=title, description=description, team=team, parent=parent, weight=weight,
        hypothesis=hypothesis, status=status, owner=access.user if owner is UNSET else owner, **fields,
    )  # fmt: skip
    _check_goal_depth(goal, parent)
    set_goal_window(goal, access.org)
    goal.save()
    _set_strategies(goal, strategies)
    goals_refresh_progress(org=access.org)
    record_activity(access, "goal.created", "goal", goal.pk, f"created goal '{goal.title}'")
    _emit_goal_event(access.org, "goal.created", goal)
    owe_rescore(access.org)
    return goal


@writes_derived_values
def goal_update(
    *,
    access: Access,
    goal: Goal,
    title: str | NotGiven = UNSET,
    description: str | NotGiven = UNSET,
    team: Team | NotGiven | None = UNSET,
    owner: User | NotGiven | None = UNSET,
    parent: Goal | NotGiven | None = UNSET,
    strategies: Sequence[StrategyPillar] | None = None,
    cycle: Cycle | NotGiven | None = UNSET,
    starts_on: date | NotGiven | None = UNSET,
    due_on: date | NotGiven | None = UNSET,
    weight: float | NotGiven = UNSET,
    hypothesis: str | NotGiven = UNSET,
    status: str | NotGiven = UNSET,
    expected_version: int | None = None,
) -> Goal:
    """Change the fields passed (a field left `UNSET` keeps its value; a date left `None` comes
    from the cycle given with it); `strategies`, when given, replaces the goal's pillars."""
    fields = given(
        title=title, description=description, team=team, owner=owner, parent=parent, cycle=cycle,
        starts_on=starts_on, due_on=due_on, weight=weight, hypothesis=hypothesis, status=status,
    )  # fmt: skip
    goal = Goal.objects.select_for_update(no_key=True).get(pk=goal.pk, organization=access.org)
    check_version(goal.version, expected_version)
    _require_goal_editor(access, goal, goal.team)
    if team is not UNSET:
        _require_goal_editor(access, goal, team)
    if parent is not UNSET:
        check_parent_acyclic(goal, parent)
        _check_goal_depth(goal, parent)
    if status is not UNSET:
        _check_status_change(goal.status, status)
    _resolve_goal_dates(fields, goal)
    before = (goal.window_start_ts, goal.window_end_ts, goal.parent_id, goal.status, goal.weight)
    for name, value in fields.items():
        setattr(goal, name, value)
    set_goal_window(goal, access.org)
    goal.version += 1
    goal.save()
    if strategies is not None:
        _set_strategies(goal, strategies)
    if before[:2] != (goal.window_start_ts, goal.window_end_ts):
        refresh_metric_windows(access.org, goal.metrics.all())
        metrics_refresh(org=access.org, metric_ids=goal.metrics.values_list("id", flat=True))
    if before != (goal.window_start_ts, goal.window_end_ts, goal.parent_id, goal.status, goal.weight):
        goals_refresh_progress(org=access.org, goal_ids={goal.pk, before[2]} - {None})
    changes = {**fields, **({"strategies": [p.pk for p in strategies]} if strategies is not None else {})}
    record_activity(access, "goal.updated", "goal", goal.pk, f"updated goal '{goal.title}'", changes)
    _emit_goal_event(access.org, "goal.updated", goal)
    owe_rescore(access.org)
    return goal


@writes_derived_values
def goal_delete(*, access: Access, goal: Goal) -> None:
    _require_goal_editor(access, goal, goal.team)
    if Reading.objects.filter(organization=access.org, metric__goal=goal).exists():
        raise Conflict("This goal has readings: cancel it instead of deleting it.", code="goal_has_readings")
    goal_id, title = goal.pk, goal.title
    delete_or_conflict(goal, "Other goals contribute to this one; move them first.", code="goal_has_children")
    goals_refresh_progress(org=access.org)
    record_activity(access, "goal.deleted", "goal", goal_id, f"deleted goal '{title}'")
    owe_rescore(access.org)


def _set_strategies(goal: Goal, pillars: Iterable[StrategyPillar]) -> None:
    GoalStrategy.objects.filter(goal=goal).delete()
    GoalStrategy.objects.bulk_create(
        [GoalStrategy(organization_id=goal.organization_id, goal=goal, pillar=pillar) for pillar in set(pillars)]
    )
