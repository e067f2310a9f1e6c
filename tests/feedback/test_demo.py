"""The demo organization loads quickly, once, and tells the story the README promises."""

from django.core.management import call_command

from feedback import engine
from feedback.models import Assessment, CourseCorrection, Feedback, Quadrant, Trigger
from goals import progress as formulas
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

    result = engine.rescore_org(org=org)
    assert result.opened >= 5
    triggers = set(CourseCorrection.objects.filter(organization=org).values_list("trigger", flat=True))
    assert {
        Trigger.OFF_TRACK, Trigger.STALE_DATA, Trigger.CRITICAL_QUADRANT, Trigger.INTERVENTION,
        Trigger.HYPOTHESIS_BUSTED,
    } <= triggers  # fmt: skip


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
