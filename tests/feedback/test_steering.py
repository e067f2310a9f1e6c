"""Steering beyond the anchors: goalposts moved in the open, permission to diverge on record,
the steering agenda and its decisions, with their rules, activity and webhook events."""

import datetime

import pytest
from django.utils import timezone

from alignment_service.access import Role
from alignment_service.activity.models import Activity
from alignment_service.notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from feedback import engine
from feedback.models import Assessment, CourseCorrection, Feedback, GoalpostProposal, SteeringDecision, Trigger
from goals.models import Divergence, Metric, MetricChange, Reading
from goals.services import goals_refresh_progress, metrics_refresh
from teams.models import TeamMember
from tests.api_helpers import api
from tests.factories import GoalFactory, MetricFactory, TeamFactory

DAY = datetime.timedelta(days=1)


def today():
    return timezone.now().date()


def ok(response, code=200):
    assert response.status_code == code, response.content
    return response.json()


def refused(response, code):
    assert response.status_code == code, response.content
    return {error["attr"] or error["code"] for error in response.json()["errors"]}


@pytest.fixture
def people(org, member_of):
    return {
        name: member_of(org, Role.MEMBER, username=name)
        for name in ("parent_lead", "lead", "steerer", "member", "outside_steerer")
    }


@pytest.fixture
def world(org, people):
    """steering (steerer) ── parent (parent_lead) ── team (lead);  elsewhere (outside_steerer) ── other"""
    steering = TeamFactory(organization=org, name="Steering", kind="steering_group")
    TeamMember.objects.create(organization=org, team=steering, user=people["steerer"])
    parent = TeamFactory(organization=org, name="Parent", parent=steering, lead=people["parent_lead"])
    team = TeamFactory(organization=org, name="Team", parent=parent, lead=people["lead"])
    elsewhere = TeamFactory(organization=org, name="Elsewhere", kind="steering_group")
    TeamMember.objects.create(organization=org, team=elsewhere, user=people["outside_steerer"])
    other = TeamFactory(organization=org, name="Other", parent=elsewhere)
    goal = GoalFactory(organization=org, team=team, title="Grow")
    metric = MetricFactory(goal=goal, key="signups", baseline=0, target=100)
    return {"steering": steering, "parent": parent, "team": team, "elsewhere": elsewhere, "other": other,
            "goal": goal, "metric": metric}  # fmt: skip


@pytest.fixture
def proposal_mode(org):
    org.settings = {**org.settings, "goalpost_changes": "proposal"}
    org.save()


@pytest.fixture
def endpoint(org):
    return WebhookEndpoint.objects.create(organization=org, url="https://hooks.example.com/in", secret="whsec_x")


def events(org):
    return set(WebhookDelivery.objects.filter(organization=org).values_list("event_type", flat=True))


# --- Goalposts moved in the open ---------------------------------------------------------------


def test_in_proposal_mode_goalposts_do_not_move_directly(org, world, people, proposal_mode, client_for):
    client = client_for(people["member"])
    url = api(org, f"metrics/{world['metric'].pk}/")

    assert refused(client.patch(url, {"target": 120}, format="json"), 409) == {"goalpost_proposal_required"}
    assert refused(client.patch(url, {"due_on": "2026-11-30"}, format="json"), 409) == {"goalpost_proposal_required"}
    assert ok(client.patch(url, {"name": "Sign-ups per week"}, format="json"))["name"] == "Sign-ups per week"
    assert Metric.objects.get(pk=world["metric"].pk).target == 100


def test_a_proposal_is_visible_to_every_member_and_waits_for_its_deciders(
    org, world, people, proposal_mode, client_for, viewer, endpoint
):
    body = {"metric": str(world["metric"].pk), "target": 80, "reason": "The market halved"}
    made = ok(client_for(people["member"]).post(api(org, "goalpost-proposals/"), body, format="json"), 201)

    assert (made["status"], made["changes"], made["proposed_by"]) == ("pending", {"target": 80.0}, people["member"].pk)
    listed = ok(client_for(viewer).get(api(org, "goalpost-proposals/?status=pending")))
    assert [item["id"] for item in listed["results"]] == [made["id"]]
    told = set(Notification.objects.filter(kind="goalpost_proposal").values_list("recipient__username", flat=True))
    assert {"parent_lead", "steerer"} <= told
    assert not told & {"member", "outside_steerer"}
    assert Activity.objects.filter(organization=org, verb="goalpost_proposal.created").exists()
    assert "goalpost_proposal.created" in events(org)


