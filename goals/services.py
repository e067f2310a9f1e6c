"""Writes for the direction, pillars, cycles, goals, metrics and readings.

Every write that can change a score owes the workers a rescore of the organization through
the outbox, in the same transaction. Derived values (metric current, forecast and progress;
goal progress) are refreshed in the same transaction too, so reads reflect writes.
"""

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from alignment_service.activity.services import activity_record
from alignment_service.api.access import Access
from alignment_service.db import (
    DERIVED_VALUES_LOCK,
    bulk_update_values,
    check_parent_acyclic,
    check_parent_depth,
    delete_or_conflict,
    lock_org,
    matching_identifier,
)
from alignment_service.errors import Conflict, PermissionDenied, PreconditionFailed, ValidationFailed
from alignment_service.notifications.webhooks import emit_event
from alignment_service.outbox.services import outbox_enqueue
from goals import progress as formulas
from goals.models import (
    Cycle,
    DirectionVersion,
    Goal,
    GoalStatus,
    GoalStrategy,
    Metric,
    MetricChange,
    MetricDirection,
    MetricRole,
    Reading,
    StrategyPillar,
)
from teams.models import Organization, Team
from teams.org_settings import GOALPOST_PROPOSAL

RESCORE_TASK = "feedback.rescore_org"
T = TypeVar("T")
ROLLUP_EXCLUDED = (GoalStatus.DRAFT, GoalStatus.CANCELLED)


def _record(
    access: Access,
    verb: str,
    subject_type: str,
    subject_id: Any,
    summary: str,
    fields: dict[str, Any] | None = None,
    *,
    data: dict[str, Any] | None = None,
) -> None:
    """An activity entry with `data`; changed `fields` are listed by name (values may be objects)."""
    data = dict(data or {})
    if fields:
        data["fields"] = sorted(fields)
    if fields and "strategies" in fields:
        data["strategies"] = [str(pk) for pk in fields["strategies"]]
    activity_record(
        access=access, verb=verb, subject_type=subject_type, subject_id=subject_id, summary=summary, data=data
    )


def _emit_goal_event(org: Organization, event_type: str, goal: Goal) -> None:
    data = {
        "id": str(goal.pk), "title": goal.title, "team": str(goal.team_id) if goal.team_id else None,
        "owner": goal.owner_id, "parent": str(goal.parent_id) if goal.parent_id else None, "status": goal.status,
        "starts_on": goal.starts_on.isoformat(), "due_on": goal.due_on.isoformat(), "version": goal.version,
    }  # fmt: skip
    emit_event(org=org, event_type=event_type, data=data, event_key=f"{event_type}:{goal.pk}:{goal.version}")


def writes_derived_values(service: Callable[..., T]) -> Callable[..., T]:
    """Run `service` atomically, one at a time per organization among the writes that change
    stored progress (see the locking rules in `alignment_service.db`)."""

    @functools.wraps(service)
    @transaction.atomic
    def run(*args: Any, **kwargs: Any) -> T:
        lock_org(DERIVED_VALUES_LOCK, kwargs["access"].org.pk)
        return service(*args, **kwargs)

    return run


def owe_rescore(org: Organization, *, goals: Iterable[Any] | None = None, teams: Iterable[Any] | None = None) -> None:
    """Record that `org` owes a rescore; pending ones coalesce into one. With `goals` or
    `teams`, of what a change to those can move (their ancestors and teams with them); without,
    of the whole organization."""
    kwargs: dict[str, Any] = {"org_id": str(org.pk)}
    if goals is not None or teams is not None:
        kwargs["goal_ids"] = sorted({str(pk) for pk in goals or ()})
        kwargs["team_ids"] = sorted({str(pk) for pk in teams or ()})
    outbox_enqueue(org=org, task_name=RESCORE_TASK, kwargs=kwargs, dedupe_key=f"rescore:{org.pk}")


