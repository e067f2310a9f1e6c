"""The demo organization's iteration loop: weekly check-ins, an assessment of every team
(all four quadrants), feedback with a challenge to a hypothesis, and the activity feed of it all.

Written with explicit timestamps so the history reads like a year that happened.
"""

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from alignment_service.access import Scope
from alignment_service.activity.models import Activity
from feedback import history, matrix
from feedback.models import Assessment, CheckIn, Feedback, FeedbackReply, FeedbackStatus, SubjectType
from goals import formulas
from goals.demo import PAST_DAYS
from goals.models import Cycle, Goal, GoalStatus
from teams.demo import DemoPeople
from teams.services import api_key_create

# team → (alignment, confidence, days ago) of the Product lead's latest assessment
ASSESSMENTS = {
    "Onboarding": (5, 5, 12), "Matchmaking": (4, 2, 9), "Progression": (4, 4, 20), "Social": (5, 4, 15),
    "Store": (2, 2, 6), "Live Events": (4, 4, 25), "Clans": (4, 5, 18), "Rewards": (5, 4, 22),
    "Notifications": (4, 4, 30), "Anti-Cheat": (2, 1, 33), "Performance": (5, 5, 11), "Localization": (4, 3, 16),
    "Accessibility": (4, 4, 27), "Creator Tools": (2, 4, 14), "Esports": (3, 5, 8),
}  # fmt: skip
# team → (usual confidence, days since the lead last checked in)
CHECKINS = {"Matchmaking": (3, 2), "Store": (2, 4), "Anti-Cheat": (3, 24), "Localization": (6, 36), "Esports": (5, 3)}
SUMMARIES = {
    True: ["Shipped the planned experiment; numbers moving as expected.", "On pace; next milestone in review."],
    False: ["Behind plan; the last release did not move the metric.", "Still stuck; we are re-planning the quarter."],
}


def at(today: date, days_ago: int, hour: int = 10) -> datetime:
    return datetime.combine(today - timedelta(days=days_ago), time(hour, 0), tzinfo=UTC)


def load_demo_iteration(people: DemoPeople, *, today: date | None = None) -> None:
    today = today or date.today()
    with transaction.atomic():
        _load(people, today)


def load_demo_history(people: DemoPeople, *, today: date | None = None) -> int:
    """Weekly score snapshots back to the start of the cycle, as the engine would have written
    them from what was known each week; the number of snapshots written."""
    today = today or date.today()
    now = timezone.now()
    return history.backfill(people.org, history.weekly_instants(at(today, PAST_DAYS, 0), now))


def _load(people: DemoPeople, today: date) -> None:
    org, owner = people.org, people.owner
    cpo = people.product.lead
    goals = {goal.team_id: goal for goal in Goal.objects.filter(organization=org, team__isnull=False)}
    company = Goal.objects.get(organization=org, team__isnull=True)
    rng = random.Random(7)  # noqa: S311 (repeatable demo data, not a secret)
    feed: list[Activity] = []

    def entry(
        actor: Any, verb: str, subject_type: str, subject_id: Any, summary: str, when: datetime, **extra: Any
    ) -> None:
        feed.append(
            Activity(
                organization=org, actor_user=actor if not extra.get("key") else None, actor_api_key=extra.get("key"),
                anonymous=extra.get("anonymous", False), verb=verb, subject_type=subject_type,
                subject_id=str(subject_id), summary=summary, data=extra.get("data", {}), created_at=when,
            )
        )  # fmt: skip

    entry(owner, "direction.updated", "direction", 1, "published version 1 of the direction", at(today, PAST_DAYS + 14))
    entry(owner, "goal.created", "goal", company.pk, f"created goal '{company.title}'", at(today, PAST_DAYS + 7))
    check_ins, assessments = [], []
    for team in people.product_teams:
        goal = goals[team.pk]
        entry(team.lead, "goal.created", "goal", goal.pk, f"created goal '{goal.title}'", at(today, PAST_DAYS + 3))
        confidence, last = CHECKINS.get(team.name, (8, rng.randint(1, 6)))
        for days_ago in range(last, PAST_DAYS, 7):
            score = max(0, min(10, confidence + rng.choice((-1, 0, 0, 1))))
            when = at(today, days_ago, 16)
            summary = rng.choice(SUMMARIES[score >= 5])
            check_ins.append(
                CheckIn(
                    organization=org, goal=goal, author=team.lead, summary=summary, confidence=score, created_at=when
                )
            )
            entry(
                team.lead,
                "checkin.created",
                "goal",
                goal.pk,
                f"checked in on '{goal.title}' with confidence {score}/10",
                when,
            )
        alignment, conf, days_ago = ASSESSMENTS[team.name]
        quadrant, mode = matrix.classify(alignment=alignment, confidence=conf)
        when = at(today, days_ago, 11)
        assessments.append(
            Assessment(
                organization=org, team=team, assessor=cpo, alignment=alignment, confidence=conf, quadrant=quadrant,
                recommended_mode=mode, note=f"Quarterly review: {quadrant.label.lower()}.", created_at=when,
            )
        )  # fmt: skip
        entry(
            cpo,
            "assessment.created",
            "team",
            team.pk,
            f"assessed {team.name}: alignment {alignment}/5, confidence {conf}/5 ({quadrant.label.lower()})",
            when,
        )
    for days_ago in range(3, PAST_DAYS, 7):
        when = at(today, days_ago, 9)
        check_ins.append(
            CheckIn(
                organization=org,
                goal=company,
                author=owner,
                summary="Growth on plan overall; three teams need help.",
                confidence=7,
                created_at=when,
            )
        )
    CheckIn.objects.bulk_create(check_ins)
    Assessment.objects.bulk_create(assessments)
    _feedback(people, goals, today, entry)
    _previous_cycle(people, entry)
    _integration(people, today, entry)
    Activity.objects.bulk_create(feed, batch_size=1000)


