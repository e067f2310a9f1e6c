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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from alignment_service.db import bulk_update_values, try_org_lock
from alignment_service.notifications.webhooks import Event, emit_events
from feedback import rules as rules_module
from feedback import scoring
from feedback.audience import Audience, announce_rescore
from feedback.inputs import GoalInputs, World
from feedback.models import ACTIVE_CORRECTION, CorrectionStatus, CourseCorrection, ScoreSnapshot, Trigger
from feedback.rules import Finding
from feedback.world import latest_snapshot_ids, load_world
from goals.models import Goal, GoalScore, GoalStatus
from teams.models import Organization


class RescoreBusy(Exception):
    """Another rescore of the same organization holds its lock; run again shortly."""


@dataclass(frozen=True)
class RescoreResult:
    snapshots: int
    opened: int
    resolved: int
    expired: int


def rescore_org(*, org: Organization, now: datetime | None = None) -> RescoreResult:
    """Score the organization and open, resolve or expire its course corrections."""
    now = now or timezone.now()
    with transaction.atomic():
        if not try_org_lock("rescore", org.pk):
            raise RescoreBusy(f"A rescore of {org.pk} is running.")
        org = Organization.objects.get(pk=org.pk)
        world = load_world(org, now)
        points = score_world(world, org)
        world.scores = {key: scoring.total(value) for key, value in points.items()}
        snapshots = _write_snapshots(org, points, now)
        _store_goal_scores(org, world.scores)
        _threshold_events(org, world)
        opened, resolved, expired = _steer(org, world, now)
    return RescoreResult(snapshots, opened, resolved, expired)


# --- Scoring ------------------------------------------------------------------------------------


def score_world(world: World, org: Organization) -> dict[tuple[str, str], dict[str, float]]:
    """Points per component for every active goal, every team with active goals, and the org."""
    component_weights = scoring.weights(world.rules)
    points: dict[tuple[str, str], dict[str, float]] = {}
    by_team: dict[Any, list[tuple[dict[str, float], float]]] = defaultdict(list)
    for goal in world.goals:
        team = world.teams.get(goal.team_id)
        assessment = team.latest_assessment if team else None
        qualities = scoring.goal_qualities(goal, assessment, world.rules, world.now_ts)
        goal_points = scoring.to_points(qualities, component_weights)
        points[("goal", str(goal.id))] = goal_points
        if goal.team_id is not None:
            by_team[goal.team_id].append((goal_points, goal.weight))
    for team_id, items in by_team.items():
        team_points = scoring.weighted_points(items)
        if team_points is not None:
            points[("team", str(team_id))] = team_points
    org_points = scoring.weighted_points((points[("goal", str(goal.id))], goal.weight) for goal in world.goals)
    if org_points is not None:
        points[("org", str(org.pk))] = org_points
    return points


def write_history_snapshots(org: Organization, points: dict[tuple[str, str], dict[str, float]], at: datetime) -> int:
    """Hook for `feedback.history`: snapshots of a past instant, written the way a rescore
    writes them, against what stood at that instant (no steering, no events)."""
    return _write_snapshots(org, points, at, up_to=at)


def _write_snapshots(
    org: Organization, points: dict[tuple[str, str], dict[str, float]], now: datetime, up_to: datetime | None = None
) -> int:
    latest = {
        (s.subject_type, s.subject_id): s
        for s in ScoreSnapshot.objects.filter(organization=org, pk__in=latest_snapshot_ids(org, up_to))
    }
    fresh = []
    for (subject_type, subject_id), components in sorted(points.items()):
        score = scoring.total(components)
        previous = latest.get((subject_type, subject_id))
        if previous is not None and previous.score == score and previous.components == components:
            continue
        fresh.append(
            ScoreSnapshot(
                organization=org, subject_type=subject_type, subject_id=subject_id, score=score,
                components=components, computed_at=now,
            )
        )  # fmt: skip
    ScoreSnapshot.objects.bulk_create(fresh, batch_size=1000, ignore_conflicts=True)
    return len(fresh)


def _store_goal_scores(org: Organization, scores: dict[tuple[str, str], float]) -> None:
    """Keep `GoalScore` equal to the goal scores of this pass, writing only what changed."""
    fresh = {uuid.UUID(subject_id): score for (kind, subject_id), score in scores.items() if kind == "goal"}
    stored = dict(GoalScore.objects.filter(organization=org).values_list("goal_id", "score"))
    GoalScore.objects.filter(organization=org, goal_id__in=stored.keys() - fresh.keys()).delete()
    changed = sorted((goal_id, score) for goal_id, score in fresh.items() if stored.get(goal_id) != score)
    GoalScore.objects.bulk_create(
        [GoalScore(goal_id=goal_id, organization=org, score=score) for goal_id, score in changed],
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["goal"],
        update_fields=["score"],
    )


