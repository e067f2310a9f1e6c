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

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from django.db import transaction
from django.db.models import Count, Max, OuterRef, Subquery
from django.utils import timezone

from alignment_service.db import bulk_update_values, try_org_lock
from alignment_service.notifications.email import DIGEST_KIND
from alignment_service.notifications.services import Notice, notify_all
from alignment_service.notifications.webhooks import Event, emit_events
from feedback import corrections as rules_module
from feedback import scoring, selectors
from feedback.corrections import ActiveCorrection, DueDivergence, DueFollowUp, Finding, TeamInputs, World
from feedback.models import (
    ACTIVE_CORRECTION,
    Assessment,
    CheckIn,
    CorrectionStatus,
    CourseCorrection,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    ScoreSnapshot,
    SteeringDecision,
    TargetType,
    Trigger,
)
from goals import progress as formulas
from goals import selectors as goal_selectors
from goals.models import Divergence, Goal, GoalScore, GoalStatus, Metric, MetricRole, Reading
from teams.models import Organization, Team, TeamKind, TeamMember


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


# --- Loading ----------------------------------------------------------------------------------


def load_world(org: Organization, now: datetime) -> World:
    now_ts = now.timestamp()
    goals = _load_goals(org)
    teams = _load_teams(org)
    previous = {
        (s.subject_type, s.subject_id): s.score
        for s in ScoreSnapshot.objects.filter(organization=org, pk__in=_latest_snapshot_ids(org))
    }
    active = [
        ActiveCorrection(c.subject_type, c.subject_id, c.trigger, c.review_by, c.extension_count)
        for c in CourseCorrection.objects.filter(ACTIVE_CORRECTION, organization=org)
    ]
    today = now.astimezone(UTC).date()
    return World(
        rules=org.rule_settings, now_ts=now_ts, today=today, goals=goals, teams=teams,
        scores={}, previous_scores=previous, active=active,
        divergences_due=_divergences_due(org, today), follow_ups_due=_follow_ups_due(org, today),
    )  # fmt: skip


def _divergences_due(org: Organization, today: date) -> list[DueDivergence]:
    rows = Divergence.objects.filter(organization=org, status=Divergence.Status.ACTIVE, review_on__lt=today)
    return [DueDivergence(d.team_id, d.approach, d.review_on) for d in rows.order_by("team_id")]


def _follow_ups_due(org: Organization, today: date) -> list[DueFollowUp]:
    rows = SteeringDecision.objects.filter(
        organization=org, follow_up_on__lt=today, follow_up_done_at__isnull=True
    ).exclude(subject_id="")
    return [
        DueFollowUp(d.pk, d.subject_type, d.subject_id, d.team_id, d.outcome, cast(date, d.follow_up_on))
        for d in rows.order_by("follow_up_on", "id")
    ]


def _latest_snapshot_ids(org: Organization, up_to: datetime | None = None) -> Any:
    newest = ScoreSnapshot.objects.filter(
        organization=org, subject_type=OuterRef("subject_type"), subject_id=OuterRef("subject_id")
    ).order_by("-computed_at", "-id")
    if up_to is not None:
        newest = newest.filter(computed_at__lte=up_to)
    return (
        ScoreSnapshot.objects.filter(organization=org)
        .values("subject_type", "subject_id")
        .annotate(newest=Subquery(newest.values("id")[:1]))
        .values("newest")
    )


