"""The course-correction rules (see docs/scoring.md): pure functions from an organization's
state (`feedback.inputs.World`) to the findings that hold now. `feedback.engine` opens a correction for each new finding
and resolves open ones whose finding no longer holds.
"""

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from feedback.inputs import ActiveCorrection, GoalInputs, MetricInputs, TeamInputs, World
from feedback.matrix import INTERVENTION_MODES
from feedback.models import LeadershipMode, Severity, SubjectType, Trigger
from feedback.scoring import DAY, elapsed_share, forecast_share
from goals import formulas
from goals.models import guardrail_breached

INTERVENTION_TRIGGERS = (Trigger.INTERVENTION, Trigger.CRITICAL_QUADRANT)


@dataclass(frozen=True)
class Finding:
    subject_type: str
    subject_id: str
    trigger: str
    severity: str
    detail: str
    team_id: Any = None
    recommended_mode: str = ""
    review_by: date | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.subject_type, self.subject_id, self.trigger)


def pct(value: float) -> str:
    return f"{round(value * 100)} %"


def find_all(world: World) -> list[Finding]:
    findings = [*goal_findings(world), *score_findings(world), *team_findings(world), *steering_findings(world)]
    return sorted({f.key: f for f in findings}.values(), key=lambda f: f.key)


def _team_mode(world: World, team_id: Any) -> str:
    team = world.teams.get(team_id)
    assessment = team.latest_assessment if team else None
    return assessment.recommended_mode if assessment else ""


def goal_findings(world: World) -> Iterator[Finding]:
    settings, now_ts = world.settings, world.now_ts
    for goal in world.goals:
        subject = (SubjectType.GOAL, str(goal.id))
        mode = _team_mode(world, goal.team_id)
        elapsed = elapsed_share(goal, now_ts)
        health = formulas.health(
            progress=goal.progress, expected=elapsed,
            tolerance=settings["health_tolerance"], at_risk_gap=settings["at_risk_gap"],
        )  # fmt: skip
        if health == formulas.OFF_TRACK and goal.progress is not None:
            yield Finding(
                *subject, Trigger.OFF_TRACK, Severity.WARNING,
                f"'{goal.title}' is {pct(goal.progress)} of the way at {pct(elapsed)} of its window "
                f"(more than {pct(settings['at_risk_gap'])} behind pace).",
                goal.team_id, mode,
            )  # fmt: skip
        stale = [
            m for m in goal.metrics
            if formulas.is_stale(stale_after_days=m.stale_after_days, last_reading_ts=m.last_reading_ts, now_ts=now_ts)
        ]  # fmt: skip
        if stale:
            metric = stale[0]
            age = "no readings yet" if metric.last_reading_ts is None else (
                f"last reading {int((now_ts - metric.last_reading_ts) // DAY)} days ago"
            )  # fmt: skip
            yield Finding(
                *subject, Trigger.STALE_DATA, Severity.INFO,
                f"{metric.name} is stale: {age}, expected every {metric.stale_after_days} days"
                + (f" ({len(stale)} stale metrics)." if len(stale) > 1 else "."),
                goal.team_id, mode,
            )  # fmt: skip
        yield from _checkin_findings(world, goal, subject, mode)
        yield from _busted_findings(world, goal, subject, mode, elapsed)
        yield from _likely_miss_findings(world, goal, subject, mode, elapsed)
        yield from _guardrail_findings(goal, subject, mode)


def _guardrail_findings(goal: GoalInputs, subject: tuple[str, str], mode: str) -> Iterator[Finding]:
    crossed = [
        g for g in goal.guardrails
        if g.current is not None and guardrail_breached(g.direction, g.threshold, g.current)
    ]  # fmt: skip
    if not crossed:
        return
    parts = [
        f"{g.name} is {g.current:g}{g.unit and ' ' + g.unit}, "
        f"{'below' if g.direction == 'increase' else 'above'} its guardrail of {g.threshold:g}"
        for g in crossed
    ]
    yield Finding(
        *subject, Trigger.GUARDRAIL_BREACHED, Severity.CRITICAL,
        f"'{goal.title}' crossed a guardrail: {'; '.join(parts)}. Progress that costs this is not progress.",
        goal.team_id, mode,
    )  # fmt: skip