def _propose(org, world, people, client_for, **changes):
    body = {"metric": str(world["metric"].pk), "reason": "Hypothesis busted", **changes}
    return ok(client_for(people["member"]).post(api(org, "goalpost-proposals/"), body, format="json"), 201)


@pytest.mark.parametrize("decider", ["parent_lead", "steerer"])
def test_approval_applies_the_change_and_records_reason_proposer_and_approver(
    org, world, people, proposal_mode, client_for, decider, endpoint
):
    proposal = _propose(org, world, people, client_for, target=80)
    decided = client_for(people[decider]).post(api(org, f"goalpost-proposals/{proposal['id']}/approve/"), {})

    assert ok(decided)["status"] == "approved"
    assert Metric.objects.get(pk=world["metric"].pk).target == 80
    change = MetricChange.objects.get(metric=world["metric"], field="target")
    assert (change.old_value, change.new_value, change.reason) == (100, 80, "Hypothesis busted")
    assert (change.changed_by, change.approved_by) == (people["member"], people[decider])
    moved = Activity.objects.get(organization=org, verb="metric.target_changed")
    assert (moved.data["proposed_by"], moved.data["approved_by"]) == (people["member"].pk, people[decider].pk)
    assert {"goalpost_proposal.approved"} <= events(org)


def test_a_due_date_moves_by_proposal_into_the_history(org, world, people, proposal_mode, client_for):
    proposal = _propose(org, world, people, client_for, due_on="2026-11-30")
    ok(client_for(people["steerer"]).post(api(org, f"goalpost-proposals/{proposal['id']}/approve/"), {}))

    change = MetricChange.objects.get(metric=world["metric"], field="due_on")
    assert (change.old_date, change.new_date) == (None, datetime.date(2026, 11, 30))
    history = ok(client_for(people["member"]).get(api(org, f"metrics/{world['metric'].pk}/history/")))
    assert history["results"][0]["new_date"] == "2026-11-30"


@pytest.mark.parametrize("who", ["member", "lead", "outside_steerer"])
def test_only_the_parent_lead_a_steerer_above_or_an_admin_decides(
    org, world, people, proposal_mode, client_for, who, count_rows
):
    proposal = _propose(org, world, people, client_for, target=80)
    client = client_for(people[who])
    before = count_rows()
    assert refused(client.post(api(org, f"goalpost-proposals/{proposal['id']}/approve/"), {}), 403)
    assert count_rows() == before
    assert Metric.objects.get(pk=world["metric"].pk).target == 100


def test_nobody_decides_their_own_proposal_and_a_decision_is_final(org, world, people, admin, client_for):
    mine = ok(
        client_for(admin).post(
            api(org, "goalpost-proposals/"), {"metric": str(world["metric"].pk), "target": 90, "reason": "x"},
            format="json",
        ),
        201,
    )  # fmt: skip
    assert refused(client_for(admin).post(api(org, f"goalpost-proposals/{mine['id']}/approve/"), {}), 403)

    ok(client_for(people["steerer"]).post(api(org, f"goalpost-proposals/{mine['id']}/reject/"), {"note": "No"}))
    assert Metric.objects.get(pk=world["metric"].pk).target == 100
    again = client_for(people["parent_lead"]).post(api(org, f"goalpost-proposals/{mine['id']}/approve/"), {})
    assert refused(again, 409) == {"proposal_decided"}


def test_one_pending_proposal_per_metric_and_every_bad_field_named(org, world, people, client_for):
    _propose(org, world, people, client_for, target=80)
    second = client_for(people["member"]).post(
        api(org, "goalpost-proposals/"), {"metric": str(world["metric"].pk), "target": 70, "reason": "y"},
        format="json",
    )  # fmt: skip
    assert refused(second, 409) == {"proposal_pending"}
    empty = client_for(people["member"]).post(api(org, "goalpost-proposals/"), {}, format="json")
    assert refused(empty, 400) == {"metric", "reason"}


# --- Permission to diverge ---------------------------------------------------------------------


def assess(org, team, alignment, confidence, assessor):
    Assessment.objects.create(
        organization=org, team=team, assessor=assessor, alignment=alignment, confidence=confidence,
        quadrant="divergence_permitted" if alignment < 4 <= confidence else "full_support",
        recommended_mode="supported_divergence" if alignment < 4 <= confidence else "scalable",
    )  # fmt: skip