def check_version(current: int, expected: int | None) -> None:
    """Refuse a lost update: the client based its change on another version."""
    if expected is not None and expected != current:
        raise PreconditionFailed(f"This was changed meanwhile (now version {current}); reload and retry.")


def _is_team_lead(access: Access, team: Team | None) -> bool:
    return team is not None and access.user is not None and team.lead_id == access.user.pk


def member_departed(*, org: Organization, user_id: int) -> None:
    """A member left: the goals and pillars they owned are left unowned."""
    Goal.objects.filter(organization=org, owner_id=user_id).update(owner=None)
    StrategyPillar.objects.filter(organization=org, owner_id=user_id).update(owner=None)


def org_rules_changed(*, org: Organization, changed: set[str]) -> None:
    """A new time zone moves every window; a new forecast window changes every forecast."""
    if "timezone" in changed:
        for goal in Goal.objects.filter(organization=org):
            _set_windows(goal, org)
            goal.save(update_fields=["window_start_ts", "window_end_ts"])
        _refresh_metric_windows(org, Metric.objects.filter(organization=org).select_related("goal"))
    if changed & {"timezone", "forecast_window_days"}:
        metrics_refresh(org=org, metric_ids=Metric.objects.filter(organization=org).values_list("id", flat=True))
        goals_refresh_progress(org=org)
    owe_rescore(org)


@transaction.atomic
def derived_values_refresh(*, org: Organization) -> None:
    """Recompute every stored derived value of the organization (after a release adds one:
    `manage.py refresh_derived_values`), under the same lock as the writes that change them."""
    lock_org(DERIVED_VALUES_LOCK, org.pk)
    metrics_refresh(org=org, metric_ids=Metric.objects.filter(organization=org).values_list("id", flat=True))
    goals_refresh_progress(org=org)
    owe_rescore(org)


# --- Direction --------------------------------------------------------------------------------


@transaction.atomic
def direction_update(
    *, access: Access, vision: str, mission: str, values: list[dict[str, str]], expected_version: int | None = None
) -> DirectionVersion:
    """Make a new version of the direction; versions are numbered 1, 2, … per organization."""
    Organization.objects.select_for_update(no_key=True).filter(pk=access.org.pk).first()
    current = DirectionVersion.objects.filter(organization=access.org).order_by("-version").first()
    check_version(current.version if current else 0, expected_version)
    direction = DirectionVersion.objects.create(
        organization=access.org,
        version=(current.version if current else 0) + 1,
        vision=vision,
        mission=mission,
        values=values,
        created_by=access.user,
    )
    activity_record(
        access=access, verb="direction.updated", subject_type="direction", subject_id=direction.version,
        summary=f"published version {direction.version} of the direction",
    )  # fmt: skip
    return direction


# --- Strategy pillars ---------------------------------------------------------------------------


def _require_pillar_editor(access: Access, team: Team | None) -> None:
    if access.is_admin or _is_team_lead(access, team):
        return
    if team is None:
        raise PermissionDenied("Only admins can write company pillars.")
    raise PermissionDenied("Only the team's lead or an admin can write its area strategy.")


@transaction.atomic
def pillar_create(*, access: Access, **fields: Any) -> StrategyPillar:
    _require_pillar_editor(access, fields.get("team"))
    fields.setdefault("owner", access.user)
    pillar = StrategyPillar.objects.create(organization=access.org, **fields)
    _record(access, "strategy.created", "strategy", pillar.pk, f"created strategy pillar '{pillar.title}'")
    return pillar


@transaction.atomic
def pillar_update(*, access: Access, pillar: StrategyPillar, **fields: Any) -> StrategyPillar:
    _require_pillar_editor(access, pillar.team)
    if "team" in fields:
        _require_pillar_editor(access, fields["team"])
    if "parent" in fields:
        check_parent_acyclic(pillar, fields["parent"])
    for name, value in fields.items():
        setattr(pillar, name, value)
    pillar.save()
    _record(access, "strategy.updated", "strategy", pillar.pk, f"updated strategy pillar '{pillar.title}'", fields)
    return pillar


