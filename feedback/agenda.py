"""The steering agenda: everything that waits for a steering group's decision (or, for admins,
the whole organization's), ordered by severity, then age (oldest first).

An item is one of: an open critical correction, an overdue intervention, a busted hypothesis,
a divergence due for review, a pending goalpost proposal, an open challenge. Each carries the
decisions already recorded on it. A fixed number of queries whatever the organization's size.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from feedback import selectors
from feedback.models import (
    ACTIVE_CORRECTION,
    AgendaItemKind,
    CourseCorrection,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    GoalpostProposal,
    Severity,
    SteeringDecision,
    SubjectType,
    Trigger,
)
from goals.models import Divergence, Goal, StrategyPillar
from teams.models import Organization, Team

SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass
class AgendaItem:
    kind: str
    id: str
    title: str
    detail: str
    severity: str
    team: Any
    created_at: datetime
    due_on: date | None = None
    decisions: list[SteeringDecision] = field(default_factory=list)


def teams_steered_by(*, org: Organization, group: Team) -> set[Any]:
    """The teams a steering group steers: itself and every team it sits above."""
    teams = {t.id: t for t in Team.objects.filter(organization=org).only("id", "parent_id", "kind")}
    return {team_id for team_id in teams if group.pk in selectors.steering_group_ids_above(teams, team_id)}


def agenda(*, org: Organization, teams: set[Any] | None = None, today: date | None = None) -> list[AgendaItem]:
    """The items waiting for a decision on `teams` (all of the organization's when None)."""
    today = today or timezone.now().date()
    items = [
        *_corrections(org, teams),
        *_divergences(org, teams, today),
        *_proposals(org, teams),
        *_challenges(org, teams),
    ]
    decided: dict[tuple[str, str], list[SteeringDecision]] = defaultdict(list)
    for decision in SteeringDecision.objects.filter(organization=org, item_id__in=[i.id for i in items]).order_by(
        "created_at", "id"
    ):
        decided[(decision.item_kind, decision.item_id)].append(decision)
    for item in items:
        item.decisions = decided[(item.kind, item.id)]
    return sorted(items, key=lambda i: (SEVERITY_RANK[Severity(i.severity)], i.created_at, i.id))


def _in(teams: set[Any] | None, field_name: str) -> Q:
    return Q() if teams is None else Q(**{f"{field_name}__in": teams})


def _corrections(org: Organization, teams: set[Any] | None) -> list[AgendaItem]:
    waiting = Q(severity=Severity.CRITICAL) | Q(trigger__in=[Trigger.INTERVENTION_OVERDUE, Trigger.HYPOTHESIS_BUSTED])
    rows = CourseCorrection.objects.filter(ACTIVE_CORRECTION, waiting, _in(teams, "team_id"), organization=org)
    return [
        AgendaItem(
            AgendaItemKind.COURSE_CORRECTION,
            str(c.pk),
            Trigger(c.trigger).label,
            c.detail,
            c.severity,
            c.team_id,
            c.created_at,
            c.review_by,
        )
        for c in rows
    ]


def _divergences(org: Organization, teams: set[Any] | None, today: date) -> list[AgendaItem]:
    rows = Divergence.objects.filter(
        _in(teams, "team_id"), organization=org, status=Divergence.Status.ACTIVE, review_on__lte=today
    ).select_related("team")
    return [
        AgendaItem(
            AgendaItemKind.DIVERGENCE,
            str(d.pk),
            f"Review {d.team.name}'s divergence",
            f"{d.approach} (succeeds when the metric reaches {d.success_value:g}; review was due {d.review_on}).",
            Severity.WARNING,
            d.team_id,
            d.created_at,
            d.review_on,
        )
        for d in rows
    ]


def _proposals(org: Organization, teams: set[Any] | None) -> list[AgendaItem]:
    rows = GoalpostProposal.objects.filter(
        _in(teams, "metric__goal__team_id"), organization=org, status=GoalpostProposal.Status.PENDING
    ).select_related("metric__goal")
    return [
        AgendaItem(
            AgendaItemKind.GOALPOST_PROPOSAL,
            str(p.pk),
            f"Move the goalposts of {p.metric.name}",
            f"{', '.join(f'{k} → {v}' for k, v in p.changes.items())}: {p.reason}",
            Severity.WARNING,
            p.metric.goal.team_id,
            p.created_at,
        )
        for p in rows
    ]


def _challenges(org: Organization, teams: set[Any] | None) -> list[AgendaItem]:
    rows = list(
        Feedback.objects.filter(organization=org, kind=FeedbackKind.CHALLENGE).exclude(status=FeedbackStatus.RESOLVED)
    )
    team_of = _target_teams(org, rows)
    return [
        AgendaItem(
            AgendaItemKind.FEEDBACK,
            str(f.pk),
            f"Challenge on a {f.target_type}",
            f.body[:1000],
            Severity.WARNING,
            team_of.get((f.target_type, f.target_id)),
            f.created_at,
        )
        for f in rows
        if teams is None or team_of.get((f.target_type, f.target_id)) in teams
    ]


def _target_teams(org: Organization, rows: list[Feedback]) -> dict[tuple[str, str], Any]:
    ids = defaultdict(set)
    for row in rows:
        ids[row.target_type].add(row.target_id)
    teams: dict[tuple[str, str], Any] = {}
    for target_type, model in ((SubjectType.GOAL, Goal), (SubjectType.STRATEGY, StrategyPillar)):
        valid = [value for value in ids[target_type] if selectors.is_uuid(value)]
        if valid:
            for pk, team_id in model.objects.filter(organization=org, pk__in=valid).values_list("pk", "team_id"):
                teams[(target_type, str(pk))] = team_id
    for target_id in ids[SubjectType.TEAM]:
        if selectors.is_uuid(target_id):
            teams[(SubjectType.TEAM, target_id)] = uuid.UUID(target_id)
    return teams
