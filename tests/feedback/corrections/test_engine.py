"""The engine's course corrections: opened once, not repeated, resolved and expired, telling
the right people and the webhooks; and one alarm per cause (symptoms link to it quietly)."""

import datetime

import pytest

from alignment_service.access import Role
from alignment_service.notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from feedback import engine
from feedback.models import CourseCorrection
from goals.models import Goal
from teams.models import TeamMember
from tests.factories import GoalFactory, MetricFactory, TeamFactory
from tests.feedback.corrections.support import (
    CORRECTIONS_QUERIES,
    DAY,
    T,
    api,
    assert_status,
    correction,
    inbox,
    open_manual,
    record,
    told,
)

# --- The engine's corrections --------------------------------------------------------------------


def active(org, goal, trigger):
    return CourseCorrection.objects.filter(
        organization=org, subject_type="goal", subject_id=str(goal.pk), trigger=trigger
    )


def test_the_engine_opens_an_off_track_correction_once_and_resolves_it(org, goal, off_track, people, member):
    engine.rescore_org(org=org, now=T)

    [opened] = active(org, goal, "off_track")
    assert (opened.status, opened.severity, opened.team_id) == ("open", "warning", goal.team_id)
    assert opened.assignee == people["goal_owner"]
    assert "10 %" in opened.detail
    assert "75 %" in opened.detail
    expected = {people["goal_owner"].pk, people["lead"].pk, people["steerer"].pk}
    assert told("course_correction.opened", opened) == expected
    notifications = Notification.objects.count()

    engine.rescore_org(org=org, now=T + datetime.timedelta(hours=1))

    assert list(active(org, goal, "off_track")) == [opened]
    assert Notification.objects.count() == notifications

    record(org, off_track, (0, 90.0))
    engine.rescore_org(org=org, now=T + DAY)

    opened.refresh_from_db()
    assert opened.status == "resolved"
    assert "no longer holds" in opened.resolution
    assert opened.resolved_at == T + DAY
    assert not active(org, goal, "off_track").filter(status__in=["open", "acknowledged"]).exists()
    assert told("course_correction.resolved", opened) == expected


def test_a_second_run_adds_no_correction_and_no_notification(org, goal, off_track):
    engine.rescore_org(org=org, now=T)
    corrections = set(CourseCorrection.objects.values_list("id", "status"))
    notifications = Notification.objects.count()

    result = engine.rescore_org(org=org, now=T + datetime.timedelta(hours=1))

    assert (result.opened, result.resolved, result.expired) == (0, 0, 0)
    assert set(CourseCorrection.objects.values_list("id", "status")) == corrections
    assert Notification.objects.count() == notifications


def test_an_acknowledged_correction_is_not_reopened(org, goal, off_track):
    engine.rescore_org(org=org, now=T)
    [opened] = active(org, goal, "off_track")
    CourseCorrection.objects.filter(pk=opened.pk).update(status="acknowledged")

    engine.rescore_org(org=org, now=T + datetime.timedelta(hours=1))

    assert [(c.pk, c.status) for c in active(org, goal, "off_track")] == [(opened.pk, "acknowledged")]


def test_a_cancelled_goals_corrections_expire(org, goal, off_track, people, client_for):
    engine.rescore_org(org=org, now=T)
    assert_status(open_manual(client_for(people["lead"]), org, "goal", goal), 201)
    on_goal = CourseCorrection.objects.filter(organization=org, subject_type="goal", subject_id=str(goal.pk))
    assert {"off_track", "manual"} <= set(on_goal.values_list("trigger", flat=True))
    assert set(on_goal.values_list("status", flat=True)) == {"open"}

    Goal.objects.filter(pk=goal.pk).update(status="cancelled")
    engine.rescore_org(org=org, now=T + DAY)

    assert set(on_goal.values_list("status", flat=True)) == {"expired"}
    assert set(on_goal.values_list("resolved_at", flat=True)) == {T + DAY}