def _checkin_findings(world: World, goal: GoalInputs, subject: tuple[str, str], mode: str) -> Iterator[Finding]:
    settings, now_ts = world.settings, world.now_ts
    allowed = 2 * settings["checkin_interval_days"]
    since_ts = max(goal.window_start_ts, goal.last_checkin_ts or goal.window_start_ts)
    silent_days = (now_ts - since_ts) / DAY
    if silent_days > allowed:
        last = "no check-in yet" if goal.last_checkin_ts is None else f"last check-in {int(silent_days)} days ago"
        yield Finding(
            *subject, Trigger.STALE_CHECKIN, Severity.INFO,
            f"'{goal.title}': {last}; check-ins are expected every {settings['checkin_interval_days']} days.",
            goal.team_id, mode,
        )  # fmt: skip
    if goal.latest_confidence is not None and goal.latest_confidence <= settings["low_confidence"]:
        yield Finding(
            *subject, Trigger.LOW_CONFIDENCE, Severity.WARNING,
            f"The latest check-in on '{goal.title}' has confidence {goal.latest_confidence}/10 "
            f"(at or below {settings['low_confidence']}).",
            goal.team_id, mode,
        )  # fmt: skip


def _busted_findings(
    world: World, goal: GoalInputs, subject: tuple[str, str], mode: str, elapsed: float
) -> Iterator[Finding]:
    settings = world.settings
    if not (goal.hypothesis.strip() or goal.open_challenges) or elapsed < settings["busted_after"]:
        return
    shortfalls = [
        (share, m)
        for m in goal.metrics
        if (share := forecast_share(m)) is not None and share < settings["busted_below"]
    ]
    if not shortfalls:
        return
    share, metric = min(shortfalls, key=lambda item: item[0])
    challenged = " A challenge on the goal questions it too." if goal.open_challenges else ""
    yield Finding(
        *subject, Trigger.HYPOTHESIS_BUSTED, Severity.CRITICAL,
        f"{metric.name} forecast {pct(share)} of the way to target at {pct(elapsed)} of the cycle: "
        f"the data does not support the hypothesis.{challenged}",
        goal.team_id, mode,
    )  # fmt: skip


def _likely_miss_findings(
    world: World, goal: GoalInputs, subject: tuple[str, str], mode: str, elapsed: float
) -> Iterator[Finding]:
    """The goal's odds (over its metrics with enough readings) are below `likely_miss_below`
    and its forecast falls short of the target by more than `health_tolerance` of the way:
    a goal forecast to land within the tolerance is on track by the same rule as its health.

    A metric whose recent readings have stalled (`formulas.stall`: their slope significantly
    below the pace still needed) counts with the recent line's odds and forecast when they are
    the lower: the trend of `forecast_window_days` takes weeks to bend, the last
    `STALL_WINDOW_DAYS` do not."""
    settings = world.settings
    counted = [m for m in goal.metrics if m.p_hit is not None and m.enough_readings]
    if elapsed < settings["likely_miss_after"] or not counted:
        return
    outlooks = [(m, *_outlook(m)) for m in counted]
    p_hit = formulas.weighted_mean((p, m.weight) for m, p, _, _ in outlooks)
    share = formulas.weighted_mean((s, m.weight) for m, _, s, _ in outlooks)
    if p_hit is None or share is None or p_hit >= settings["likely_miss_below"]:
        return
    if share >= 1 - settings["health_tolerance"]:
        return
    worst, _, _, stalled = min(outlooks, key=lambda item: item[1])
    yield Finding(
        *subject, Trigger.LIKELY_MISS, Severity.WARNING,
        f"'{goal.title}' has a {pct(p_hit)} chance of reaching its target at {pct(elapsed)} of its window: "
        + (_stall_detail(worst, worst.stall) if stalled and worst.stall else _trend_detail(worst)),
        goal.team_id, mode,
    )  # fmt: skip


def _outlook(metric: MetricInputs) -> tuple[float, float | None, bool]:
    """(p_hit, forecast share, from the stall): the lower of the trend's and the stall's odds."""
    p_hit = metric.p_hit if metric.p_hit is not None else 1.0
    if metric.stall is not None and metric.stall.p_hit < p_hit:
        return metric.stall.p_hit, forecast_share(replace(metric, forecast=metric.stall.forecast)), True
    return p_hit, forecast_share(metric), False