@transaction.atomic
def pillar_delete(*, access: Access, pillar: StrategyPillar) -> None:
    _require_pillar_editor(access, pillar.team)
    pillar_id, title = pillar.pk, pillar.title
    delete_or_conflict(pillar, "Pillars refine this one; move them first.", code="pillar_in_use")
    _record(access, "strategy.deleted", "strategy", pillar_id, f"deleted strategy pillar '{title}'")
    owe_rescore(access.org)


# --- Cycles -----------------------------------------------------------------------------------


@transaction.atomic
def cycle_create(*, access: Access, **fields: Any) -> Cycle:
    _check_dates(fields["starts_on"], fields["ends_on"], end_attr="ends_on")
    _check_unique_cycle_name(access.org, fields["name"])
    cycle = Cycle.objects.create(organization=access.org, **fields)
    _record(access, "cycle.created", "cycle", cycle.pk, f"created cycle {cycle.name}")
    return cycle


@transaction.atomic
def cycle_update(*, access: Access, cycle: Cycle, **fields: Any) -> Cycle:
    _check_dates(fields.get("starts_on", cycle.starts_on), fields.get("ends_on", cycle.ends_on), end_attr="ends_on")
    if "name" in fields:
        _check_unique_cycle_name(access.org, fields["name"], exclude=cycle.pk)
    for name, value in fields.items():
        setattr(cycle, name, value)
    cycle.save()
    _record(access, "cycle.updated", "cycle", cycle.pk, f"updated cycle {cycle.name}", fields)
    return cycle


def _check_unique_cycle_name(org: Organization, name: str, exclude: Any = None) -> None:
    if Cycle.objects.filter(organization=org, name=name).exclude(pk=exclude).exists():
        raise ValidationFailed("A cycle with this name already exists.", code="unique", attr="name")


@transaction.atomic
def cycle_delete(*, access: Access, cycle: Cycle) -> None:
    cycle_id, name = cycle.pk, cycle.name
    delete_or_conflict(cycle, "Goals use this cycle; move them first.", code="cycle_in_use")
    _record(access, "cycle.deleted", "cycle", cycle_id, f"deleted cycle {name}")


def _check_dates(starts_on: date | None, ends_on: date | None, *, end_attr: str = "due_on") -> None:
    """Dates in order and in the supported range (also when they come from a cycle or goal)."""
    for value, attr in ((starts_on, "starts_on"), (ends_on, end_attr)):
        if value is not None and not settings.DATE_MIN <= value <= settings.DATE_MAX:
            low, high = settings.DATE_MIN.isoformat(), settings.DATE_MAX.isoformat()
            raise ValidationFailed(f"Must be between {low} and {high}.", code="out_of_range", attr=attr)
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        raise ValidationFailed("Must not be before the start date.", code="date_order", attr=end_attr)


# --- Goals ------------------------------------------------------------------------------------

GOAL_FIELDS = (
    "title", "description", "team", "owner", "parent", "cycle", "starts_on", "due_on", "weight", "hypothesis", "status",
)  # fmt: skip


def _require_goal_editor(access: Access, goal: Goal | None, team: Team | None) -> None:
    """Admins write any goal; a team's lead writes its goals; an owner writes their own goal."""
    if access.is_admin or _is_team_lead(access, team):
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
    _check_dates(fields.get("starts_on", goal and goal.starts_on), fields.get("due_on", goal and goal.due_on))


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


def _set_windows(goal: Goal, org: Organization) -> None:
    goal.window_start_ts, goal.window_end_ts = formulas.window_bounds_ts(goal.starts_on, goal.due_on, org.timezone)