def test_an_achieved_goals_corrections_are_resolved(org, goal, off_track):
    engine.rescore_org(org=org, now=T)

    Goal.objects.filter(pk=goal.pk).update(status="achieved")
    engine.rescore_org(org=org, now=T + DAY)

    [correction_] = active(org, goal, "off_track")
    assert correction_.status == "resolved"
    assert "achieved" in correction_.resolution


def test_engine_corrections_reach_the_webhooks(org, goal, off_track):
    WebhookEndpoint.objects.create(
        organization=org, url="https://hooks.example.com/in", secret="whsec_dGVzdA==",
        events=["course_correction.opened", "course_correction.resolved"],
    )  # fmt: skip
    engine.rescore_org(org=org, now=T)
    [opened] = active(org, goal, "off_track")

    record(org, off_track, (0, 90.0))
    engine.rescore_org(org=org, now=T + DAY)

    deliveries = WebhookDelivery.objects.filter(organization=org, payload__data__id=str(opened.pk))
    assert sorted(d.event_type for d in deliveries) == ["course_correction.opened", "course_correction.resolved"]
    for delivery in deliveries:
        assert delivery.payload["data"]["trigger"] == "off_track"
        assert delivery.payload["data"]["subject_id"] == str(goal.pk)
    assert set(WebhookDelivery.objects.values_list("event_type", flat=True)) == {
        "course_correction.opened", "course_correction.resolved",
    }  # fmt: skip


def test_the_steering_group_of_an_ancestor_goal_is_told(org, tree, people, member_of):
    """A steering group that owns a parent goal hears of its child goal's correction, even when the
    child's team is not under it."""
    board_member = member_of(org, Role.MEMBER, username="board_member")
    board = TeamFactory(organization=org, name="Board", kind="steering_group")
    TeamMember.objects.create(organization=org, team=board, user=board_member)
    company = GoalFactory(organization=org, team=board, title="Company")
    child = GoalFactory(organization=org, team=tree["other"], parent=company, owner=people["goal_owner"])
    record(org, MetricFactory(goal=child, organization=org), (1, 10.0))

    engine.rescore_org(org=org, now=T)

    [opened] = active(org, child, "off_track")
    assert told("course_correction.opened", opened) == {
        people["goal_owner"].pk, people["other_lead"].pk, people["elsewhere_steerer"].pk, board_member.pk,
    }  # fmt: skip


# --- One alarm per cause ---------------------------------------------------------------------------


def by_trigger(org):
    return {(c.subject_type, c.trigger): c for c in CourseCorrection.objects.filter(organization=org)}


def test_symptoms_link_to_their_cause_and_neither_notify_nor_fire_webhooks(org, goal, off_track, people):
    """An off-track goal whose team lead is absent: two causes (the goal off track, the team's
    hands-off drift); the goal's low score and missing check-in, and the team's low score, are
    symptoms."""
    WebhookEndpoint.objects.create(organization=org, url="https://hooks.example.com/in", secret="whsec_dGVzdA==")
    engine.rescore_org(org=org, now=T)

    found = by_trigger(org)
    off, drift = found[("goal", "off_track")], found[("team", "hands_off_drift")]
    assert {key for key, c in found.items() if c.caused_by_id is None} == {
        ("goal", "off_track"),
        ("team", "hands_off_drift"),
    }
    assert found[("goal", "score_below_threshold")].caused_by == off
    assert found[("goal", "stale_checkin")].caused_by == off
    assert found[("team", "score_below_threshold")].caused_by == drift

    deliveries = WebhookDelivery.objects.filter(organization=org, event_type="course_correction.opened")
    assert {d.payload["data"]["id"] for d in deliveries} == {str(off.pk), str(drift.pk)}
    carried = {d.payload["data"]["id"]: {s["trigger"] for s in d.payload["data"]["symptoms"]} for d in deliveries}
    assert carried == {
        str(off.pk): {"score_below_threshold", "stale_checkin"},
        str(drift.pk): {"score_below_threshold"},
    }

    per_person = Notification.objects.values_list("recipient_id", flat=True)
    assert sorted(per_person) == sorted(set(per_person)), "at most one notification per person per rescore"
    digest = Notification.objects.get(recipient=people["lead"])
    assert digest.kind == "course_correction.digest"
    assert off.detail in digest.body
    assert drift.detail in digest.body
    assert Notification.objects.get(recipient=people["steerer"]).kind == "course_correction.digest"


