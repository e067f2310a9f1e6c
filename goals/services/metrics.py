"""Metrics: their bounds, roles and keys, and the goalposts whose moves are recorded."""

from datetime import date
from typing import Any
from uuid import UUID

from alignment_service.access import Access
from alignment_service.db import matching_identifier
from alignment_service.errors import Conflict, ValidationFailed
from alignment_service.unset import UNSET, NotGiven, given
from goals import formulas
from goals.derived import goals_refresh_progress, metric_window, metrics_refresh
from goals.models import Goal, Metric, MetricChange, MetricDirection, MetricRole, Reading
from goals.services.common import (
    check_dates,
    check_version,
    owe_rescore,
    record_activity,
    writes_derived_values,
)
from teams.models import Organization, User
from teams.org_settings import GOALPOST_PROPOSAL


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


def _check_unique_key(org: Organization, key: str, exclude: UUID | None = None) -> None:
    if matching_identifier(Metric.objects.filter(organization=org), "key", key).exclude(pk=exclude).exists():
        raise ValidationFailed("A metric with this key already exists.", code="unique", attr="key")


@writes_derived_values
def metric_create(
    *,
    access: Access,
    goal: Goal,
    name: str,
    key: str,
    baseline: float,
    target: float,
    unit: str = "",
    direction: str = MetricDirection.INCREASE,
    weight: float = 1.0,
    starts_on: date | None = None,
    due_on: date | None = None,
    stale_after_days: int | None = None,
    role: str = MetricRole.KEY_RESULT,
    threshold: float | None = None,
) -> Metric:
    """A new metric of `goal`; its dates default to the goal's."""
    _check_unique_key(access.org, key)
    _check_metric_bounds(direction, baseline, target)
    _check_guardrail(role, threshold)
    check_dates(starts_on or goal.starts_on, due_on or goal.due_on)
    metric = Metric(
        organization=access.org, goal=goal, name=name, key=key, unit=unit, direction=direction, baseline=baseline,
        target=target, weight=weight, starts_on=starts_on, due_on=due_on, stale_after_days=stale_after_days,
        role=role, threshold=threshold,
    )  # fmt: skip
    metric.window_start_ts, metric.window_end_ts = metric_window(metric, access.org)
    metric.save()
    goals_refresh_progress(org=access.org, goal_ids=[metric.goal_id])
    record_activity(access, "metric.created", "metric", metric.pk, f"added metric '{metric.name}' ({metric.key})")
    owe_rescore(access.org)
    return metric


@writes_derived_values
def metric_update(
    *,
    access: Access,
    metric: Metric,
    goal: Goal | NotGiven = UNSET,
    name: str | NotGiven = UNSET,
    key: str | NotGiven = UNSET,
    unit: str | NotGiven = UNSET,
    direction: str | NotGiven = UNSET,
    baseline: float | NotGiven = UNSET,
    target: float | NotGiven = UNSET,
    weight: float | NotGiven = UNSET,
    starts_on: date | NotGiven | None = UNSET,
    due_on: date | NotGiven | None = UNSET,
    stale_after_days: int | NotGiven | None = UNSET,
    role: str | NotGiven = UNSET,
    threshold: float | NotGiven | None = UNSET,
    reason: str = "",
    expected_version: int | None = None,
    proposed_by: User | None = None,
) -> Metric:
    """Change the fields passed (a field left `UNSET` keeps its value); a moved goalpost
    (baseline, target, due date) is recorded with its old and new value. Where the organization
    moves goalposts by proposal, only an approved proposal (`proposed_by`, approved by
    `access`) moves them."""
    fields = given(
        goal=goal, name=name, key=key, unit=unit, direction=direction, baseline=baseline, target=target, weight=weight,
        starts_on=starts_on, due_on=due_on, stale_after_days=stale_after_days, role=role, threshold=threshold,
    )  # fmt: skip
    metric = (
        Metric.objects.select_for_update(no_key=True).select_related("goal").get(pk=metric.pk, organization=access.org)
    )
    check_version(metric.version, expected_version)
    previous_goal_id = metric.goal_id
    if key is not UNSET:
        _check_unique_key(access.org, key, exclude=metric.pk)
    _check_metric_bounds(
        fields.get("direction", metric.direction),
        fields.get("baseline", metric.baseline),
        fields.get("target", metric.target),
    )
    _check_guardrail(fields.get("role", metric.role), fields.get("threshold", metric.threshold))
    new_goal = fields.get("goal", metric.goal)
    check_dates(
        fields.get("starts_on", metric.starts_on) or new_goal.starts_on,
        fields.get("due_on", metric.due_on) or new_goal.due_on,
    )
    moved = [_goalpost_change(access, metric, post, fields[post], reason, proposed_by) for post in GOALPOSTS
             if post in fields and fields[post] != getattr(metric, post)]  # fmt: skip
    if moved and proposed_by is None and access.org.effective_settings["goalpost_changes"] == GOALPOST_PROPOSAL:
        raise Conflict(
            "This organization moves a metric's baseline, target or due date by proposal: "
            "propose the change at /goalpost-proposals/.",
            code="goalpost_proposal_required",
        )
    MetricChange.objects.bulk_create(moved)
    for field_name, value in fields.items():
        setattr(metric, field_name, value)
    metric.window_start_ts, metric.window_end_ts = metric_window(metric, access.org)
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
        record_activity(
            access, f"metric.{change.field}_changed", "metric", metric.pk,
            f"moved the {change.field.replace('_', ' ')} of '{metric.name}' from {_plain(old)} to {_plain(new)}",
            data=data,
        )  # fmt: skip
    if set(fields) - set(GOALPOSTS):
        record_activity(access, "metric.updated", "metric", metric.pk, f"updated metric '{metric.name}'", fields)
    owe_rescore(access.org)
    return metric


GOALPOSTS = ("baseline", "target", "due_on")


def _goalpost_change(
    access: Access, metric: Metric, name: str, new: Any, reason: str, proposed_by: User | None
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
    record_activity(access, "metric.deleted", "metric", metric_id, f"deleted metric '{name}'")
    owe_rescore(access.org)