@writes_derived_values
def goal_create(*, access: Access, strategies: Sequence[StrategyPillar] = (), **fields: Any) -> Goal:
    _require_goal_editor(access, None, fields.get("team"))
    _resolve_goal_dates(fields, None)
    fields.setdefault("owner", access.user)
    goal = Goal(organization=access.org, **{k: v for k, v in fields.items() if k in GOAL_FIELDS})
    _check_goal_depth(goal, fields.get("parent"))
    _set_windows(goal, access.org)
    goal.save()
    _set_strategies(goal, strategies)
    goals_refresh_progress(org=access.org)
    _record(access, "goal.created", "goal", goal.pk, f"created goal '{goal.title}'")
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
    _set_windows(goal, access.org)
    goal.version += 1
    goal.save()
    if strategies is not None:
        _set_strategies(goal, strategies)
    if before[:2] != (goal.window_start_ts, goal.window_end_ts):
        _refresh_metric_windows(access.org, goal.metrics.all())
        metrics_refresh(org=access.org, metric_ids=goal.metrics.values_list("id", flat=True))
    if before != (goal.window_start_ts, goal.window_end_ts, goal.parent_id, goal.status, goal.weight):
        goals_refresh_progress(org=access.org, goal_ids={goal.pk, before[2]} - {None})
    changes = {**fields, **({"strategies": [p.pk for p in strategies]} if strategies is not None else {})}
    _record(access, "goal.updated", "goal", goal.pk, f"updated goal '{goal.title}'", changes)
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
    _record(access, "goal.deleted", "goal", goal_id, f"deleted goal '{title}'")
    owe_rescore(access.org)


def _set_strategies(goal: Goal, pillars: Iterable[StrategyPillar]) -> None:
    GoalStrategy.objects.filter(goal=goal).delete()
    GoalStrategy.objects.bulk_create(
        [GoalStrategy(organization_id=goal.organization_id, goal=goal, pillar=pillar) for pillar in set(pillars)]
    )


def goals_refresh_progress(*, org: Organization, goal_ids: Iterable[Any] | None = None) -> int:
    """Recompute stored goal progress and `p_hit`; write only what changed.

    A goal with metrics averages its metrics' values by weight (metrics without one are left
    out); a goal without metrics averages its children's by their weight, draft and cancelled
    children left out (for `p_hit`, an achieved child counts 1 and a missed one 0: its outcome
    is known). With `goal_ids` (the goals whose metrics changed), only they and their ancestors
    are recomputed, from their siblings' stored values; without, all.
    """
    goals = {
        goal.id: goal
        for goal in Goal.objects.filter(organization=org).only("id", "parent_id", "weight", "status", *ROLLUP_FIELDS)
    }
    scope = set(goals) if goal_ids is None else _with_ancestors(goals, goal_ids)
    metrics_by_goal: dict[Any, list[tuple[float | None, float | None, float]]] = defaultdict(list)
    metric_rows = Metric.objects.filter(organization=org, role=MetricRole.KEY_RESULT)
    if goal_ids is not None:
        metric_rows = metric_rows.filter(goal_id__in=scope)
    for goal_id, *values in metric_rows.values_list("goal_id", "progress", "p_hit", "weight"):
        metrics_by_goal[goal_id].append(tuple(values))  # type: ignore[arg-type]
    children: dict[Any, list[Goal]] = defaultdict(list)
    for goal in goals.values():
        children[goal.parent_id].append(goal)
    changed: dict[Any, Goal] = {}
    for index, field in enumerate(ROLLUP_FIELDS):
        rolled = _roll_up(goals, scope, children, metrics_by_goal, field, index)
        for goal_id, value in rolled.items():
            if value != getattr(goals[goal_id], field):
                setattr(goals[goal_id], field, value)
                changed[goal_id] = goals[goal_id]
    bulk_update_values(list(changed.values()), [*ROLLUP_FIELDS])
    return len(changed)


ROLLUP_FIELDS = ("progress", "p_hit")
KNOWN_OUTCOME: dict[str, float] = {GoalStatus.ACHIEVED: 1.0, GoalStatus.MISSED: 0.0}


