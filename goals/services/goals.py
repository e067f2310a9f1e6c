"""Goals: who may write them, their dates and lifecycle, and the cascade's shape."""

from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError

from alignment_service.access import Access
from alignment_service.db import check_parent_acyclic, check_parent_depth, delete_or_conflict
from alignment_service.errors import Conflict, PermissionDenied
from alignment_service.notifications.webhooks import emit_event
from goals.derived import goals_refresh_progress, metrics_refresh, refresh_metric_windows, set_goal_window
from goals.models import Goal, GoalStatus, GoalStrategy, Reading, StrategyPillar
from goals.services.common import (
    check_dates,
    check_version,
    is_team_lead,
    owe_rescore,
    record_activity,
    writes_derived_values,
)
from teams.models import Organization, Team


def _emit_goal_event(org: Organization, event_type: str, goal: Goal) -> None:
    data = {
        "id": str(goal.pk), "title": goal.title, "team": str(goal.team_id) if goal.team_id else None,
        "owner": goal.owner_id, "parent": str(goal.parent_id) if goal.parent_id else None, "status": goal.status,
        "starts_on": goal.starts_on.isoformat(), "due_on": goal.due_on.isoformat(), "version": goal.version,
    }  # fmt: skip
    emit_event(org=org, event_type=event_type, data=data, event_key=f"{event_type}:{goal.pk}:{goal.version}")


GOAL_FIELDS = (
    "title", "description", "team", "owner", "parent", "cycle", "starts_on", "due_on", "weight", "hypothesis", "status",
)  # fmt: skip


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
def goal_create(*, access: Access, strategies: Sequence[StrategyPillar] = (), **fields: Any) -> Goal:
    _require_goal_editor(access, None, fields.get("team"))
    _resolve_goal_dates(fields, None)
    fields.setdefault("owner", access.user)
    goal = Goal(organization=access.org, **{k: v for k, v in fields.items() if k in GOAL_FIELDS})
    _check_goal_depth(goal, fields.get("parent"))
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
    strategies: Sequence[StrategyPillar] | None = None,
    expected_version: int | None = None,
    **fields: Any,
) -> Goal:
    goal = Goal.objects.select_for_update(no_key=True).get(pk=goal.pk, organization=access.org)
    check_version(goal.version, expected_version)
    _require_goal_editor(access, goal, goal.team)
    if "team" in fields:
        _require_goal_editor(access, goal, fields["team"])
    if "parent" in fields:
        check_parent_acyclic(goal, fields["parent"])
        _check_goal_depth(goal, fields["parent"])
    if "status" in fields:
        _check_status_change(goal.status, fields["status"])
    _resolve_goal_dates(fields, goal)
    before = (goal.window_start_ts, goal.window_end_ts, goal.parent_id, goal.status, goal.weight)
    for name, value in fields.items():
        if name in GOAL_FIELDS:
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