def _trend_detail(metric: MetricInputs) -> str:
    band = (
        f" (80 % band {metric.forecast_low:.4g} to {metric.forecast_high:.4g})"
        if metric.forecast_low is not None and metric.forecast_high is not None
        else ""
    )
    return f"{metric.name} is forecast at {metric.forecast:.4g}{band} against a target of {metric.target:g}."


def _stall_detail(metric: MetricInputs, stall: formulas.Stall) -> str:
    return (
        f"{metric.name} moved {stall.recent_slope:.3g} a day over the last {formulas.STALL_WINDOW_DAYS} days "
        f"where {stall.needed_slope:.3g} a day is needed, and at that rate reaches {stall.forecast:.4g} "
        f"against a target of {metric.target:g}."
    )


def score_findings(world: World) -> Iterator[Finding]:
    threshold, drop_alert = world.settings["score_threshold"], world.settings["score_drop_alert"]
    team_of_goal = {str(goal.id): goal.team_id for goal in world.goals}
    for (subject_type, subject_id), score in sorted(world.scores.items()):
        if subject_type == SubjectType.ORG:
            continue
        team_id = team_of_goal.get(subject_id) if subject_type == SubjectType.GOAL else subject_id
        mode = _team_mode(world, team_id)
        if score < threshold:
            severity = Severity.CRITICAL if score < threshold / 2 else Severity.WARNING
            yield Finding(
                subject_type, subject_id, Trigger.SCORE_BELOW_THRESHOLD, severity,
                f"Alignment score {score:g} is below the threshold of {threshold}.", team_id, mode,
            )  # fmt: skip
        previous = world.previous_scores.get((subject_type, subject_id))
        if previous is not None and previous - score >= drop_alert:
            yield Finding(
                subject_type, subject_id, Trigger.SCORE_DROP, Severity.WARNING,
                f"Alignment score fell {previous - score:.2f} points, from {previous:g} to {score:g}.", team_id, mode,
            )  # fmt: skip


def team_findings(world: World) -> Iterator[Finding]:
    interventions = list(_assessment_findings(world))
    yield from interventions
    yield from _overdue_findings(world, interventions)
    yield from _drift_findings(world)
    yield from _micromanagement_findings(world)


def _assessment_findings(world: World) -> Iterator[Finding]:
    days = world.settings["intervention_days"]
    for team in world.teams.values():
        assessment = team.latest_assessment
        if assessment is None or assessment.recommended_mode not in INTERVENTION_MODES:
            continue
        review_by = date.fromtimestamp(assessment.created_ts) + timedelta(days=days)
        ratings = f"alignment {assessment.alignment}/5, confidence {assessment.confidence}/5"
        if assessment.recommended_mode == LeadershipMode.CRITICAL:
            yield Finding(
                SubjectType.TEAM, str(team.id), Trigger.CRITICAL_QUADRANT, Severity.CRITICAL,
                f"{team.name} was assessed low on both ({ratings}): pursue alignment or rebuild confidence now; "
                f"review by {review_by}.",
                team.id, LeadershipMode.CRITICAL, review_by,
            )  # fmt: skip
        else:
            yield Finding(
                SubjectType.TEAM, str(team.id), Trigger.INTERVENTION, Severity.WARNING,
                f"{team.name} needs guidance ({ratings}): close, temporary, tactical support until {review_by}, "
                "then pull back.",
                team.id, LeadershipMode.SELECTIVE_MICROMANAGEMENT, review_by,
            )  # fmt: skip


def _overdue_findings(world: World, interventions: list[Finding]) -> Iterator[Finding]:
    """Open interventions past their review date, including ones this run is about to open."""
    active = {(c.subject_id, c.trigger): c for c in world.active}
    for finding in interventions:
        active.setdefault(
            (finding.subject_id, finding.trigger),
            ActiveCorrection(finding.subject_type, finding.subject_id, finding.trigger, finding.review_by, 0),
        )
    for correction in active.values():
        if correction.trigger not in INTERVENTION_TRIGGERS or correction.review_by is None:
            continue
        if correction.review_by < world.today:
            team = world.teams.get(_as_team_key(world, correction.subject_id))
            name = team.name if team else "The team"
            days = (world.today - correction.review_by).days
            yield Finding(
                SubjectType.TEAM, correction.subject_id, Trigger.INTERVENTION_OVERDUE, Severity.WARNING,
                f"{name}'s {correction.trigger.replace('_', ' ')} passed its review date {correction.review_by} "
                f"{days} days ago: pull back, or extend it with a reason.",
                team.id if team else None, _team_mode(world, team.id if team else None),
            )  # fmt: skip


