"""Reads for the direction, pillars, cycles, goals, metrics and readings.

Goal and metric querysets carry `expected_progress` and `health` computed by the database from
the stored progress and window (see `goals.formulas` for the same formulas in Python), so
lists can filter and order on them and stay one query whatever their size.
"""

import time
from typing import Any

from django.conf import settings
from django.db.models import (
    Case,
    F,
    FloatField,
    QuerySet,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Greatest, Least, Lower
from django.db.models.query import ModelIterable

from goals import formulas
from goals.models import (
    Cycle,
    DirectionVersion,
    Divergence,
    Goal,
    GoalStrategy,
    Metric,
    MetricChange,
    Reading,
    StrategyPillar,
)
from teams.models import Organization
from teams.org_settings import DEFAULTS


def with_health(queryset: QuerySet[Any], org: Organization | None = None, now_ts: float | None = None) -> QuerySet[Any]:
    """Annotate `expected_progress` and `health` on goals or metrics (and alias `progress_gap`,
    for filters and ordering: no list shows it).

    With `org`, its thresholds are constants of the query; without (the admin, across
    organizations), each row reads its organization's settings, falling back to the defaults.
    """
    now_value = Value(now_ts if now_ts is not None else time.time(), output_field=FloatField())
    elapsed = (now_value - F("window_start_ts")) / (F("window_end_ts") - F("window_start_ts"))
    expected = Greatest(Least(elapsed, Value(1.0)), Value(0.0), output_field=FloatField())
    tolerance, at_risk_gap = (
        (Value(org.effective_settings[name]) for name in ("health_tolerance", "at_risk_gap"))
        if org is not None
        else (_org_setting(name) for name in ("health_tolerance", "at_risk_gap"))
    )
    epsilon = Value(formulas.BOUNDARY_EPSILON)
    return (
        queryset.annotate(expected_progress=expected)
        .alias(progress_gap=F("progress") - F("expected_progress"))
        .annotate(
            health=Case(
                When(progress__isnull=True, then=Value(formulas.NO_DATA)),
                When(progress_gap__gte=-tolerance - epsilon, then=Value(formulas.ON_TRACK)),
                When(progress_gap__gte=-at_risk_gap - epsilon, then=Value(formulas.AT_RISK)),
                default=Value(formulas.OFF_TRACK),
            )
        )
    )


def _org_setting(name: str) -> Any:
    stored = Cast(KeyTextTransform(name, "organization__settings"), FloatField())
    return Coalesce(stored, Value(float(DEFAULTS[name])), output_field=FloatField())


def direction_current(*, org: Organization) -> DirectionVersion | None:
    return DirectionVersion.objects.filter(organization=org).select_related("created_by").order_by("-version").first()


def direction_versions(*, org: Organization) -> QuerySet[DirectionVersion]:
    return DirectionVersion.objects.filter(organization=org).order_by("-version")


def pillar_list(*, org: Organization) -> QuerySet[StrategyPillar]:
    return StrategyPillar.objects.filter(organization=org).order_by("title", "id")


def cycle_list(*, org: Organization) -> QuerySet[Cycle]:
    return Cycle.objects.filter(organization=org).order_by("-starts_on", "name")


class GoalQuerySet(QuerySet[Goal]):
    """Goals that, fetched as instances, carry `strategy_ids`: the ids of their pillars (as
    text, in pillar order), read for all of them in one `values_list` query. A prefetch built
    a model instance per link and ran the related-manager machinery, about 1 ms a page of 50.
    (`iterator()` does not fetch through here: it carries none.)"""

    def _fetch_all(self) -> None:
        fetching = self._result_cache is None and self._iterable_class is ModelIterable
        super()._fetch_all()  # type: ignore[misc]
        if fetching and self._result_cache:
            _attach_strategy_ids(self._result_cache)


def _attach_strategy_ids(goals: list[Goal]) -> None:
    by_goal: dict[Any, list[str]] = {goal.pk: [] for goal in goals}
    links = GoalStrategy.objects.filter(goal_id__in=by_goal).order_by("pillar_id").values_list("goal_id", "pillar_id")
    for goal_id, pillar_id in links:
        by_goal[goal_id].append(str(pillar_id))
    for goal in goals:
        goal.strategy_ids = by_goal[goal.pk]  # type: ignore[attr-defined]


def goal_list(*, org: Organization, now_ts: float | None = None) -> QuerySet[Goal]:
    """Goals with health, score (`current_score_value`, which `Goal.alignment_score` reads: a
    column costs less than a `GoalScore` instance per goal) and their pillars' ids
    (`strategy_ids`, see `GoalQuerySet`)."""
    queryset = GoalQuerySet(Goal).filter(organization=org).annotate(current_score_value=F("current_score__score"))
    return with_health(queryset, org, now_ts).order_by("due_on", "title", "id")


def metric_list(*, org: Organization, now_ts: float | None = None) -> QuerySet[Metric]:
    return with_health(Metric.objects.filter(organization=org), org, now_ts).order_by("name", "id")


def metric_history(*, org: Organization, metric: Metric) -> QuerySet[MetricChange]:
    return MetricChange.objects.filter(organization=org, metric=metric).select_related("changed_by")


def reading_list(*, org: Organization, metric: Metric) -> QuerySet[Reading]:
    return Reading.objects.filter(organization=org, metric=metric)


def metrics_by_reference(*, org: Organization, references: set[str]) -> dict[str, Metric]:
    """Metrics of `org` named by key (in any case, as keys are unique) or by id, keyed by the
    reference used."""
    ids = {ref for ref in references if _is_uuid(ref)}
    by_key: dict[str, list[str]] = {}
    for ref in references:
        by_key.setdefault(ref.lower(), []).append(ref)
    found: dict[str, Metric] = {}
    keyed = Metric.objects.filter(organization=org).alias(key_lower=Lower("key"))
    for keyed_metric in keyed.filter(key_lower__in=by_key).only("id", "key", "goal_id"):
        for ref in by_key.get(keyed_metric.key.lower(), []):
            found[ref] = keyed_metric
    for metric in Metric.objects.filter(organization=org, id__in=ids).only("id", "key", "goal_id"):
        found[str(metric.id)] = metric
    return found


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


TREE_FIELDS = ("id", "title", "team_id", "status", "parent_id", "progress", "expected_progress", "health", "p_hit")


def alignment_tree(*, org: Organization) -> dict[str, Any]:
    """The whole cascade: direction, pillars, and company goals with their children nested.

    Six queries whatever the size of the organization; goals are read as rows (`TREE_FIELDS`,
    `alignment_score` and `strategies`), not model instances. Built without recursion; a chain
    deeper than `GOAL_MAX_DEPTH` (stored before that limit existed) continues as a new root at
    the end of the list, as a goal under a cancelled parent does, so that every nesting stays
    within what the serializer and the JSON encoder handle.
    """
    direction = direction_current(org=org)
    pillars = list(pillar_list(org=org))
    goals = list(
        goal_list(org=org)
        .prefetch_related(None)
        .exclude(status="cancelled")
        .values(*TREE_FIELDS, alignment_score=F("current_score__score"))
    )
    strategies: dict[Any, list[str]] = {}
    links = GoalStrategy.objects.filter(organization=org).order_by("pillar_id").values_list("goal_id", "pillar_id")
    for goal_id, pillar_id in links:
        strategies.setdefault(goal_id, []).append(str(pillar_id))
    children: dict[Any, list[dict[str, Any]]] = {}
    for goal in goals:
        goal["strategies"] = strategies.get(goal["id"], [])
        children.setdefault(goal["parent_id"], []).append(goal)
    known = {goal["id"] for goal in goals}
    roots = [goal for goal in goals if goal["parent_id"] is None or goal["parent_id"] not in known]
    top = [goal for goal in roots if goal["team_id"] is None] + [goal for goal in roots if goal["team_id"] is not None]
    nodes: dict[Any, dict[str, Any]] = {goal["id"]: {"goal": goal, "children": []} for goal in goals}
    pending = [(goal, 1) for goal in top]
    while pending:
        goal, depth = pending.pop()
        for child in children.get(goal["id"], []):
            if depth >= settings.GOAL_MAX_DEPTH:
                top.append(child)
                pending.append((child, 1))
            else:
                nodes[goal["id"]]["children"].append(nodes[child["id"]])
                pending.append((child, depth + 1))
    divergences = Divergence.objects.filter(organization=org, status=Divergence.Status.ACTIVE).order_by(
        "review_on", "id"
    )
    return {
        "direction": direction,
        "pillars": pillars,
        "goals": [nodes[goal["id"]] for goal in top],
        "divergences": list(divergences),
    }