def _divergence_body(world, people, **extra):
    return {
        "team": str(world["team"].pk), "approach": "Own the onboarding funnel", "rationale": "Our users differ",
        "success_metric": str(world["metric"].pk), "success_value": 60, "approved_by": people["steerer"].pk,
        "review_on": str(today() + 30 * DAY), **extra,
    }  # fmt: skip


def test_a_divergence_needs_a_permitting_assessment_and_an_approver(org, world, people, client_for):
    client = client_for(people["lead"])
    assess(org, world["team"], 5, 5, people["parent_lead"])
    assert refused(client.post(api(org, "divergences/"), _divergence_body(world, people), format="json"), 409) == {
        "divergence_not_permitted"
    }
    assess(org, world["team"], 2, 5, people["parent_lead"])
    wrong = _divergence_body(world, people, approved_by=people["outside_steerer"].pk)
    assert refused(client.post(api(org, "divergences/"), wrong, format="json"), 400) == {"approved_by"}
    not_lead = client_for(people["member"]).post(
        api(org, "divergences/"), _divergence_body(world, people), format="json"
    )
    assert refused(not_lead, 403)
    assert not Divergence.objects.exists()


def test_a_recorded_divergence_shows_in_the_tree_the_feed_and_reviews_itself(
    org, world, people, client_for, viewer, endpoint
):
    assess(org, world["team"], 2, 5, people["parent_lead"])
    made = ok(
        client_for(people["lead"]).post(api(org, "divergences/"), _divergence_body(world, people), format="json"), 201
    )

    tree = ok(client_for(viewer).get(api(org, "alignment-tree/")))
    assert [d["id"] for d in tree["divergences"]] == [made["id"]]
    assert Activity.objects.filter(organization=org, verb="divergence.recorded", subject_id=str(world["team"].pk))
    assert "divergence.recorded" in events(org)

    Divergence.objects.filter(pk=made["id"]).update(review_on=today() - DAY)
    engine.rescore_org(org=org)
    review = CourseCorrection.objects.get(organization=org, trigger=Trigger.DIVERGENCE_REVIEW)
    assert review.subject_id == str(world["team"].pk)


@pytest.mark.parametrize(("value", "outcome"), [(75, "met"), (20, "missed")])
def test_closing_reports_whether_the_criteria_were_met(org, world, people, client_for, value, outcome, endpoint):
    assess(org, world["team"], 2, 5, people["parent_lead"])
    made = ok(
        client_for(people["lead"]).post(api(org, "divergences/"), _divergence_body(world, people), format="json"), 201
    )
    Reading.objects.create(organization=org, metric=world["metric"], observed_at=timezone.now() - DAY, value=value)
    metrics_refresh(org=org, metric_ids=[world["metric"].pk])
    goals_refresh_progress(org=org)

    closed = ok(client_for(people["steerer"]).post(api(org, f"divergences/{made['id']}/close/"), {"note": "Done"}))

    assert (closed["status"], closed["outcome"], closed["outcome_value"]) == ("closed", outcome, value)
    activity = Activity.objects.get(organization=org, verb="divergence.closed")
    assert activity.data["outcome"] == outcome
    assert "divergence.closed" in events(org)


# --- The agenda and its decisions --------------------------------------------------------------


@pytest.fixture
def agenda_items(org, world, people):
    team, other = world["team"], world["other"]
    critical = CourseCorrection.objects.create(
        organization=org, subject_type="team", subject_id=str(team.pk), team=team, trigger=Trigger.CRITICAL_QUADRANT,
        severity="critical", detail="Low on both",
    )  # fmt: skip
    overdue = CourseCorrection.objects.create(
        organization=org, subject_type="team", subject_id=str(team.pk), team=team,
        trigger=Trigger.INTERVENTION_OVERDUE, severity="warning", detail="Past review",
    )  # fmt: skip
    CourseCorrection.objects.create(
        organization=org, subject_type="team", subject_id=str(other.pk), team=other, trigger=Trigger.CRITICAL_QUADRANT,
        severity="critical", detail="Elsewhere",
    )  # fmt: skip
    CourseCorrection.objects.create(
        organization=org, subject_type="goal", subject_id=str(world["goal"].pk), team=team, trigger=Trigger.OFF_TRACK,
        severity="warning", detail="Not on the agenda: an ordinary warning",
    )  # fmt: skip
    divergence = Divergence.objects.create(
        organization=org, team=team, approach="Own path", rationale="Because", success_metric=world["metric"],
        success_value=50, approved_by=people["steerer"], review_on=today() - DAY,
    )  # fmt: skip
    proposal = GoalpostProposal.objects.create(
        organization=org, metric=world["metric"], changes={"target": 80}, reason="Busted", proposed_by=people["member"]
    )
    challenge = Feedback.objects.create(
        organization=org, target_type="goal", target_id=str(world["goal"].pk), kind="challenge", body="Wrong bet?",
        author=people["member"],
    )  # fmt: skip
    return {"critical": critical, "overdue": overdue, "divergence": divergence, "proposal": proposal,
            "challenge": challenge}  # fmt: skip