def _load_goals(org: Organization) -> list[scoring.GoalInputs]:
    latest_checkin = CheckIn.objects.filter(goal=OuterRef("pk")).order_by("-created_at", "-id")
    rows = (
        Goal.objects.filter(organization=org, status=GoalStatus.ACTIVE)
        .annotate(
            strategy_count=Count("strategy_links", distinct=True),
            latest_confidence=Subquery(latest_checkin.values("confidence")[:1]),
            last_checkin_at=Subquery(latest_checkin.values("created_at")[:1]),
        )
        .order_by("id")
    )
    metrics: dict[Any, list[scoring.MetricInputs]] = defaultdict(list)
    nth_reading = Reading.objects.filter(metric=OuterRef("pk")).order_by("-observed_at").values("id")
    min_readings = org.rule_settings["likely_miss_min_readings"]
    rows_of_metrics = Metric.objects.filter(organization=org, goal__status=GoalStatus.ACTIVE).annotate(
        nth_reading=Subquery(nth_reading[min_readings - 1 : min_readings])
    )
    guardrails: dict[Any, list[scoring.GuardrailInputs]] = defaultdict(list)
    recent_fits = goal_selectors.metric_recent_fits(org=org)
    for m in rows_of_metrics.order_by("id"):
        if m.role == MetricRole.GUARDRAIL:
            if m.threshold is not None:
                guardrails[m.goal_id].append(
                    scoring.GuardrailInputs(m.id, m.name, m.direction, m.threshold, m.current, m.unit)
                )
            continue
        metrics[m.goal_id].append(
            scoring.MetricInputs(
                m.id,
                m.name,
                m.baseline,
                m.target,
                m.weight,
                m.forecast,
                m.stale_after_days,
                m.last_reading_ts,
                m.forecast_low,
                m.forecast_high,
                m.p_hit,
                enough_readings=m.nth_reading is not None,
                stall=_stall(m, recent_fits.get(m.id)),
            )
        )
    concerns, challenges = _open_feedback_counts(org, TargetType.GOAL)
    return [
        scoring.GoalInputs(
            id=g.id,
            title=g.title,
            team_id=g.team_id,
            parent_id=g.parent_id,
            owner_id=g.owner_id,
            weight=g.weight,
            progress=g.progress,
            window_start_ts=g.window_start_ts,
            window_end_ts=g.window_end_ts,
            hypothesis=g.hypothesis,
            strategy_count=g.strategy_count,
            latest_confidence=g.latest_confidence,
            last_checkin_ts=_ts(g.last_checkin_at),
            open_concerns=concerns[str(g.id)],
            open_challenges=challenges[str(g.id)],
            metrics=tuple(metrics[g.id]),
            guardrails=tuple(guardrails[g.id]),
        )
        for g in rows
    ]


def _stall(metric: Metric, recent: formulas.LineFit | None) -> formulas.Stall | None:
    if metric.last_reading_ts is None:
        return None
    return formulas.stall(
        recent, latest_ts=metric.last_reading_ts, end_ts=metric.window_end_ts, baseline=metric.baseline,
        target=metric.target,
    )  # fmt: skip


def _open_feedback_counts(org: Organization, target_type: str) -> tuple[dict[str, int], dict[str, int]]:
    concerns: dict[str, int] = defaultdict(int)
    challenges: dict[str, int] = defaultdict(int)
    rows = (
        Feedback.objects.filter(
            organization=org, target_type=target_type, kind__in=[FeedbackKind.CONCERN, FeedbackKind.CHALLENGE]
        )
        .exclude(status=FeedbackStatus.RESOLVED)
        .values("target_id", "kind")
        .annotate(n=Count("id"))
    )
    for row in rows:
        (concerns if row["kind"] == FeedbackKind.CONCERN else challenges)[row["target_id"]] += row["n"]
    return concerns, challenges