def _feedback(people: DemoPeople, goals: dict[Any, Goal], today: date, entry: Any) -> None:
    org, teams = people.org, {team.name: team for team in people.product_teams}
    matchmaking, store = goals[teams["Matchmaking"].pk], goals[teams["Store"].pk]
    eng = {team.name: next(m for m in team.members.all() if m.pk != team.lead_id) for team in people.product_teams}
    challenge = Feedback.objects.create(
        organization=org, target_type=SubjectType.GOAL, target_id=str(matchmaking.pk), kind="challenge",
        author=eng["Social"], status=FeedbackStatus.ACKNOWLEDGED, created_at=at(today, 10),
        body=(
            "The hypothesis says faster matches keep new players. Our party data says new players who wait longer "
            "but play with friends retain better. Should we optimise for fair party matches instead of queue time?"
        ),
    )  # fmt: skip
    FeedbackReply.objects.create(
        organization=org, feedback=challenge, author=teams["Matchmaking"].lead, created_at=at(today, 9),
        body="Fair point. We are running a party-first matchmaking test next sprint and will report back.",
    )  # fmt: skip
    items = [
        (challenge, eng["Social"], False),
        (Feedback.objects.create(
            organization=org, target_type=SubjectType.GOAL, target_id=str(store.pk), kind="concern",
            author=eng["Rewards"], anonymous=True, created_at=at(today, 5),
            body="Players in the forums call the new bundles pay-to-win. Conversion fell since they launched.",
        ), eng["Rewards"], True),
        (Feedback.objects.create(
            organization=org, target_type=SubjectType.TEAM, target_id=str(teams["Onboarding"].pk), kind="praise",
            author=people.owner, status=FeedbackStatus.RESOLVED, created_at=at(today, 30),
            body="The new tutorial is the best first session we have ever shipped. Thank you!",
        ), people.owner, False),
        (Feedback.objects.create(
            organization=org, target_type=SubjectType.DIRECTION, target_id="", kind="idea", author=eng["Creator Tools"],
            created_at=at(today, 20),
            body="Add 'Players create' to our values: player-made modes are where our next hit comes from.",
        ), eng["Creator Tools"], False),
    ]  # fmt: skip
    for item, author, anonymous in items:
        entry(
            author,
            "feedback.created",
            item.target_type,
            item.target_id,
            f"left a {item.kind}",
            item.created_at,
            anonymous=anonymous,
        )


# team → (outcome of last cycle's goal, the lead's usual confidence in it): most leads were about
# right; Store's and Localization's were over-confident, Matchmaking's under-confident.
PREVIOUS = {"Store": (GoalStatus.MISSED, 8), "Localization": (GoalStatus.MISSED, 7),
            "Anti-Cheat": (GoalStatus.MISSED, 4), "Matchmaking": (GoalStatus.ACHIEVED, 3)}  # fmt: skip


def _previous_cycle(people: DemoPeople, entry: Any) -> None:
    """Last cycle's goals, ended (achieved or missed) with a quarter of weekly check-ins, so that
    calibration (`/orgs/{org}/calibration/`) has outcomes to compare confidence with."""
    org = people.org
    current = Cycle.objects.filter(organization=org).order_by("starts_on").first()
    if current is None:
        return
    ends_on = current.starts_on - timedelta(days=1)
    cycle = Cycle.objects.create(
        organization=org, name=f"FY{ends_on.year}", starts_on=ends_on - timedelta(days=364), ends_on=ends_on
    )
    start_ts, end_ts = formulas.window_bounds_ts(cycle.starts_on, cycle.ends_on, org.timezone)
    rng = random.Random(11)  # noqa: S311 (repeatable demo data, not a secret)
    check_ins = []
    for team in people.product_teams:
        status, confidence = PREVIOUS.get(team.name, (GoalStatus.ACHIEVED, 8))
        goal = Goal.objects.create(
            organization=org, cycle=cycle, team=team, owner=team.lead, title=f"{team.name}: last year's goal",
            starts_on=cycle.starts_on, due_on=cycle.ends_on, status=status,
            window_start_ts=start_ts, window_end_ts=end_ts,
        )  # fmt: skip
        for week in range(12):
            when = datetime.combine(ends_on - timedelta(days=7 * week + 2), time(16, 0), tzinfo=UTC)
            score = max(0, min(10, confidence + rng.choice((-1, 0, 0, 1))))
            check_ins.append(
                CheckIn(
                    organization=org, goal=goal, author=team.lead, summary=rng.choice(SUMMARIES[score >= 5]),
                    confidence=score, created_at=when,
                )
            )  # fmt: skip
            entry(
                team.lead,
                "checkin.created",
                "goal",
                goal.pk,
                f"checked in on '{goal.title}' with confidence {score}/10",
                when,
            )
    CheckIn.objects.bulk_create(check_ins)


def _integration(people: DemoPeople, today: date, entry: Any) -> None:
    key, _ = api_key_create(
        org=people.org, created_by=people.owner, name="Telemetry pipeline", scopes=[Scope.READINGS_WRITE]
    )
    for days_ago in range(1, 365, 7):
        entry(
            None,
            "readings.ingested",
            "org",
            people.org.pk,
            "ingested a week of readings",
            at(today, days_ago, 5),
            key=key,
        )