def _as_team_key(world: World, subject_id: str) -> Any:
    return next((key for key in world.teams if str(key) == subject_id), None)


def _drift_findings(world: World) -> Iterator[Finding]:
    settings, now_ts = world.settings, world.now_ts
    drift_days = settings["drift_days"]
    off_track: dict[Any, list[GoalInputs]] = defaultdict(list)
    for goal in world.goals:
        health = formulas.health(
            progress=goal.progress, expected=elapsed_share(goal, now_ts),
            tolerance=settings["health_tolerance"], at_risk_gap=settings["at_risk_gap"],
        )  # fmt: skip
        if goal.team_id is not None and health == formulas.OFF_TRACK:
            off_track[goal.team_id].append(goal)
    for team_id, goals in off_track.items():
        team = world.teams.get(team_id)
        if team is None:
            continue
        touches = [team.last_lead_checkin_ts, team.latest_assessment.created_ts if team.latest_assessment else None]
        last_touch = max((ts for ts in touches if ts is not None), default=None)
        if last_touch is not None and now_ts - last_touch <= drift_days * DAY:
            continue
        since = "ever" if last_touch is None else f"for {int((now_ts - last_touch) // DAY)} days"
        yield Finding(
            SubjectType.TEAM, str(team.id), Trigger.HANDS_OFF_DRIFT, Severity.WARNING,
            f"{team.name} has {len(goals)} off-track goal(s) and no check-in by its lead or assessment {since} "
            f"(more than {drift_days}).",
            team.id, _team_mode(world, team.id),
        )  # fmt: skip


def _micromanagement_findings(world: World) -> Iterator[Finding]:
    """A leader with interventions on most of the teams they lead (directly or as the parent
    team's lead), or an intervention extended again and again."""
    under = {c.subject_id for c in world.active if c.trigger in INTERVENTION_TRIGGERS}
    under |= {
        str(team.id) for team in world.teams.values()
        if team.latest_assessment and team.latest_assessment.recommended_mode in INTERVENTION_MODES
    }  # fmt: skip
    led: dict[Any, list[TeamInputs]] = defaultdict(list)
    for team in world.teams.values():
        for leader in {team.lead_id, team.parent_lead_id} - {None}:
            led[leader].append(team)
    for _leader, teams in sorted(led.items(), key=lambda item: str(item[0])):
        held = [team for team in teams if str(team.id) in under]
        if len(held) >= 2 and len(held) * 2 > len(teams):
            for team in held:
                yield Finding(
                    SubjectType.TEAM, str(team.id), Trigger.PERMANENT_MICROMANAGEMENT, Severity.CRITICAL,
                    f"Their leader has interventions open on {len(held)} of the {len(teams)} teams they lead: "
                    "guidance meant to be temporary is becoming the way of working.",
                    team.id, _team_mode(world, team.id),
                )  # fmt: skip
    for correction in world.active:
        if correction.trigger in INTERVENTION_TRIGGERS and correction.extension_count > 2:
            team_key = _as_team_key(world, correction.subject_id)
            yield Finding(
                SubjectType.TEAM, correction.subject_id, Trigger.PERMANENT_MICROMANAGEMENT, Severity.CRITICAL,
                f"This team's {correction.trigger.replace('_', ' ')} was extended {correction.extension_count} times.",
                team_key, _team_mode(world, team_key),
            )  # fmt: skip


# --- Causes and symptoms (see docs/scoring.md, "One alarm per cause") ----------------------------

Key = tuple[str, str, str]

# On one goal, the first of these that holds is the cause; every other one is its symptom.
GOAL_PRECEDENCE = (
    Trigger.STALE_DATA, Trigger.HYPOTHESIS_BUSTED, Trigger.OFF_TRACK, Trigger.LIKELY_MISS,
    Trigger.LOW_CONFIDENCE, Trigger.STALE_CHECKIN, Trigger.SCORE_BELOW_THRESHOLD, Trigger.SCORE_DROP,
)  # fmt: skip
# On one team, the first of these that holds is the team's leadership cause.
TEAM_CAUSES = (Trigger.CRITICAL_QUADRANT, Trigger.INTERVENTION, Trigger.HANDS_OFF_DRIFT)
# What a team's leadership cause explains on the same team.
TEAM_SYMPTOMS = (
    Trigger.INTERVENTION_OVERDUE, Trigger.HANDS_OFF_DRIFT, Trigger.SCORE_BELOW_THRESHOLD, Trigger.SCORE_DROP,
)  # fmt: skip
TEAM_SCORE = (Trigger.SCORE_BELOW_THRESHOLD, Trigger.SCORE_DROP)
SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