def _load_teams(org: Organization) -> dict[Any, TeamInputs]:
    latest = Assessment.objects.filter(team=OuterRef("pk")).order_by("-created_at", "-id")
    teams = (
        Team.objects.filter(organization=org)
        .select_related("parent")
        .annotate(
            a_alignment=Subquery(latest.values("alignment")[:1]),
            a_confidence=Subquery(latest.values("confidence")[:1]),
            a_mode=Subquery(latest.values("recommended_mode")[:1]),
            a_created=Subquery(latest.values("created_at")[:1]),
        )
    )
    lead_checkins = {
        (row["goal__team_id"], row["author_id"]): row["last"]
        for row in CheckIn.objects.filter(organization=org, goal__team__isnull=False)
        .values("goal__team_id", "author_id")
        .annotate(last=Max("created_at"))
    }
    result = {}
    for team in teams:
        assessment = None
        if team.a_alignment is not None:
            assessment = scoring.AssessmentInputs(
                team.a_alignment, team.a_confidence, team.a_mode, _ts(team.a_created) or 0.0
            )
        result[team.id] = TeamInputs(
            id=team.id, name=team.name, lead_id=team.lead_id,
            parent_lead_id=team.parent.lead_id if team.parent else None,
            latest_assessment=assessment,
            last_lead_checkin_ts=_ts(lead_checkins.get((team.id, team.lead_id))),
        )  # fmt: skip
    return result


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


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
        for s in ScoreSnapshot.objects.filter(organization=org, pk__in=_latest_snapshot_ids(org, up_to))
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
    org: Organization, world: World, goals: dict[str, scoring.GoalInputs], finding: Finding, now: datetime
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


class Audience:
    """Who answers for a correction's subject, resolved in memory from three queries: the
    goal's owner, the team's lead, and the members of every steering group that is the goal's
    team, an ancestor of it, or the team of an ancestor goal."""

    def __init__(self, org: Organization) -> None:
        self.teams = {t.id: t for t in Team.objects.filter(organization=org).only("id", "parent_id", "kind", "lead_id")}
        self.goals = {
            str(pk): (owner_id, team_id, parent_id)
            for pk, owner_id, team_id, parent_id in Goal.objects.filter(organization=org).values_list(
                "id", "owner_id", "team_id", "parent_id"
            )
        }
        self.steering_members: dict[Any, set[Any]] = defaultdict(set)
        for team_id, user_id in TeamMember.objects.filter(
            organization=org, team__kind=TeamKind.STEERING_GROUP
        ).values_list("team_id", "user_id"):
            self.steering_members[team_id].add(user_id)

    def of(self, correction: CourseCorrection) -> set[Any]:
        recipients: set[Any] = set()
        team_ids: list[Any] = [correction.team_id]
        if correction.subject_type == "goal" and correction.subject_id in self.goals:
            recipients.add(self.goals[correction.subject_id][0])
            goal_id: Any = correction.subject_id
            seen: set[Any] = set()
            while goal_id is not None and goal_id in self.goals and goal_id not in seen:
                seen.add(goal_id)
                _, team_id, parent_id = self.goals[goal_id]
                team_ids.append(team_id)
                goal_id = str(parent_id) if parent_id else None
        lead = self.teams.get(correction.team_id) if correction.team_id else None
        recipients.add(lead.lead_id if lead else None)
        for team_id in {t for t in team_ids if t is not None}:
            recipients |= self._steering_above(team_id)
        return recipients - {None}

    def _steering_above(self, team_id: Any) -> set[Any]:
        groups = selectors.steering_group_ids_above(self.teams, team_id)
        return set().union(*(self.steering_members[group] for group in groups))


def announce(correction: CourseCorrection, event_type: str) -> None:
    """Tell the people who answer for the subject (inbox, then email) and the webhooks what a
    person did to a cause (with its open symptoms); what happens to a symptom stays quiet."""
    if correction.caused_by_id is not None:
        return
    org = correction.organization
    symptoms = list(correction.symptoms.filter(ACTIVE_CORRECTION, organization=org))
    notify_all(org=org, notices=[_notice(event_type, correction, Audience(org).of(correction))])
    event = Event(event_type, correction_payload(correction, symptoms), f"{event_type}:{correction.pk}")
    emit_events(org=org, events=[event])