def _threshold_events(org: Organization, world: World) -> None:
    """`score.threshold_crossed` for every subject whose score crossed `score_threshold`."""
    threshold = world.rules["score_threshold"]
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
    emit_events(org=org, events=events)


# --- Steering -----------------------------------------------------------------------------------


def _steer(org: Organization, world: World, now: datetime) -> tuple[int, int, int]:
    findings = {finding.key: finding for finding in rules_module.find_all(world)}
    causes = rules_module.link_causes(findings, {str(goal.id): goal.team_id for goal in world.goals})
    active = {
        (c.subject_type, c.subject_id, c.trigger): c
        for c in CourseCorrection.objects.filter(ACTIVE_CORRECTION, organization=org)
    }
    existing = {c.pk for c in active.values()}
    was_symptom = {c.pk for c in active.values() if c.caused_by_id is not None}
    closed = _close_cleared(org, world, findings, active, now)
    bulk_update_values(closed, ["status", "resolution", "resolved_at"])
    goals = {str(goal.id): goal for goal in world.goals}
    new = [_new_correction(org, world, goals, finding, now) for key, finding in findings.items() if key not in active]
    closed_ids = {c.pk for c in closed}
    current = {**{key: c for key, c in active.items() if c.pk not in closed_ids}, **{_key(c): c for c in new}}
    relinked = _link(current, causes)
    opened = CourseCorrection.objects.bulk_create(new, batch_size=1000)
    bulk_update_values([c for c in relinked if c.pk in existing], ["caused_by"])
    promoted = [c for c in relinked if c.pk in was_symptom and c.caused_by_id is None]
    announcements = [
        *(("course_correction.resolved", c) for c in closed if c.pk not in was_symptom),
        *(("course_correction.opened", c) for c in [*opened, *promoted] if c.caused_by_id is None),
    ]
    announce_rescore(org, announcements, [*current.values(), *closed], Audience(org))
    expired = sum(1 for c in closed if c.status == CorrectionStatus.EXPIRED)
    return len(opened), len(closed) - expired, expired


def _key(correction: CourseCorrection) -> tuple[str, str, str]:
    return (correction.subject_type, correction.subject_id, correction.trigger)


def _close_cleared(
    org: Organization, world: World, findings: dict[Any, Finding], active: dict[Any, CourseCorrection], now: datetime
) -> list[CourseCorrection]:
    """Expire corrections whose subject is gone; resolve those whose rule no longer holds."""
    live_goals = {str(g.id) for g in world.goals}
    goal_status = {str(pk): status for pk, status in Goal.objects.filter(organization=org).values_list("id", "status")}
    live_teams = {str(pk) for pk in world.teams}
    closed: list[CourseCorrection] = []
    for key, correction in active.items():
        subject_type, subject_id, trigger = key
        gone = subject_id not in (live_teams if subject_type == "team" else goal_status) or (
            subject_type == "goal" and goal_status.get(subject_id) == GoalStatus.CANCELLED
        )
        if gone:
            closed.append(
                _closed(correction, CorrectionStatus.EXPIRED, "Expired: its subject was cancelled or deleted.", now)
            )
        elif subject_type == "goal" and subject_id not in live_goals:
            status = goal_status[subject_id]
            closed.append(
                _closed(correction, CorrectionStatus.RESOLVED, f"Resolved by the system: the goal is {status}.", now)
            )
        elif trigger != Trigger.MANUAL and key not in findings:
            label = Trigger(trigger).label.lower()
            resolution = f"Resolved by the system: the {label} condition no longer holds."
            closed.append(_closed(correction, CorrectionStatus.RESOLVED, resolution, now))
    return closed


def _link(current: dict[Any, CourseCorrection], causes: dict[Any, Any]) -> list[CourseCorrection]:
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


def _closed(correction: CourseCorrection, status: str, resolution: str, now: datetime) -> CourseCorrection:
    correction.status = status
    correction.resolution = resolution
    correction.resolved_at = now
    return correction


def _new_correction(
    org: Organization, world: World, goals: dict[str, GoalInputs], finding: Finding, now: datetime
) -> CourseCorrection:
    goal = goals.get(finding.subject_id) if finding.subject_type == "goal" else None
    team = world.teams.get(finding.team_id)
    assignee = (goal.owner_id if goal and goal.owner_id else None) or (team.lead_id if team else None)
    return CourseCorrection(
        organization=org, subject_type=finding.subject_type, subject_id=finding.subject_id,
        team_id=finding.team_id, trigger=finding.trigger, severity=finding.severity, detail=finding.detail,
        recommended_mode=finding.recommended_mode, review_by=finding.review_by, assignee_id=assignee,
        created_at=now,
    )  # fmt: skip
