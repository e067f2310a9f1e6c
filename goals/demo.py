"""The demo organization's direction and cascade, with a year of daily readings.

Dates are relative to the day it is loaded: the cycle runs from 270 days ago to 95 days
ahead, so the cascade is about three quarters through its year. Most teams are on pace and
Performance is ahead of it; Matchmaking and Store are clearly off track, Anti-Cheat is going the
wrong way, Localization stopped reporting three weeks ago (stale) and Esports trails a little
(at risk).
"""

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import transaction

from alignment_service.access import Access, Role
from goals import services
from goals.formulas import window_bounds_ts
from goals.models import (
    Cycle,
    DirectionVersion,
    Goal,
    GoalStatus,
    GoalStrategy,
    Metric,
    MetricDirection,
    Reading,
    StrategyPillar,
)
from teams.demo import DemoPeople

PAST_DAYS, FUTURE_DAYS = 270, 95
HISTORY_DAYS = 365

VISION = "Every player finds friends and a reason to come back, every day."
MISSION = "We build the most welcoming multiplayer games, shipped by small autonomous teams."
VALUES = [
    {"name": "Players first", "description": "We measure ourselves by what players do, not by what we ship."},
    {"name": "Autonomy with alignment", "description": "Teams choose how; the direction says why and what."},
    {"name": "Candor", "description": "We say what the data says, especially when it busts our hypothesis."},
]
PILLARS = [
    ("Win the first session", "Activation: new players reach the fun in minutes."),
    ("Make every week worth it", "Engagement: a reason to play this week, with friends."),
    ("Keep players for years", "Retention: progression, fairness and community that last."),
]


@dataclass(frozen=True)
class TeamPlan:
    """One team's area goal: which pillar it serves, its metrics and how its year went."""

    pillar: int
    goal: str
    hypothesis: str
    metrics: tuple[tuple[str, str, str, float, float], ...]  # key, name, unit, baseline, target
    pace: float = 1.0  # share of the expected pace actually achieved
    stale_days: int = 0  # days since the last reading


PLANS = {
    "Onboarding": TeamPlan(
        0,
        "Cut time to first match to 3 minutes",
        "A shorter tutorial lifts activation.",
        (
            ("onboarding-ttfm", "Time to first match", "min", 9, 3),
            ("onboarding-completion", "Tutorial completion", "%", 55, 80),
        ),
    ),
    "Matchmaking": TeamPlan(
        0,
        "Fair matches within 30 seconds",
        "Faster fair matches keep new players.",
        (
            ("matchmaking-wait", "Median queue time", "s", 75, 30),
            ("matchmaking-fairness", "Balanced matches", "%", 60, 85),
        ),
        pace=0.25,
    ),
    "Progression": TeamPlan(
        2,
        "A reason to return every day",
        "Daily goals raise D30 retention.",
        (("progression-daily", "Players completing a daily goal", "%", 18, 35),),
    ),
    "Social": TeamPlan(
        1,
        "Play with friends in two taps",
        "Party play doubles session length.",
        (
            ("social-party-rate", "Sessions in a party", "%", 22, 40),
            ("social-invites", "Invites accepted per DAU", "", 0.05, 0.12),
        ),
    ),
    "Store": TeamPlan(
        1,
        "A store players trust",
        "Fair prices raise paying conversion.",
        (("store-conversion", "Paying conversion", "%", 2.0, 3.5),),
        pace=-0.2,
    ),
    "Live Events": TeamPlan(
        1,
        "An event every weekend",
        "Weekend events lift weekly engagement.",
        (("events-participation", "Weekend event participation", "%", 15, 30),),
    ),
    "Clans": TeamPlan(
        2,
        "Every player in a clan by day 7",
        "Clan members churn half as much.",
        (("clans-joined-d7", "Players in a clan by day 7", "%", 12, 30),),
    ),
    "Rewards": TeamPlan(
        2,
        "Rewards that feel earned",
        "Earned rewards raise retention.",
        (("rewards-claim-rate", "Reward claim rate", "%", 40, 70),),
    ),
    "Notifications": TeamPlan(
        1,
        "Messages players want",
        "Relevant nudges bring players back.",
        (("notif-open-rate", "Notification open rate", "%", 4, 9), ("notif-optout", "Opt-out rate", "%", 12, 6)),
    ),
    "Anti-Cheat": TeamPlan(
        2,
        "Cheaters gone within a day",
        "Fair games keep honest players.",
        (("anticheat-reports", "Cheating reports per 1k matches", "", 8, 2),),
        pace=-0.5,
    ),
    "Performance": TeamPlan(
        0,
        "60 fps on a five-year-old phone",
        "Smooth play lifts activation on low-end devices.",
        (("perf-crash-rate", "Crash rate", "%", 2.0, 0.5), ("perf-fps-p10", "10th-percentile fps", "fps", 32, 55)),
        pace=1.25,
    ),
    "Localization": TeamPlan(
        0,
        "The game in 20 languages",
        "Native languages double activation abroad.",
        (("l10n-languages", "Languages shipped", "", 8, 20),),
        stale_days=23,
    ),
    "Accessibility": TeamPlan(
        0,
        "Playable by everyone",
        "Accessible controls widen our audience.",
        (("a11y-audit-score", "Accessibility audit score", "pts", 55, 90),),
    ),
    "Creator Tools": TeamPlan(
        1,
        "Players build the next mode",
        "Player-made modes raise engagement.",
        (("creator-maps-weekly", "Player maps published weekly", "", 150, 600),),
    ),
    "Esports": TeamPlan(
        1,
        "A league for every skill level",
        "Leagues give a reason to play every week.",
        (("esports-league-players", "Players in a league", "k", 20, 60),),
        pace=0.8,
    ),
}

