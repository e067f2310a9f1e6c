"""The demo's steering stories, each told through the same services the API uses:

- the company's growth goal is guarded by churn, which has crept over its guardrail;
- Creator Tools, assessed as allowed to diverge, has its divergence on record, past review;
- Matchmaking proposed lowering a target after its hypothesis busted, and the steering group
  approved it; Anti-Cheat's proposal to push its due date waits on the agenda;
- the steering group decided on the challenge to Anti-Cheat's goal, with a follow-up.
"""

import random
from datetime import UTC, date, datetime, time, timedelta

import goals.services
from alignment_service.access import Access, Role
from feedback import steering
from feedback.models import Feedback, FeedbackKind, SubjectType
from goals.models import Goal, GoalStatus, Metric, MetricDirection, MetricRole, Reading
from teams.demo import DemoPeople
from teams.models import Team

CHURN_READINGS_DAYS = 120


def load_demo_steering(people: DemoPeople, *, today: date | None = None) -> None:
    today = today or date.today()
    org = people.org
    owner = Access(org=org, user=people.owner, role=Role.OWNER)
    teams = {team.name: team for team in people.product_teams}
    _churn_guardrail(people, today)
    _creator_tools_divergence(people, owner, teams["Creator Tools"], today)
    _goalposts(people, owner, teams)
    _decision_on_the_challenge(people, owner, teams["Anti-Cheat"], today)


def _lead(people: DemoPeople, team: Team) -> Access:
    return Access(org=people.org, user=team.lead, role=Role.MEMBER)


def _churn_guardrail(people: DemoPeople, today: date) -> None:
    org = people.org
    company = Goal.objects.get(organization=org, team__isnull=True, status=GoalStatus.ACTIVE)
    churn = Metric.objects.create(
        organization=org, goal=company, key="monthly-churn", name="Guardrail: players churning per month", unit="%",
        direction=MetricDirection.DECREASE, baseline=6.0, target=5.0, role=MetricRole.GUARDRAIL, threshold=7.0,
        window_start_ts=company.window_start_ts, window_end_ts=company.window_end_ts,
    )  # fmt: skip
    rng = random.Random(11)  # noqa: S311 (repeatable demo noise, not a secret)
    Reading.objects.bulk_create(
        Reading(
            organization=org, metric=churn, source="demo", value=6.0 + 1.8 * (1 - offset / CHURN_READINGS_DAYS)
            + rng.gauss(0, 0.1),
            observed_at=datetime.combine(today - timedelta(days=offset), time(0, 0), tzinfo=UTC),
        )
        for offset in range(CHURN_READINGS_DAYS, 0, -1)
    )  # fmt: skip
    goals.services.metrics_refresh(org=org, metric_ids=[churn.pk])


def _creator_tools_divergence(people: DemoPeople, owner: Access, team: Team, today: date) -> None:
    divergence = steering.divergence_record(
        access=_lead(people, team), team=team,
        approach="Build a map editor for players instead of the studio's quarterly mode drops.",
        rationale="Our community already makes maps in spreadsheets; a tool beats content we ship.",
        success_metric=Metric.objects.get(organization=people.org, key="creator-maps-weekly"), success_value=450,
        approved_by=people.owner, review_on=today + timedelta(days=1),
    )  # fmt: skip
    # Recorded weeks ago: its review date has passed, so it waits on the steering agenda.
    type(divergence).objects.filter(pk=divergence.pk).update(review_on=today - timedelta(days=3))


def _goalposts(people: DemoPeople, owner: Access, teams: dict[str, Team]) -> None:
    matchmaking = Metric.objects.filter(
        organization=people.org, goal__team=teams["Matchmaking"], goal__status=GoalStatus.ACTIVE
    ).order_by("key")[0]
    proposal = steering.goalpost_propose(
        access=_lead(people, teams["Matchmaking"]), metric=matchmaking,
        goalposts=steering.Goalposts(target=matchmaking.target - (matchmaking.target - matchmaking.baseline) * 0.25),
        reason="Queue data busted our hypothesis: a quarter of the target needs the new servers, due next year.",
    )  # fmt: skip
    steering.goalpost_decide(
        access=owner, proposal=proposal, approve=True, note="Approved in the steering group: new servers next year."
    )
    anti_cheat = Metric.objects.filter(
        organization=people.org, goal__team=teams["Anti-Cheat"], goal__status=GoalStatus.ACTIVE
    ).first()
    if anti_cheat is not None:
        steering.goalpost_propose(
            access=_lead(people, teams["Anti-Cheat"]), metric=anti_cheat,
            goalposts=steering.Goalposts(due_on=anti_cheat.goal.due_on + timedelta(days=60)),
            reason="The new detection model needs two more months of labelled matches.",
        )  # fmt: skip


def _decision_on_the_challenge(people: DemoPeople, owner: Access, team: Team, today: date) -> None:
    goal = Goal.objects.get(organization=people.org, team=team, status=GoalStatus.ACTIVE)
    challenge = Feedback.objects.filter(organization=people.org, kind=FeedbackKind.CHALLENGE).first()
    if challenge is None:
        challenge = Feedback.objects.create(
            organization=people.org, target_type=SubjectType.GOAL, target_id=str(goal.pk), kind=FeedbackKind.CHALLENGE,
            body="Is banning faster really what keeps players?", author=people.product.lead,
        )  # fmt: skip
    steering.decision_record(
        access=owner, item_kind="feedback", item_id=str(challenge.pk),
        outcome="Test the hypothesis with a two-week holdout before the next release.",
        follow_up_owner=team.lead, follow_up_on=today + timedelta(days=14),
    )  # fmt: skip