def _roll_up(
    goals: dict[Any, Goal],
    scope: set[Any],
    children: dict[Any, list[Goal]],
    metrics_by_goal: dict[Any, list[tuple[float | None, float | None, float]]],
    field: str,
    index: int,
) -> dict[Any, float | None]:
    computed: dict[Any, float | None] = {}

    def value_of(goal: Goal) -> float | None:
        return computed.get(goal.id, getattr(goal, field)) if goal.id in scope else getattr(goal, field)

    def as_child(goal: Goal) -> float | None:
        if field == "p_hit" and goal.status in KNOWN_OUTCOME:
            return KNOWN_OUTCOME[goal.status]
        return value_of(goal)

    def compute(root: Goal) -> None:
        """Post-order over the subtree of `root`, without recursion: chains may be deep."""
        pending: list[tuple[Goal, list[Goal] | None]] = [(root, None)]
        on_path: set[Any] = set()
        while pending:
            goal, kids = pending.pop()
            if kids is not None:
                on_path.discard(goal.id)
                computed[goal.id] = formulas.weighted_mean((as_child(k), k.weight) for k in kids)
            elif goal.id in scope and goal.id not in computed:
                if goal.id in metrics_by_goal:
                    computed[goal.id] = formulas.weighted_mean((row[index], row[2]) for row in metrics_by_goal[goal.id])
                    continue
                kids = [k for k in children[goal.id] if k.status not in ROLLUP_EXCLUDED and k.id not in on_path]
                on_path.add(goal.id)
                pending.append((goal, kids))
                pending.extend((kid, None) for kid in kids)

    for goal_id in scope:
        compute(goals[goal_id])
    return {goal_id: computed.get(goal_id) for goal_id in scope}


def _with_ancestors(goals: dict[Any, Goal], goal_ids: Iterable[Any]) -> set[Any]:
    scope: set[Any] = set()
    for goal_id in goal_ids:
        while goal_id in goals and goal_id not in scope:
            scope.add(goal_id)
            goal_id = goals[goal_id].parent_id
    return scope


# --- Metrics ----------------------------------------------------------------------------------

METRIC_FIELDS = (
    "goal", "name", "key", "unit", "direction", "baseline", "target", "weight", "starts_on", "due_on",
    "stale_after_days", "role", "threshold",
)  # fmt: skip


def _check_guardrail(role: str, threshold: float | None) -> None:
    if role == MetricRole.GUARDRAIL and threshold is None:
        raise ValidationFailed("A guardrail needs a threshold.", code="required", attr="threshold")
    if role == MetricRole.KEY_RESULT and threshold is not None:
        raise ValidationFailed("Only a guardrail has a threshold.", code="not_a_guardrail", attr="threshold")


def _check_metric_bounds(direction: str, baseline: float, target: float) -> None:
    if baseline == target:
        raise ValidationFailed("Must differ from the baseline.", code="baseline_equals_target", attr="target")
    if direction == MetricDirection.INCREASE and target < baseline:
        raise ValidationFailed(
            "An increasing metric needs a target above its baseline.", code="direction", attr="target"
        )
    if direction == MetricDirection.DECREASE and target > baseline:
        raise ValidationFailed(
            "A decreasing metric needs a target below its baseline.", code="direction", attr="target"
        )


def _check_unique_key(org: Organization, key: str, exclude: Any = None) -> None:
    if matching_identifier(Metric.objects.filter(organization=org), "key", key).exclude(pk=exclude).exists():
        raise ValidationFailed("A metric with this key already exists.", code="unique", attr="key")


def _metric_window(metric: Metric, org: Organization) -> tuple[float, float]:
    goal = metric.goal
    return formulas.window_bounds_ts(metric.starts_on or goal.starts_on, metric.due_on or goal.due_on, org.timezone)


def _refresh_metric_windows(org: Organization, metrics: Iterable[Metric]) -> None:
    changed = []
    for metric in metrics:
        metric.window_start_ts, metric.window_end_ts = _metric_window(metric, org)
        changed.append(metric)
    bulk_update_values(changed, ["window_start_ts", "window_end_ts"])


