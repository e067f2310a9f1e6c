"""The alignment engine: rescore one organization in one pass, then steer.

Loads everything set-based (a fixed number of queries whatever the size of the organization),
scores every active goal, every team with active goals and the organization, writes a snapshot
only where a score or a component changed, opens the course corrections whose rule now holds,
resolves those whose rule no longer holds and expires those whose subject is gone. All of it in
one transaction that holds the organization's row lock, so a redelivered or concurrent run
finds the work done. Notifications, emails and webhooks are recorded in the same transaction
and sent after commit.

One rescore per organization runs at a time, under an advisory lock (never the organization's
row, whose foreign-key checks every concurrent insert needs); a second one finds it taken and
raises `RescoreBusy`, and its task runs again shortly. The engine writes no row that API writes
lock: goal scores live in `GoalScore`.
"""

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from alignment_service.db import bulk_update_rows, insert_rows, try_org_lock
from alignment_service.notifications.services import notify_all
from alignment_service.notifications.webhooks import Event, emit_events
from feedback import fingerprint, rules, scoring
from feedback.audience import Audience, rescore_announcements
from feedback.inputs import GoalInputs, World
from feedback.models import CorrectionStatus, CourseCorrection, ScoreSnapshot, SubjectType, Trigger
from feedback.rules import Finding
from feedback.world import (
    Correction,
    Loaded,
    Scope,
    StoredCorrection,
    goal_tree,
    latest_points,
    load_teams,
    load_world,
    widen,
)
from goals.models import GoalScore, GoalStatus
from teams.models import Organization


class RescoreBusy(Exception):
    """Another rescore of the same organization holds its lock; run again shortly."""


@dataclass(frozen=True)
class RescoreResult:
    snapshots: int
    opened: int
    resolved: int
    expired: int


def rescore_org(
    *,
    org: Organization,
    now: datetime | None = None,
    goal_ids: Iterable[str] | None = None,
    team_ids: Iterable[str] | None = None,
) -> RescoreResult:
    """Score the organization and open, resolve or expire its course corrections; with
    `goal_ids` or `team_ids`, only the subjects a change to those can move (`world.widen`),
    with the results a full rescore would give them."""
    now = now or timezone.now()
    with transaction.atomic():
        if not try_org_lock("rescore", org.pk):
            raise RescoreBusy(f"A rescore of {org.pk} is running.")
        org = Organization.objects.get(pk=org.pk)
        scoped = goal_ids is not None or team_ids is not None
        inputs = None if scoped else fingerprint.inputs_digest(org)  # scoped runs are small already
        if fingerprint.unchanged(org, now, inputs):
            return RescoreResult(0, 0, 0, 0)
        tree, teams = goal_tree(org), load_teams(org)
        scope = widen(tree, teams, goal_ids or (), team_ids or ()) if scoped else None
        loaded = load_world(org, now, tree=tree, teams=teams, scope=scope)
        points = score_scope(loaded, org, scope) if scope is not None else score_world(loaded.world, org)
        if points is None:  # a goal outside the scope was never scored: score them all
            scope, loaded = None, load_world(org, now, tree=tree, teams=teams)
            points = score_world(loaded.world, org)
        loaded.world.scores = {key: scoring.total(value) for key, value in points.items()}
        snapshots = _write_snapshots(org, points, now, latest=loaded.latest)
        _store_goal_scores(org, loaded.world.scores, scope)
        crossed = _threshold_events(loaded.world)
        opened, resolved, expired = _steer(org, loaded, now, scope, crossed)
        if scope is None:
            fingerprint.remember(org, now, inputs)
    return RescoreResult(snapshots, opened, resolved, expired)


# --- Scoring ------------------------------------------------------------------------------------

Points = dict[tuple[str, str], dict[str, float]]