COMPANY_METRICS = (
    ("mau", "Monthly active players", "M", 12.0, 24.0, 1.0),
    ("activation-rate", "Activation: new players finishing a first match", "%", 48, 70, 1.0),
    ("weekly-sessions", "Engagement: sessions per active player per week", "", 4.2, 6.0, 0.9),
    ("d30-retention", "Retention: day-30 retention", "%", 11, 18, 0.95),
)


def load_demo_cascade(people: DemoPeople, *, today: date | None = None) -> None:
    """Direction, pillars, the company goal and fifteen team goals, with a year of readings."""
    today = today or date.today()
    with transaction.atomic():
        _load(people, today)


def _load(people: DemoPeople, today: date) -> None:
    org, owner = people.org, people.owner
    access = Access(org=org, user=owner, role=Role.OWNER)
    DirectionVersion.objects.create(
        organization=org, version=1, vision=VISION, mission=MISSION, values=VALUES, created_by=owner
    )
    starts_on, due_on = today - timedelta(days=PAST_DAYS), today + timedelta(days=FUTURE_DAYS)
    cycle = Cycle.objects.create(organization=org, name=f"FY{due_on.year}", starts_on=starts_on, ends_on=due_on)
    pillars = [
        StrategyPillar.objects.create(organization=org, title=title, description=text, owner=owner)
        for title, text in PILLARS
    ]
    window = window_bounds_ts(starts_on, due_on, org.timezone)
    company = _goal(
        org, cycle, window, title="Double monthly active players year over year", owner=owner,
        team=None, parent=None, weight=1, created_at=_created(today, PAST_DAYS + 7),
        hypothesis="Activation, engagement and retention together double monthly active players.",
    )  # fmt: skip
    GoalStrategy.objects.bulk_create([GoalStrategy(organization=org, goal=company, pillar=p) for p in pillars])
    rng = random.Random(20261122)  # noqa: S311 (repeatable demo noise, not a secret)
    readings: list[Reading] = []
    for key, name, unit, baseline, target, pace in COMPANY_METRICS:
        metric = _metric(org, company, window, key, name, unit, baseline, target)
        readings += _daily_readings(metric, today, starts_on, due_on, pace, 0, rng)
    for team in people.product_teams:
        plan = PLANS[team.name]
        area = StrategyPillar.objects.create(
            organization=org, title=f"{team.name}: {plan.goal}", team=team, parent=pillars[plan.pillar], owner=team.lead
        )
        goal = _goal(
            org, cycle, window, title=plan.goal, owner=team.lead, team=team, parent=company, weight=1,
            hypothesis=plan.hypothesis, created_at=_created(today, PAST_DAYS + 3),
        )  # fmt: skip
        GoalStrategy.objects.create(organization=org, goal=goal, pillar=area)
        for key, name, unit, baseline, target in plan.metrics:
            metric = _metric(org, goal, window, key, name, unit, baseline, target, stale_after_days=7)
            readings += _daily_readings(metric, today, starts_on, due_on, plan.pace, plan.stale_days, rng)
    Reading.objects.bulk_create(readings, batch_size=2000)
    services.metrics_refresh(org=org, metric_ids=Metric.objects.filter(organization=org).values_list("id", flat=True))
    services.goals_refresh_progress(org=org)
    services.owe_rescore(access.org)


def _created(today: date, days_ago: int) -> datetime:
    """When the demo's history says a goal was created (the activity feed says the same)."""
    return datetime.combine(today - timedelta(days=days_ago), time(10, 0), tzinfo=UTC)


def _goal(org: Any, cycle: Cycle, window: tuple[float, float], **fields: Any) -> Goal:
    return Goal.objects.create(
        organization=org, cycle=cycle, starts_on=cycle.starts_on, due_on=cycle.ends_on, status=GoalStatus.ACTIVE,
        window_start_ts=window[0], window_end_ts=window[1], **fields,
    )  # fmt: skip


def _metric(
    org: Any, goal: Goal, window: tuple[float, float], key: str, name: str, unit: str, baseline: float, target: float,
    stale_after_days: int | None = None,
) -> Metric:  # fmt: skip
    direction = MetricDirection.INCREASE if target > baseline else MetricDirection.DECREASE
    return Metric.objects.create(
        organization=org, goal=goal, key=key, name=name, unit=unit, direction=direction, baseline=baseline,
        target=target, stale_after_days=stale_after_days, window_start_ts=window[0], window_end_ts=window[1],
    )  # fmt: skip


def _daily_readings(
    metric: Metric, today: date, starts_on: date, due_on: date, pace: float, stale_days: int, rng: random.Random
) -> list[Reading]:
    """Noisy daily values: flat at the baseline before the cycle, then `pace` times the line to target."""
    span = (due_on - starts_on).days
    noise = abs(metric.target - metric.baseline) * 0.02
    rows = []
    for offset in range(HISTORY_DAYS, stale_days - 1, -1):
        day = today - timedelta(days=offset)
        elapsed = max(0, (day - starts_on).days) / span
        value = metric.baseline + (metric.target - metric.baseline) * elapsed * pace + rng.gauss(0, noise)
        observed_at = datetime.combine(day, time(0, 0), tzinfo=UTC)
        rows.append(
            Reading(
                organization=metric.organization, metric=metric, observed_at=observed_at, value=value, source="demo"
            )
        )
    return rows
