"""The demo organization loads quickly, once, and tells the story the README promises."""

from collections import Counter, defaultdict

from django.core.management import call_command

from alignment_service.notifications.models import Notification
from feedback import engine
from feedback.dashboard import dashboard
from feedback.models import Assessment, CourseCorrection, Feedback, Quadrant, ScoreSnapshot, Trigger
from feedback.selectors import calibration
from goals import formulas
from goals.selectors import goal_list
from teams.demo import DEMO_ORG_SLUG, DEMO_USERNAME
from teams.models import Organization, Team, TeamKind


def test_the_demo_loads_once_and_tells_its_story(db, capsys):
    call_command("load_demo")
    call_command("load_demo")
    assert "already loaded" in capsys.readouterr().out
    org = Organization.objects.get(slug=DEMO_ORG_SLUG)
    assert org.memberships.get(user__username=DEMO_USERNAME).role == "owner"
    teams = Team.objects.filter(organization=org, kind=TeamKind.TEAM).exclude(slug="product")
    assert teams.count() == 15
    assert Team.objects.get(organization=org, slug="product").parent.kind == TeamKind.STEERING_GROUP

    goals = list(goal_list(org=org))
    company = next(goal for goal in goals if goal.team_id is None)
    assert company.title == "Double monthly active players year over year"
    assert {m.key for m in company.metrics.all()} >= {"activation-rate", "weekly-sessions", "d30-retention"}
    health = [goal.health for goal in goals if goal.team_id is not None]
    assert health.count(formulas.ON_TRACK) >= 8
    assert health.count(formulas.OFF_TRACK) >= 2
    assert {a.quadrant for a in Assessment.objects.filter(organization=org)} == set(Quadrant.values)
    assert Feedback.objects.filter(organization=org, kind="challenge", target_type="goal").exists()

    weekly = ScoreSnapshot.objects.filter(organization=org, subject_type="org").order_by("computed_at")
    assert weekly.count() >= 30, "a weekly score history back to the start of the cycle"
    assert len({s.score for s in weekly}) > 10
    assert not CourseCorrection.objects.filter(organization=org).exists(), "the backfill does not steer"

    result = engine.rescore_org(org=org)
    board = dashboard(org=org)
    assert board["org"]["trend"] is not None
    assert all(team["trend"] is not None for team in board["teams"] if team["score"] is not None)
    assert sum(team["score"] is not None for team in board["teams"]) == 15
    assert [goal["title"] for goal in board["opportunities"]] == ["60 fps on a five-year-old phone"]
    assert result.opened >= 5
    triggers = set(CourseCorrection.objects.filter(organization=org).values_list("trigger", flat=True))
    assert {
        Trigger.OFF_TRACK, Trigger.STALE_DATA, Trigger.CRITICAL_QUADRANT, Trigger.INTERVENTION,
        Trigger.HYPOTHESIS_BUSTED, Trigger.LIKELY_MISS,
    } <= triggers  # fmt: skip
    assert_one_or_two_causes_per_troubled_team(org)
    assert_one_notification_per_person(org)
    assert_calibration_tells_the_over_confident_from_the_rest(org)


def assert_calibration_tells_the_over_confident_from_the_rest(org):
    teams = {row.name: row for row in calibration(org=org).teams}
    assert len(teams) == 15
    assert teams["Store"].bias > 0.5  # about 8/10 on a goal that was missed
    assert teams["Matchmaking"].bias < -0.5  # about 3/10 on a goal that was achieved
    assert teams["Store"].brier > teams["Onboarding"].brier


def assert_one_or_two_causes_per_troubled_team(org):
    corrections = list(CourseCorrection.objects.filter(organization=org))
    causes = defaultdict(list)
    for correction in corrections:
        if correction.caused_by_id is None:
            causes[correction.team_id].append(correction)
    assert causes, "the demo has troubled teams"
    for roots in causes.values():
        assert 1 <= len(roots) <= 2, [(c.subject_type, c.trigger) for c in roots]
    anti_cheat = Team.objects.get(organization=org, name="Anti-Cheat")
    roots = {c.trigger: c for c in causes[anti_cheat.pk]}
    assert set(roots) == {Trigger.CRITICAL_QUADRANT, Trigger.HYPOTHESIS_BUSTED}
    under = {(c.subject_type, c.trigger) for c in corrections if c.caused_by_id == roots[Trigger.HYPOTHESIS_BUSTED].pk}
    assert {("goal", Trigger.OFF_TRACK), ("goal", Trigger.LIKELY_MISS), ("goal", Trigger.LOW_CONFIDENCE)} <= under
    under_team = {c.trigger for c in corrections if c.caused_by_id == roots[Trigger.CRITICAL_QUADRANT].pk}
    assert {Trigger.HANDS_OFF_DRIFT, Trigger.INTERVENTION_OVERDUE} <= under_team


def assert_one_notification_per_person(org):
    # Steering stories (proposals, follow-ups) notify through their own services, not the rescore.
    told = Notification.objects.filter(organization=org, kind__startswith="course_correction")
    per_person = Counter(told.values_list("recipient_id", flat=True))
    assert per_person, "the leads of troubled teams are told"
    assert set(per_person.values()) == {1}
    lead = Team.objects.get(organization=org, name="Anti-Cheat").lead_id
    assert per_person[lead] == 1
    engine.rescore_org(org=org)
    assert Counter(told.values_list("recipient_id", flat=True)) == per_person


def test_the_demo_tells_each_steering_story(db):
    from feedback.agenda import agenda, teams_steered_by
    from feedback.models import GoalpostProposal, SteeringDecision
    from goals.models import Divergence, MetricChange

    call_command("load_demo")
    org = Organization.objects.get(slug=DEMO_ORG_SLUG)
    engine.rescore_org(org=org)
    triggers = set(CourseCorrection.objects.filter(organization=org).values_list("trigger", flat=True))
    assert {Trigger.GUARDRAIL_BREACHED, Trigger.DIVERGENCE_REVIEW} <= triggers

    divergence = Divergence.objects.get(organization=org)
    assert divergence.team.name == "Creator Tools"
    approved = GoalpostProposal.objects.get(organization=org, status="approved")
    change = MetricChange.objects.get(metric=approved.metric, field="target")
    assert change.approved_by == approved.decided_by
    assert GoalpostProposal.objects.filter(organization=org, status="pending").exists()
    assert SteeringDecision.objects.filter(organization=org, follow_up_on__isnull=False).exists()

    steering_group = Team.objects.get(organization=org, kind=TeamKind.STEERING_GROUP)
    kinds = {item.kind for item in agenda(org=org, teams=teams_steered_by(org=org, group=steering_group))}
    assert {"course_correction", "divergence", "goalpost_proposal", "feedback"} <= kinds