@writes_derived_values
def metric_create(*, access: Access, **fields: Any) -> Metric:
    _check_unique_key(access.org, fields["key"])
    _check_metric_bounds(fields.get("direction", MetricDirection.INCREASE), fields["baseline"], fields["target"])
    _check_guardrail(fields.get("role", MetricRole.KEY_RESULT), fields.get("threshold"))
    goal = fields["goal"]
    _check_dates(fields.get("starts_on") or goal.starts_on, fields.get("due_on") or goal.due_on)
    metric = Metric(organization=access.org, **{k: v for k, v in fields.items() if k in METRIC_FIELDS})
    metric.window_start_ts, metric.window_end_ts = _metric_window(metric, access.org)
    metric.save()
    goals_refresh_progress(org=access.org, goal_ids=[metric.goal_id])
    _record(access, "metric.created", "metric", metric.pk, f"added metric '{metric.name}' ({metric.key})")
    owe_rescore(access.org)
    return metric


@writes_derived_values
def metric_update(
    *,
    access: Access,
    metric: Metric,
    reason: str = "",
    expected_version: int | None = None,
    proposed_by: Any = None,
    **fields: Any,
) -> Metric:
    """Change a metric; a moved goalpost (baseline, target, due date) is recorded with its old
    and new value. Where the organization moves goalposts by proposal, only an approved
    proposal (`proposed_by`, approved by `access`) moves them."""
    metric = (
        Metric.objects.select_for_update(no_key=True).select_related("goal").get(pk=metric.pk, organization=access.org)
    )
    check_version(metric.version, expected_version)
    previous_goal_id = metric.goal_id
    if "key" in fields:
        _check_unique_key(access.org, fields["key"], exclude=metric.pk)
    _check_metric_bounds(
        fields.get("direction", metric.direction),
        fields.get("baseline", metric.baseline),
        fields.get("target", metric.target),
    )
    _check_guardrail(fields.get("role", metric.role), fields.get("threshold", metric.threshold))
    goal = fields.get("goal", metric.goal)
    _check_dates(
        fields.get("starts_on", metric.starts_on) or goal.starts_on, fields.get("due_on", metric.due_on) or goal.due_on
    )
    moved = [_goalpost_change(access, metric, name, fields[name], reason, proposed_by) for name in GOALPOSTS
             if name in fields and fields[name] != getattr(metric, name)]  # fmt: skip
    if moved and proposed_by is None and access.org.rule_settings["goalpost_changes"] == GOALPOST_PROPOSAL:
        raise Conflict(
            "This organization moves a metric's baseline, target or due date by proposal: "
            "propose the change at /goalpost-proposals/.",
            code="goalpost_proposal_required",
        )
    MetricChange.objects.bulk_create(moved)
    for name, value in fields.items():
        if name in METRIC_FIELDS:
            setattr(metric, name, value)
    metric.window_start_ts, metric.window_end_ts = _metric_window(metric, access.org)
    metric.progress = formulas.progress(baseline=metric.baseline, target=metric.target, current=metric.current)
    metric.version += 1
    metric.save()
    metrics_refresh(org=access.org, metric_ids=[metric.pk])
    goals_refresh_progress(org=access.org, goal_ids={previous_goal_id, metric.goal_id})
    for change in moved:
        old, new = (
            (change.old_value, change.new_value) if change.field != "due_on" else (change.old_date, change.new_date)
        )
        data = {"field": change.field, "old": _jsonable(old), "new": _jsonable(new), "reason": reason}
        if proposed_by is not None:
            data |= {"proposed_by": proposed_by.pk, "approved_by": access.user.pk if access.user else None}
        _record(
            access, f"metric.{change.field}_changed", "metric", metric.pk,
            f"moved the {change.field.replace('_', ' ')} of '{metric.name}' from {_plain(old)} to {_plain(new)}",
            data=data,
        )  # fmt: skip
    if set(fields) - set(GOALPOSTS):
        _record(access, "metric.updated", "metric", metric.pk, f"updated metric '{metric.name}'", fields)
    owe_rescore(access.org)
    return metric