def test_the_agenda_lists_what_waits_for_the_group_by_severity_then_age(
    org, world, people, agenda_items, client_for, django_assert_max_num_queries
):
    client = client_for(people["steerer"])
    with django_assert_max_num_queries(12):
        items = ok(client.get(api(org, f"steering/agenda/?group={world['steering'].pk}")))

    assert [(i["kind"], i["id"]) for i in items] == [
        ("course_correction", str(agenda_items["critical"].pk)),
        ("course_correction", str(agenda_items["overdue"].pk)),
        ("divergence", str(agenda_items["divergence"].pk)),
        ("goalpost_proposal", str(agenda_items["proposal"].pk)),
        ("feedback", str(agenda_items["challenge"].pk)),
    ]
    assert ok(client.get(api(org, "steering/agenda/"))) == items, "a steerer's own groups by default"


def test_admins_see_the_whole_organization_and_a_group_that_is_not_one_is_refused(
    org, world, admin, agenda_items, client_for
):
    items = ok(client_for(admin).get(api(org, "steering/agenda/")))
    assert len(items) == 6
    assert refused(client_for(admin).get(api(org, f"steering/agenda/?group={world['team'].pk}")), 400) == {"group"}


def test_a_decision_shows_on_its_item_and_in_the_feed(org, world, people, agenda_items, client_for, endpoint):
    client = client_for(people["steerer"])
    item = agenda_items["proposal"]
    body = {"item_kind": "goalpost_proposal", "item_id": str(item.pk), "outcome": "Approve next week",
            "follow_up_owner": people["lead"].pk, "follow_up_on": str(today() + 7 * DAY)}  # fmt: skip
    decision = ok(client.post(api(org, "steering/decisions/"), body, format="json"), 201)

    items = ok(client.get(api(org, f"steering/agenda/?group={world['steering'].pk}")))
    listed = next(i for i in items if i["id"] == str(item.pk))
    assert [d["id"] for d in listed["decisions"]] == [decision["id"]]
    assert Activity.objects.filter(organization=org, verb="decision.recorded").exists()
    assert Notification.objects.filter(recipient=people["lead"], kind="decision.follow_up").exists()
    assert "decision.recorded" in events(org)


def test_only_steerers_of_the_item_decide_and_the_item_must_exist(org, world, people, agenda_items, client_for):
    body = {"item_kind": "course_correction", "item_id": str(agenda_items["critical"].pk), "outcome": "x"}
    assert refused(
        client_for(people["outside_steerer"]).post(api(org, "steering/decisions/"), body, format="json"), 403
    )
    missing = {**body, "item_id": "00000000-0000-0000-0000-000000000000"}
    assert refused(
        client_for(people["steerer"]).post(api(org, "steering/decisions/"), missing, format="json"), 400
    ) == {"item_id"}
    half = {**body, "follow_up_on": str(today() + DAY)}
    assert refused(client_for(people["steerer"]).post(api(org, "steering/decisions/"), half, format="json"), 400) == {
        "follow_up_owner"
    }
    assert not SteeringDecision.objects.exists()


def test_a_late_follow_up_opens_a_correction_until_it_is_done(org, world, people, agenda_items, client_for):
    client = client_for(people["steerer"])
    body = {"item_kind": "course_correction", "item_id": str(agenda_items["critical"].pk), "outcome": "Rebuild",
            "follow_up_owner": people["lead"].pk, "follow_up_on": str(today() + DAY)}  # fmt: skip
    decision = ok(client.post(api(org, "steering/decisions/"), body, format="json"), 201)
    SteeringDecision.objects.filter(pk=decision["id"]).update(follow_up_on=today() - 2 * DAY)

    engine.rescore_org(org=org)
    late = CourseCorrection.objects.get(organization=org, trigger=Trigger.FOLLOW_UP_OVERDUE)
    assert (late.subject_type, late.subject_id) == ("team", str(world["team"].pk))

    ok(client_for(people["lead"]).post(api(org, f"steering/decisions/{decision['id']}/complete/")))
    engine.rescore_org(org=org)
    late.refresh_from_db()
    assert late.status == "resolved"