def score_world(world: World, org: Organization) -> Points:
    """Points per component for every active goal, every team with active goals, and the org."""
    points = _goal_and_team_points(world, None)
    org_points = scoring.weighted_points(
        (points[(SubjectType.GOAL, str(goal.id))], goal.weight) for goal in world.goals
    )
    if org_points is not None:
        points[(SubjectType.ORG, str(org.pk))] = org_points
    return points


def score_scope(loaded: Loaded, org: Organization, scope: Scope) -> Points | None:
    """Points for the scope's goals and teams, and for the org from those and the latest
    points of every other active goal (None when one of them has none)."""
    points = _goal_and_team_points(loaded.world, scope)
    weighted = []
    for goal_id, node in loaded.tree.items():  # in id order, as a full rescore sums them
        if node.status != GoalStatus.ACTIVE:
            continue
        goal_points = (
            points.get((SubjectType.GOAL, goal_id)) or loaded.latest.get((SubjectType.GOAL, goal_id), (0.0, None))[1]
        )
        if goal_points is None:
            return None
        weighted.append((goal_points, node.weight))
    org_points = scoring.weighted_points(weighted)
    if org_points is not None:
        points[(SubjectType.ORG, str(org.pk))] = org_points
    return points


def _goal_and_team_points(world: World, scope: Scope | None) -> Points:
    component_weights = scoring.weights(world.settings)
    points: Points = {}
    by_team: dict[Any, list[tuple[dict[str, float], float]]] = defaultdict(list)
    for goal in world.goals:
        team = world.teams.get(goal.team_id)
        assessment = team.latest_assessment if team else None
        qualities = scoring.goal_qualities(goal, assessment, world.settings, world.now_ts)
        goal_points = scoring.to_points(qualities, component_weights)
        points[(SubjectType.GOAL, str(goal.id))] = goal_points
        if goal.team_id is not None:
            by_team[goal.team_id].append((goal_points, goal.weight))
    for team_id, items in by_team.items():
        team_points = scoring.weighted_points(items)
        if team_points is not None and (scope is None or str(team_id) in scope.team_ids):
            points[(SubjectType.TEAM, str(team_id))] = team_points
    return points


def write_history_snapshots(org: Organization, points: Points, at: datetime) -> int:
    """Hook for `feedback.history`: snapshots of a past instant, written the way a rescore
    writes them, against what stood at that instant (no steering, no events)."""
    return _write_snapshots(org, points, at, latest=latest_points(org, up_to=at))


def _write_snapshots(
    org: Organization, points: Points, now: datetime, *, latest: dict[tuple[str, str], tuple[float, dict[str, float]]]
) -> int:
    fresh = []
    for (subject_type, subject_id), components in sorted(points.items()):
        score = scoring.total(components)
        if latest.get((subject_type, subject_id)) == (score, components):
            continue
        fresh.append(
            {
                "organization_id": org.pk, "subject_type": subject_type, "subject_id": subject_id, "score": score,
                "components": components, "computed_at": now,
            }
        )  # fmt: skip
    return insert_rows(ScoreSnapshot, fresh, ignore_conflicts=True)


def _store_goal_scores(org: Organization, scores: dict[tuple[str, str], float], scope: Scope | None) -> None:
    """Keep `GoalScore` equal to the goal scores of this pass, writing only what changed."""
    fresh = {uuid.UUID(subject_id): score for (kind, subject_id), score in scores.items() if kind == SubjectType.GOAL}
    stored_rows = GoalScore.objects.filter(organization=org)
    if scope is not None:
        stored_rows = stored_rows.filter(goal_id__in=scope.goal_ids)
    stored = dict(stored_rows.values_list("goal_id", "score"))
    gone = stored.keys() - fresh.keys()
    if gone:
        GoalScore.objects.filter(organization=org, goal_id__in=gone).delete()
    changed = sorted((goal_id, score) for goal_id, score in fresh.items() if stored.get(goal_id) != score)
    insert_rows(
        GoalScore,
        [{"goal_id": goal_id, "organization_id": org.pk, "score": score} for goal_id, score in changed],
        update_conflicts=(["goal"], ["score"]),
    )