GOALPOSTS = ("baseline", "target", "due_on")


def _goalpost_change(
    access: Access, metric: Metric, name: str, new: Any, reason: str, proposed_by: Any
) -> MetricChange:
    values = {"old_date": metric.due_on, "new_date": new} if name == "due_on" else {
        "old_value": getattr(metric, name), "new_value": new
    }  # fmt: skip
    return MetricChange(
        organization=access.org, metric=metric, field=name, reason=reason, **values,
        changed_by=proposed_by or access.user, approved_by=access.user if proposed_by is not None else None,
    )  # fmt: skip


def _plain(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


@writes_derived_values
def metric_delete(*, access: Access, metric: Metric) -> None:
    if Reading.objects.filter(organization=access.org, metric=metric).exists():
        raise Conflict("This metric has readings and is kept for the record.", code="metric_has_readings")
    metric_id, name, goal_id = metric.pk, metric.name, metric.goal_id
    metric.delete()
    goals_refresh_progress(org=access.org, goal_ids=[goal_id])
    _record(access, "metric.deleted", "metric", metric_id, f"deleted metric '{name}'")
    owe_rescore(access.org)


METRIC_DERIVED_FIELDS = (
    "current", "last_reading_at", "last_reading_ts", "progress", "forecast", "forecast_low", "forecast_high", "p_hit",
)  # fmt: skip


def metrics_refresh(*, org: Organization, metric_ids: Iterable[Any]) -> None:
    """Recompute current value, last reading, progress, forecast and its odds of the given metrics."""
    latest = Reading.objects.filter(metric=OuterRef("pk")).order_by("-observed_at")
    metrics = list(
        Metric.objects.filter(organization=org, id__in=set(metric_ids)).annotate(
            latest_value=Subquery(latest.values("value")[:1]), latest_at=Subquery(latest.values("observed_at")[:1])
        )
    )
    window_days = org.rule_settings["forecast_window_days"]
    points = _forecast_points(org, metrics, window_days)
    for metric in metrics:
        latest_at = metric.latest_at
        metric.current = metric.latest_value
        metric.last_reading_at = latest_at
        metric.last_reading_ts = latest_at.timestamp() if latest_at else None
        metric.progress = formulas.progress(baseline=metric.baseline, target=metric.target, current=metric.current)
        metric.forecast, odds = None, formulas.NO_ODDS
        if metric.last_reading_ts is not None:
            trend = formulas.forecast_points(points[metric.id], now_ts=metric.last_reading_ts, window_days=window_days)
            metric.forecast, odds = formulas.trend_outlook(
                trend, end_ts=metric.window_end_ts, baseline=metric.baseline, target=metric.target
            )
        metric.forecast_low, metric.forecast_high, metric.p_hit = odds.low, odds.high, odds.p_hit
    bulk_update_values(metrics, [*METRIC_DERIVED_FIELDS])


def _forecast_points(org: Organization, metrics: list[Any], window_days: int) -> dict[Any, list[formulas.Point]]:
    """Readings that form each metric's trend: the window ending at its latest reading, or all
    of its readings when fewer than 3 fall in that window.

    Metrics are grouped by the day their window starts, so a batch that touched thousands of
    metrics read on the same days needs a handful of conditions, not one per metric.
    """
    by_cutoff: dict[date, list[Any]] = defaultdict(list)
    for metric in metrics:
        latest = metric.latest_at
        if latest is not None:
            by_cutoff[_window_start_day(latest, window_days)].append(metric.id)
    points: dict[Any, list[formulas.Point]] = defaultdict(list)
    groups = sorted(by_cutoff.items())
    for chunk in range(0, len(groups), 100):
        condition = Q()
        for cutoff, ids in groups[chunk : chunk + 100]:
            condition |= Q(metric_id__in=ids, observed_at__gte=datetime.combine(cutoff, time.min, tzinfo=UTC))
        points.update(_points(Reading.objects.filter(condition, organization=org)))
    latest_by_metric = {m.id: m.latest_at for m in metrics}
    for metric_id, metric_points in points.items():
        latest = latest_by_metric[metric_id]
        assert latest is not None
        floor = latest.timestamp() - window_days * 86400
        points[metric_id] = [p for p in metric_points if p.ts >= floor]
    sparse = [metric.id for metric in metrics if len(points.get(metric.id, ())) < 3]
    if sparse:
        points.update(_points(Reading.objects.filter(organization=org, metric_id__in=sparse)))
    return points


def _window_start_day(latest: datetime, window_days: int) -> date:
    day = latest.astimezone(UTC).date()
    return day - timedelta(days=window_days) if day > date.min + timedelta(days=window_days) else date.min


def _points(readings: Any) -> dict[Any, list[formulas.Point]]:
    points: dict[Any, list[formulas.Point]] = defaultdict(list)
    for metric_id, observed_at, value in readings.values_list("metric_id", "observed_at", "value").iterator(
        chunk_size=5000
    ):
        points[metric_id].append(formulas.Point(observed_at.timestamp(), value))
    return points


# --- Readings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadingInput:
    metric: Metric
    value: float
    observed_at: datetime
    source: str = ""
    note: str = ""


@writes_derived_values
def reading_record(*, access: Access, reading: ReadingInput) -> tuple[Reading, bool]:
    """Store a reading; the same (metric, observed_at) again replaces the value."""
    created, _ = readings_ingest(access=access, readings=[reading])
    stored = Reading.objects.get(metric=reading.metric, observed_at=reading.observed_at)
    return stored, created == 1


@writes_derived_values
def readings_ingest(*, access: Access, readings: Sequence[ReadingInput]) -> tuple[int, int]:
    """Upsert validated readings all at once; returns (created, updated)."""
    if not readings:
        return 0, 0
    metric_ids = {r.metric.pk for r in readings}
    instants = [r.observed_at for r in readings]
    existing = set(
        Reading.objects.filter(
            organization=access.org,
            metric_id__in=metric_ids,
            observed_at__gte=min(instants),
            observed_at__lte=max(instants),
        ).values_list("metric_id", "observed_at")
    )
    now = timezone.now()
    rows = [
        Reading(
            organization=access.org, metric=r.metric, observed_at=r.observed_at, value=r.value,
            source=r.source, note=r.note, created_at=now, updated_at=now,
        )
        for r in sorted(readings, key=lambda r: (str(r.metric.pk), r.observed_at))
    ]  # fmt: skip
    # Sorted, so two batches that share readings take their index locks in the same order.
    Reading.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["metric", "observed_at"],
        update_fields=["value", "source", "note", "updated_at"],
    )
    updated = sum(1 for r in readings if (r.metric.pk, r.observed_at) in existing)
    metrics_refresh(org=access.org, metric_ids=metric_ids)
    goals_refresh_progress(org=access.org, goal_ids={r.metric.goal_id for r in readings})
    created = len(readings) - updated
    if len(readings) == 1:
        _record(
            access, "reading.recorded", "metric", readings[0].metric.pk,
            f"recorded {readings[0].value:g} for metric {readings[0].metric.key}",
            data={
                "observed_at": readings[0].observed_at.isoformat(), "value": readings[0].value,
                "replaced": bool(updated),
            },
        )  # fmt: skip
    else:
        _record(
            access, "readings.ingested", "org", access.org.pk,
            f"ingested {len(readings)} readings for {len(metric_ids)} metric(s)",
            data={"created": created, "updated": updated, "metrics": len(metric_ids)},
        )  # fmt: skip
    owe_rescore(access.org, goals={r.metric.goal_id for r in readings})
    return created, updated