def announce_rescore(
    org: Organization,
    announcements: list[tuple[str, CourseCorrection]],
    touched: Iterable[CourseCorrection],
    audience: Audience,
) -> None:
    """What one rescore says: a webhook event per cause, carrying its symptoms, and at most one
    notification per person: the cause itself, or a digest when several concern them."""
    if not announcements:
        return
    symptoms: dict[Any, list[CourseCorrection]] = defaultdict(list)
    for correction in touched:
        if correction.caused_by_id is not None:
            symptoms[correction.caused_by_id].append(correction)
    per_person: dict[Any, list[tuple[str, CourseCorrection]]] = defaultdict(list)
    for event_type, correction in announcements:
        for recipient in audience.of(correction):
            per_person[recipient].append((event_type, correction))
    by_items: dict[tuple[tuple[str, Any], ...], set[Any]] = defaultdict(set)
    for recipient, items in per_person.items():
        by_items[tuple((event_type, c.pk) for event_type, c in items)].add(recipient)
    corrections = {c.pk: c for _, c in announcements}
    notices = [
        _notice(items[0][0], corrections[items[0][1]], recipients)
        if len(items) == 1
        else _digest([(event_type, corrections[pk]) for event_type, pk in items], recipients, symptoms)
        for items, recipients in by_items.items()
    ]
    notify_all(org=org, notices=notices)
    events = [
        Event(event_type, correction_payload(c, symptoms.get(c.pk, [])), f"{event_type}:{c.pk}")
        for event_type, c in announcements
    ]
    events += [
        Event("guardrail.breached", correction_payload(c, symptoms.get(c.pk, [])), f"guardrail.breached:{c.pk}")
        for event_type, c in announcements
        if event_type == "course_correction.opened" and c.trigger == Trigger.GUARDRAIL_BREACHED
    ]
    emit_events(org=org, events=events)


def _notice(event_type: str, correction: CourseCorrection, recipients: Iterable[Any]) -> Notice:
    verb = event_type.rsplit(".", 1)[1]
    return Notice(
        recipient_ids=frozenset(recipients), kind=event_type,
        title=f"Course correction {verb}: {Trigger(correction.trigger).label.lower()}",
        body=correction.detail if verb != "resolved" else f"{correction.detail}\n\n{correction.resolution}",
        subject_type="course_correction", subject_id=correction.pk, dedupe_key=f"{event_type}:{correction.pk}",
    )  # fmt: skip


def _digest(
    items: list[tuple[str, CourseCorrection]], recipients: Iterable[Any], symptoms: dict[Any, list[CourseCorrection]]
) -> Notice:
    lines = []
    for event_type, correction in items:
        verb = event_type.rsplit(".", 1)[1].capitalize()
        explained = symptoms.get(correction.pk, [])
        also = f" (explains {len(explained)} more)" if explained else ""
        lines.append(f"- {verb}: {Trigger(correction.trigger).label.lower()}{also}. {correction.detail}")
    opened = sum(1 for event_type, _ in items if event_type.endswith("opened"))
    title = f"{len(items)} course corrections: {opened} opened, {len(items) - opened} resolved"
    digest_id = hashlib.sha256("|".join(f"{e}:{c.pk}" for e, c in items).encode()).hexdigest()[:32]
    return Notice(
        recipient_ids=frozenset(recipients), kind=DIGEST_KIND, title=title, body="\n".join(lines),
        subject_type="course_correction", subject_id=items[0][1].pk, dedupe_key=f"{DIGEST_KIND}:{digest_id}",
    )  # fmt: skip


def correction_payload(correction: CourseCorrection, symptoms: Iterable[CourseCorrection] = ()) -> dict[str, Any]:
    """A correction as webhooks carry it; a cause carries its symptoms."""
    return {
        **_payload(correction),
        "caused_by": str(correction.caused_by_id) if correction.caused_by_id else None,
        "symptoms": [_payload(symptom) for symptom in sorted(symptoms, key=lambda c: (c.trigger, str(c.pk)))],
    }


def _payload(correction: CourseCorrection) -> dict[str, Any]:
    return {
        "id": str(correction.pk),
        "subject_type": correction.subject_type,
        "subject_id": correction.subject_id,
        "trigger": correction.trigger,
        "severity": correction.severity,
        "detail": correction.detail,
        "recommended_mode": correction.recommended_mode or None,
        "status": correction.status,
        "review_by": correction.review_by.isoformat() if correction.review_by else None,
        "resolution": correction.resolution,
    }