def test_a_symptom_whose_cause_resolves_becomes_a_cause_on_the_same_rescore(org, goal, off_track, people):
    engine.rescore_org(org=org, now=T)
    silent = by_trigger(org)[("goal", "stale_checkin")]
    assert silent.caused_by_id is not None
    notified = Notification.objects.count()

    record(org, off_track, (0, 90.0))  # back on track, still without a check-in
    engine.rescore_org(org=org, now=T + DAY)

    silent.refresh_from_db()
    assert (silent.status, silent.caused_by_id) == ("open", None)
    assert by_trigger(org)[("goal", "off_track")].status == "resolved"
    fresh = Notification.objects.order_by("created_at")[notified:]
    recipients = [n.recipient_id for n in fresh]
    assert sorted(recipients) == sorted(set(recipients))
    assert any(silent.detail in n.body for n in fresh if n.recipient_id == people["goal_owner"].pk)


def test_root_filter_and_the_detail_lists_symptoms(org, goal, off_track, viewer, client_for):
    engine.rescore_org(org=org, now=T)
    found = by_trigger(org)
    off = found[("goal", "off_track")]
    client = client_for(viewer)

    roots = client.get(api(org, "course-corrections/"), {"root": "true"}).json()["results"]
    symptoms = client.get(api(org, "course-corrections/"), {"root": "false"}).json()["results"]
    assert {r["trigger"] for r in roots} == {"off_track", "hands_off_drift"}
    assert all(r["caused_by"] is None for r in roots)
    assert {s["caused_by"] for s in symptoms} == {str(off.pk), str(found[("team", "hands_off_drift")].pk)}

    detail = client.get(api(org, f"course-corrections/{off.pk}/")).json()
    assert {s["trigger"] for s in detail["symptoms"]} == {"score_below_threshold", "stale_checkin"}
    assert {s["subject_type"] for s in detail["symptoms"]} == {"goal"}


@pytest.mark.parametrize("size", [1, 12])
def test_detail_query_count_does_not_grow_with_symptoms(org, tree, viewer, client_for, django_assert_num_queries, size):
    cause_goal = GoalFactory(organization=org, team=tree["team"])
    cause = correction(org, "goal", cause_goal, trigger="off_track")
    for _ in range(size):
        correction(
            org, "goal", GoalFactory(organization=org, team=tree["team"]), trigger="low_confidence", caused_by=cause
        )
    client = client_for(viewer)

    with django_assert_num_queries(CORRECTIONS_QUERIES):
        response = client.get(api(org, f"course-corrections/{cause.pk}/"))

    assert len(response.json()["symptoms"]) == size


def test_steering_a_symptom_is_quiet_and_a_cause_carries_its_symptoms(org, goal, people, client_for):
    WebhookEndpoint.objects.create(organization=org, url="https://hooks.example.com/in", secret="whsec_dGVzdA==")
    cause = correction(org, "goal", goal, trigger="off_track")
    symptom = correction(org, "goal", goal, trigger="low_confidence", caused_by=cause)
    lead = client_for(people["lead"])

    assert lead.post(api(org, f"course-corrections/{symptom.pk}/acknowledge/")).status_code == 200
    assert not Notification.objects.filter(subject_id=str(symptom.pk)).exists()
    assert not WebhookDelivery.objects.filter(payload__data__id=str(symptom.pk)).exists()

    assert lead.post(api(org, f"course-corrections/{cause.pk}/acknowledge/")).status_code == 200
    [delivery] = WebhookDelivery.objects.filter(payload__data__id=str(cause.pk))
    assert [s["id"] for s in delivery.payload["data"]["symptoms"]] == [str(symptom.pk)]
    assert inbox("course_correction.acknowledged", cause.pk) == {
        people["goal_owner"].pk, people["lead"].pk, people["steerer"].pk,
    }  # fmt: skip