def _threshold_events(world: World) -> list[Event]:
    """`score.threshold_crossed` for every subject whose score crossed `score_threshold`."""
    threshold = world.settings["score_threshold"]
    events = []
    for (subject_type, subject_id), score in sorted(world.scores.items()):
        previous = world.previous_scores.get((subject_type, subject_id))
        if previous is None or (previous < threshold) == (score < threshold):
            continue
        data = {
            "subject_type": subject_type, "subject_id": subject_id, "score": score, "previous": previous,
            "threshold": threshold, "direction": "below" if score < threshold else "above",
        }  # fmt: skip
        key = f"score.threshold_crossed:{subject_type}:{subject_id}:{previous}:{score}:{world.now_ts}"
        events.append(Event("score.threshold_crossed", data, key))
    return events


# --- Steering -----------------------------------------------------------------------------------


def _steer(
    org: Organization, loaded: Loaded, now: datetime, scope: Scope | None, crossed: list[Event]
) -> tuple[int, int, int]:
    """Open, resolve and expire corrections, and relink them; scoped, only those of the scope's
    subjects (the rules read the whole world, but only the scope's findings are complete).
    The corrections' webhook events go out with `crossed` (the thresholds crossed), in one
    insert. Returns the numbers opened, resolved and expired."""
    world = loaded.world
    findings = {finding.key: finding for finding in rules.find_all(world)}
    active = loaded.corrections
    if scope is not None:
        findings = {key: finding for key, finding in findings.items() if scope.holds(key[0], key[1])}
        active = {key: c for key, c in active.items() if scope.holds(key[0], key[1])}
    causes = rules.link_causes(findings, {str(goal.id): goal.team_id for goal in world.goals})
    existing = {c.pk for c in active.values()}
    was_symptom = {c.pk for c in active.values() if c.caused_by_id is not None}
    closed = _close_cleared(loaded, findings, active, now)
    goals = {str(goal.id): goal for goal in world.goals}
    new = [_new_correction(org, world, goals, finding, now) for key, finding in findings.items() if key not in active]
    closed_ids = {c.pk for c in closed}
    current: dict[Any, Correction] = {
        **{key: c for key, c in active.items() if c.pk not in closed_ids},
        **{_key(c): c for c in new},
    }
    relinked = _link(current, causes)
    opened = _insert_corrections(new)
    _update_corrections(closed, [c for c in relinked if c.pk in existing])
    promoted = [c for c in relinked if c.pk in was_symptom and c.caused_by_id is None]
    announcements = [
        *(("course_correction.resolved", c) for c in closed if c.pk not in was_symptom),
        *(("course_correction.opened", c) for c in [*opened, *promoted] if c.caused_by_id is None),
    ]
    events, notices = (
        rescore_announcements(announcements, [*current.values(), *closed], Audience(org)) if announcements else ([], [])
    )
    emit_events(org=org, events=[*crossed, *events])  # first: the webhook delivery is owed before email
    if notices:
        notify_all(org=org, notices=notices)
    expired = sum(1 for c in closed if c.status == CorrectionStatus.EXPIRED)
    return len(opened), len(closed) - expired, expired


def _insert_corrections(new: list[CourseCorrection]) -> list[CourseCorrection]:
    fields = CourseCorrection._meta.concrete_fields
    insert_rows(CourseCorrection, [{f.attname: getattr(c, f.attname) for f in fields} for c in new])
    for correction in new:
        correction._state.adding, correction._state.db = False, connection.alias  # as bulk_create leaves them
    return new


CLOSING_FIELDS = ("status", "resolution", "resolved_at")


