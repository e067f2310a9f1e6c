"""Incremental rescoring: a write owes a rescore of the goals and teams it touches, coalesced
rows union them, and the scoped rescore leaves snapshots, goal scores and corrections exactly as
a full rescore at the same instant would. A rescore with no input changed does nothing."""

import random
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from alignment_service.access import Access, Role
from alignment_service.outbox.models import OutboxMessage
from alignment_service.outbox.services import merged_kwargs
from feedback import engine, fingerprint, services
from feedback.models import ACTIVE_CORRECTION, CourseCorrection, RescoreState
from feedback.world import latest_points
from goals import services as goal_services
from goals.models import GoalScore, GoalStatus, Metric
from teams.demo import DEMO_ORG_SLUG
from teams.models import Organization, Team


@pytest.fixture
def demo(db):
    from django.core.management import call_command

    call_command("load_demo")
    org = Organization.objects.get(slug=DEMO_ORG_SLUG)
    owner = org.memberships.get(role=Role.OWNER).user
    return org, Access(org=org, user=owner, role=Role.OWNER)


def outcome(org):
    """What a rescore leaves: newest snapshot per subject, goal scores, and every correction by
    subject and trigger with its status, resolution and cause."""
    corrections = {c.pk: c for c in CourseCorrection.objects.filter(organization=org)}

    def key(c):
        return (c.subject_type, c.subject_id, c.trigger, c.status)

    return (
        latest_points(org),
        dict(GoalScore.objects.filter(organization=org).values_list("goal_id", "score")),
        sorted(
            (*key(c), c.resolution, key(corrections[c.caused_by_id]) if c.caused_by_id else None)
            for c in corrections.values()
        ),
    )


def random_change(rng, org, access):
    goals = list(org.goals.filter(status=GoalStatus.ACTIVE).order_by("id"))
    goal = rng.choice(goals)
    kind = rng.choice(["reading", "reading", "checkin", "assessment", "feedback"])
    if kind == "reading":
        metric = rng.choice(
            list(Metric.objects.filter(organization=org, goal__status=GoalStatus.ACTIVE).order_by("id"))
        )
        value = metric.baseline + rng.uniform(-0.2, 1.2) * (metric.target - metric.baseline)
        observed = timezone.now() - timedelta(minutes=rng.randint(1, 600))
        goal_services.readings_ingest(
            access=access, readings=[goal_services.ReadingInput(metric=metric, value=value, observed_at=observed)]
        )
    elif kind == "checkin":
        services.checkin_create(access=access, goal=goal, summary="update", confidence=rng.randint(0, 10))
    elif kind == "assessment":
        team = rng.choice(list(Team.objects.filter(organization=org).order_by("id")))
        services.assessment_create(access=access, team=team, alignment=rng.randint(1, 5), confidence=rng.randint(1, 5))
    else:
        services.feedback_create(
            access=access, target_type="goal", target_id=str(goal.pk), kind=rng.choice(["concern", "challenge"]),
            body="Is this still the right bet?",
        )  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_an_incremental_rescore_equals_a_full_one(demo, seed):
    org, access = demo
    rng = random.Random(seed)
    now = timezone.now()
    engine.rescore_org(org=org, now=now)
    owed_before = OutboxMessage.objects.order_by("-id").values_list("id", flat=True).first() or 0
    for _ in range(rng.randint(1, 4)):
        random_change(rng, org, access)
    rows = OutboxMessage.objects.filter(organization=org, task_name="feedback.rescore_org", id__gt=owed_before)
    scope = merged_kwargs(list(rows.order_by("id").values_list("kwargs", flat=True)))
    assert "goal_ids" in scope, "these writes owe scoped rescores"
    assert "team_ids" in scope
    at = now + timedelta(microseconds=1)
    with transaction.atomic():
        savepoint = transaction.savepoint()
        engine.rescore_org(org=org, now=at, goal_ids=scope["goal_ids"], team_ids=scope["team_ids"])
        incremental = outcome(org)
        transaction.savepoint_rollback(savepoint)
        engine.rescore_org(org=org, now=at)
        assert incremental == outcome(org)


def test_coalesced_rows_union_their_subjects_and_a_whole_rescore_wins():
    scoped = [{"org_id": "o", "goal_ids": ["a"], "team_ids": []}, {"org_id": "o", "goal_ids": ["b"], "team_ids": ["t"]}]
    assert merged_kwargs(scoped) == {"org_id": "o", "goal_ids": ["a", "b"], "team_ids": ["t"]}
    assert merged_kwargs([*scoped, {"org_id": "o"}]) == {"org_id": "o"}


def test_a_reading_owes_a_rescore_of_its_goal(demo, django_capture_on_commit_callbacks):
    org, access = demo
    metric = Metric.objects.filter(organization=org, goal__status=GoalStatus.ACTIVE).order_by("id").first()
    with django_capture_on_commit_callbacks():
        goal_services.readings_ingest(
            access=access, readings=[goal_services.ReadingInput(metric=metric, value=1.0, observed_at=timezone.now())]
        )
    row = OutboxMessage.objects.filter(organization=org, task_name="feedback.rescore_org").order_by("-id").first()
    assert row.kwargs == {"org_id": str(org.pk), "goal_ids": [str(metric.goal_id)], "team_ids": []}


def test_a_rescore_with_no_input_changed_does_nothing_and_any_change_runs_it(demo):
    org, access = demo
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the input digest needs PostgreSQL")
    now = timezone.now()
    engine.rescore_org(org=org, now=now)
    assert RescoreState.objects.filter(organization=org).exists()
    before = outcome(org)
    assert engine.rescore_org(org=org, now=now + timedelta(seconds=1)) == engine.RescoreResult(0, 0, 0, 0)
    assert outcome(org) == before
    goal = org.goals.filter(status=GoalStatus.ACTIVE).order_by("id").first()
    services.checkin_create(access=access, goal=goal, summary="worried", confidence=0)
    engine.rescore_org(org=org, now=now + timedelta(seconds=2))
    assert outcome(org) != before, "a new check-in is an input: the rescore ran"
    later = now + timedelta(days=3)
    assert engine.rescore_org(org=org, now=later).snapshots > 0, "time alone moves scores past the window"


def test_a_change_to_an_active_correction_makes_the_next_rescore_run(demo):
    """The active corrections are digested by content, in the database: a person extending
    one's review date changes what the rules read, so the rescore runs; its own writes do not."""
    org, _ = demo
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the input digest needs PostgreSQL")
    now = timezone.now()
    engine.rescore_org(org=org, now=now)
    assert engine.rescore_org(org=org, now=now + timedelta(seconds=1)) == engine.RescoreResult(0, 0, 0, 0)
    correction = CourseCorrection.objects.filter(ACTIVE_CORRECTION, organization=org).order_by("id").first()
    assert correction is not None
    CourseCorrection.objects.filter(pk=correction.pk).update(extension_count=correction.extension_count + 1)
    assert not fingerprint.unchanged(org, now + timedelta(seconds=2), fingerprint.inputs_digest(org))
    engine.rescore_org(org=org, now=now + timedelta(seconds=2))
    assert engine.rescore_org(org=org, now=now + timedelta(seconds=3)) == engine.RescoreResult(0, 0, 0, 0)