def link_causes(findings: Mapping[Key, Finding], team_of_goal: Mapping[str, Any]) -> dict[Key, Key | None]:
    """For each finding that holds, the finding that explains it (its cause), or None for a
    cause. Causes are never symptoms themselves, so every chain is one link long.

    1. On one goal, the first trigger of `GOAL_PRECEDENCE` that holds is the cause of all the
       others on that goal: stale data makes every reading-derived signal doubtful; a busted
       hypothesis explains being behind; being behind explains a forecast miss, low confidence,
       silence and a low score.
    2. On one team, the first of `TEAM_CAUSES` that holds explains the team's overdue review,
       hands-off drift and score triggers.
    3. A team's score trigger without such a cause is explained by the most severe cause among
       its own goals (the team score is the weighted mean of theirs).
    `manual` and `permanent_micromanagement` (a pattern across a leader's teams) always stand alone.
    """
    causes: dict[Key, Key | None] = dict.fromkeys(findings)
    by_subject: dict[tuple[str, str], set[str]] = defaultdict(set)
    for subject_type, subject_id, trigger in findings:
        by_subject[(subject_type, subject_id)].add(trigger)
    goal_causes: dict[Any, list[Finding]] = defaultdict(list)
    for (subject_type, subject_id), triggers in by_subject.items():
        if subject_type != SubjectType.GOAL:
            continue
        ranked = [t for t in GOAL_PRECEDENCE if t in triggers]
        if not ranked:
            continue
        cause = (SubjectType.GOAL, subject_id, ranked[0])
        goal_causes[str(team_of_goal.get(subject_id))].append(findings[cause])
        for trigger in ranked[1:]:
            causes[(SubjectType.GOAL, subject_id, trigger)] = cause
    for (subject_type, subject_id), triggers in by_subject.items():
        if subject_type != SubjectType.TEAM:
            continue
        leading = next((t for t in TEAM_CAUSES if t in triggers), None)
        if leading is not None:
            for trigger in triggers & set(TEAM_SYMPTOMS) - {leading}:
                causes[(SubjectType.TEAM, subject_id, trigger)] = (SubjectType.TEAM, subject_id, leading)
            continue
        candidates = sorted(goal_causes.get(subject_id, ()), key=_cause_order)
        for trigger in triggers & set(TEAM_SCORE):
            if candidates:
                causes[(SubjectType.TEAM, subject_id, trigger)] = candidates[0].key
    return causes


def _cause_order(finding: Finding) -> tuple[int, int, str]:
    rank = GOAL_PRECEDENCE.index(Trigger(finding.trigger))
    return (SEVERITY_RANK.get(Severity(finding.severity), 3), rank, finding.subject_id)


def steering_findings(world: World) -> Iterator[Finding]:
    """Divergences past their review date; steering decisions whose follow-up is late."""
    for divergence in world.divergences_due:
        team = world.teams.get(divergence.team_id)
        name = team.name if team else "The team"
        yield Finding(
            SubjectType.TEAM, str(divergence.team_id), Trigger.DIVERGENCE_REVIEW, Severity.WARNING,
            f"{name}'s divergence ({divergence.approach[:120]}) was due for review on {divergence.review_on}: "
            "close it with its outcome, or decide to go on.",
            divergence.team_id, _team_mode(world, divergence.team_id),
        )  # fmt: skip
    for follow_up in world.follow_ups_due:
        days = (world.today - follow_up.follow_up_on).days
        yield Finding(
            follow_up.subject_type, follow_up.subject_id, Trigger.FOLLOW_UP_OVERDUE, Severity.WARNING,
            f"A steering decision's follow-up was due {follow_up.follow_up_on} ({days} days ago): "
            f"{follow_up.outcome[:200]}",
            follow_up.team_id, _team_mode(world, follow_up.team_id),
        )  # fmt: skip