def _update_corrections(closed: list[Correction], relinked: list[Correction]) -> None:
    """One statement: the closed ones' status, resolution and time, the relinked ones' cause
    (and nothing else of theirs, which a person may be changing meanwhile)."""
    meta = CourseCorrection._meta
    key = cast(Field, meta.pk)
    fields = [cast(Field, meta.get_field(name)) for name in (*CLOSING_FIELDS, "caused_by")]

    def row(correction: Correction, written: Collection[str]) -> list[Any]:
        values = [
            field.get_db_prep_save(getattr(correction, field.attname), connection) if field.name in written else None
            for field in fields
        ]
        return [key.get_db_prep_save(correction.pk, connection), *values]

    rows = [row(c, (*CLOSING_FIELDS, "caused_by")) for c in closed] + [row(c, ("caused_by",)) for c in relinked]
    bulk_update_rows(CourseCorrection, [f.name for f in fields], rows, keep_where_null=CLOSING_FIELDS)


def _key(correction: Correction) -> tuple[str, str, str]:
    return (correction.subject_type, correction.subject_id, correction.trigger)


def _close_cleared(
    loaded: Loaded, findings: dict[Any, Finding], active: dict[Any, StoredCorrection], now: datetime
) -> list[Correction]:
    """Expire corrections whose subject is gone; resolve those whose rule no longer holds."""
    live_goals = {str(g.id) for g in loaded.world.goals}
    goal_status = {goal_id: node.status for goal_id, node in loaded.tree.items()}
    live_teams = {str(pk) for pk in loaded.world.teams}
    closed: list[Correction] = []
    for key, correction in active.items():
        subject_type, subject_id, trigger = key
        gone = subject_id not in (live_teams if subject_type == SubjectType.TEAM else goal_status) or (
            subject_type == SubjectType.GOAL and goal_status.get(subject_id) == GoalStatus.CANCELLED
        )
        if gone:
            closed.append(
                _closed(correction, CorrectionStatus.EXPIRED, "Expired: its subject was cancelled or deleted.", now)
            )
        elif subject_type == SubjectType.GOAL and subject_id not in live_goals:
            status = goal_status[subject_id]
            closed.append(
                _closed(correction, CorrectionStatus.RESOLVED, f"Resolved by the system: the goal is {status}.", now)
            )
        elif trigger != Trigger.MANUAL and key not in findings:
            label = Trigger(trigger).label.lower()
            resolution = f"Resolved by the system: the {label} condition no longer holds."
            closed.append(_closed(correction, CorrectionStatus.RESOLVED, resolution, now))
    return closed


def _link(current: dict[Any, Correction], causes: dict[Any, Any]) -> list[Correction]:
    """Point every current correction at its cause (None for a cause or a manual one); returns
    those whose link changed. A symptom whose cause cleared becomes a cause if it still holds."""
    changed = []
    for key, correction in current.items():
        cause_key = causes.get(key)
        cause = current.get(cause_key) if cause_key is not None else None
        cause_id = cause.pk if cause is not None else None
        if correction.caused_by_id != cause_id:
            correction.caused_by_id = cause_id
            changed.append(correction)
    return changed


def _closed(correction: StoredCorrection, status: str, resolution: str, now: datetime) -> StoredCorrection:
    correction.status = status
    correction.resolution = resolution
    correction.resolved_at = now
    return correction


def _new_correction(
    org: Organization, world: World, goals: dict[str, GoalInputs], finding: Finding, now: datetime
) -> CourseCorrection:
    goal = goals.get(finding.subject_id) if finding.subject_type == SubjectType.GOAL else None
    team = world.teams.get(finding.team_id)
    assignee = (goal.owner_id if goal and goal.owner_id else None) or (team.lead_id if team else None)
    return CourseCorrection(
        organization=org, subject_type=finding.subject_type, subject_id=finding.subject_id,
        team_id=finding.team_id, trigger=finding.trigger, severity=finding.severity, detail=finding.detail,
        recommended_mode=finding.recommended_mode, review_by=finding.review_by, assignee_id=assignee,
        created_at=now,
    )  # fmt: skip
