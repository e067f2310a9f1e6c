"""Course corrections: `/orgs/{org}/course-corrections/`.

Shape and filters of the list; who may steer (open a manual correction, acknowledge, resolve,
extend): the subject team's lead, a member of a steering group above it, an admin; the error
bodies of refused and conflicting writes; the engine opening, not repeating, resolving and
expiring its corrections and telling the right people; the activity and webhook trail of every
write; the list's query count at two sizes.
"""

import datetime

import pytest
from django.utils import timezone

from alignment_service.access import Role, Scope
from alignment_service.activity.models import Activity
from alignment_service.notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from feedback import engine
from feedback.models import Assessment, CourseCorrection
from goals.models import Goal, Reading
from goals.services import goals_refresh_progress, metrics_refresh
from teams.models import TeamMember
from tests.factories import GoalFactory, MetricFactory, TeamFactory

UTC = datetime.UTC
DAY = datetime.timedelta(days=1)
#: About 75 % into the factories' 2026 window.
T = datetime.datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
FIELDS = {
    "id", "subject_type", "subject_id", "trigger", "severity", "detail", "recommended_mode", "status", "assignee",
    "review_by", "extension_reason", "created_at", "resolved_at", "resolution",
}  # fmt: skip


def api(org, path=""):
    return f"/api/v1/orgs/{org.slug}/{path}"


def assert_status(response, status_code, code=None):
    assert response.status_code == status_code, response.content
    if code is not None:
        assert code in {error["code"] for error in response.json()["errors"]}, response.json()


def assert_invalid(response, *fields):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation_error", body
    assert {error["attr"] for error in body["errors"]} == set(fields), body


def ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def today():
    return timezone.now().date()


@pytest.fixture
def people(org, member_of):
    return {
        name: member_of(org, Role.MEMBER, username=name)
        for name in ("lead", "steerer", "goal_owner", "other_lead", "elsewhere_steerer", "child_lead")
    }


@pytest.fixture
def tree(org, people):
    """steering (steerer) ── team (lead) ── child (child_lead);  elsewhere (elsewhere_steerer) ── other"""
    steering = TeamFactory(organization=org, name="Steering", kind="steering_group")
    TeamMember.objects.create(organization=org, team=steering, user=people["steerer"])
    team = TeamFactory(organization=org, name="Team", parent=steering, lead=people["lead"])
    child = TeamFactory(organization=org, name="Child", parent=team, lead=people["child_lead"])
    elsewhere = TeamFactory(organization=org, name="Elsewhere", kind="steering_group")
    TeamMember.objects.create(organization=org, team=elsewhere, user=people["elsewhere_steerer"])
    other = TeamFactory(organization=org, name="Other", parent=elsewhere, lead=people["other_lead"])
    return {"steering": steering, "team": team, "child": child, "elsewhere": elsewhere, "other": other}


@pytest.fixture
def goal(org, tree, people):
    return GoalFactory(organization=org, team=tree["team"], owner=people["goal_owner"], title="Grow")


@pytest.fixture
def user(people, admin, owner, member, viewer):
    everyone = {**people, "admin": admin, "owner": owner, "member": member, "viewer": viewer}
    return everyone.__getitem__


def correction(org, subject_type, subject, *, team=None, trigger="manual", severity="warning", status="open", **extra):
    team = team if team is not None else (subject.team if subject_type == "goal" else subject)
    return CourseCorrection.objects.create(
        organization=org, subject_type=subject_type, subject_id=str(subject.pk), team=team, trigger=trigger,
        severity=severity, status=status, detail=f"{trigger} on {subject_type}", **extra,
    )  # fmt: skip


def open_manual(client, org, subject_type, subject, **extra):
    body = {"subject_type": subject_type, "subject_id": str(subject.pk), "detail": "Refocus on activation", **extra}
    return client.post(api(org, "course-corrections/"), body, format="json")


def record(org, metric, *points):
    """Readings `(days before T, value)`, then the metric's and goals' derived values refreshed."""
    for days_before, value in points:
        Reading.objects.create(organization=org, metric=metric, observed_at=T - days_before * DAY, value=value)
    metrics_refresh(org=org, metric_ids=[metric.pk])
    goals_refresh_progress(org=org)


def inbox(kind, correction_id):
    return set(
        Notification.objects.filter(
            kind=kind, subject_type="course_correction", subject_id=str(correction_id)
        ).values_list("recipient_id", flat=True)
    )


def told(kind, correction):
    """Who heard of the correction: on its own, or in a digest of one rescore."""
    verb = kind.rsplit(".", 1)[1].capitalize()
    digests = Notification.objects.filter(kind="course_correction.digest", body__contains=correction.detail)
    in_digest = {n.recipient_id for n in digests if f"- {verb}: " in n.body}
    return inbox(kind, correction.pk) | in_digest


# --- Shape and filters ---------------------------------------------------------------------------


def test_list_and_retrieve_shape(org, goal, tree, people, viewer, client_for):
    client = client_for(people["lead"])
    created = open_manual(client, org, "goal", goal, severity="critical", review_by="2026-12-20")
    assert_status(created, 201)

    response = client_for(viewer).get(api(org, "course-corrections/"))

    assert_status(response, 200)
    [item] = response.json()["results"]
    assert set(item) >= FIELDS
    assert item == created.json()
    assert {
        key: item[key]
        for key in ("subject_type", "subject_id", "trigger", "severity", "detail", "status", "assignee", "review_by")
    } == {
        "subject_type": "goal", "subject_id": str(goal.pk), "trigger": "manual", "severity": "critical",
        "detail": "Refocus on activation", "status": "open", "assignee": people["lead"].pk, "review_by": "2026-12-20",
    }  # fmt: skip
    assert (item["extension_reason"], item["resolved_at"], item["resolution"]) == ("", None, "")
    assert datetime.datetime.fromisoformat(item["created_at"]).utcoffset() is not None
    retrieved = client_for(viewer).get(api(org, f"course-corrections/{item['id']}/"))
    assert_status(retrieved, 200)
    assert retrieved.json() == {**item, "symptoms": []}  # the detail adds what it explains
    assert item["caused_by"] is None


def test_severity_defaults_to_warning(org, goal, people, client_for):
    response = open_manual(client_for(people["lead"]), org, "team", goal.team)

    assert_status(response, 201)
    assert (response.json()["severity"], response.json()["review_by"], response.json()["subject_type"]) == (
        "warning", None, "team",
    )  # fmt: skip


def test_another_orgs_corrections_are_invisible(org, other_org, goal, viewer, outsider, client_for):
    mine = correction(org, "goal", goal)
    theirs = correction(other_org, "team", TeamFactory(organization=other_org))
    client = client_for(viewer)

    assert ids(client.get(api(org, "course-corrections/"))) == [str(mine.pk)]
    assert_status(client.get(api(org, f"course-corrections/{theirs.pk}/")), 404)
    assert_status(client.get(api(org, "course-corrections/not-a-uuid/")), 404)
    assert_status(client_for(outsider).get(api(org, "course-corrections/")), 404)
    assert_status(client_for(outsider).get(api(org, f"course-corrections/{mine.pk}/")), 404)


def test_filters(org, tree, goal, viewer, client_for):
    second = GoalFactory(organization=org, team=tree["other"])
    rows = {
        "a": correction(org, "goal", goal, trigger="off_track"),
        "b": correction(org, "goal", goal, trigger="stale_data", severity="info", status="resolved"),
        "c": correction(org, "team", tree["team"], trigger="intervention", status="acknowledged"),
        "d": correction(org, "team", tree["other"], trigger="critical_quadrant", severity="critical"),
        "e": correction(org, "goal", second, trigger="manual", severity="critical", status="expired"),
    }
    for n, row in enumerate(rows.values()):
        CourseCorrection.objects.filter(pk=row.pk).update(created_at=T + n * DAY)
    client = client_for(viewer)

    def names(**params):
        found = ids(client.get(api(org, "course-corrections/"), params))
        by_id = {str(row.pk): name for name, row in rows.items()}
        return "".join(by_id[pk] for pk in found)

    assert names() == "edcba"
    assert names(status="open") == "da"
    assert names(status=["open", "acknowledged"]) == "dca"
    assert names(trigger="off_track") == "a"
    assert names(trigger=["intervention", "critical_quadrant"]) == "dc"
    assert names(severity="critical") == "ed"
    assert names(subject_type="goal", subject_id=str(goal.pk)) == "ba"
    assert names(subject_type="team") == "dc"
    assert names(team=str(tree["team"].pk)) == "cba"
    assert names(team=str(tree["other"].pk), status="open") == "d"
    assert_invalid(client.get(api(org, "course-corrections/"), {"status": "closed"}), "status")
    assert_invalid(client.get(api(org, "course-corrections/"), {"trigger": "whim"}), "trigger")
    assert_invalid(client.get(api(org, "course-corrections/"), {"team": "nope"}), "team")


# --- Who may steer -------------------------------------------------------------------------------

STEERERS = ["lead", "steerer", "admin", "owner"]
NOT_STEERERS = ["goal_owner", "other_lead", "elsewhere_steerer", "child_lead", "member"]


@pytest.mark.parametrize("subject_type", ["goal", "team"])
@pytest.mark.parametrize("who", STEERERS)
def test_leaders_open_a_manual_correction(org, goal, user, client_for, who, subject_type):
    subject = goal if subject_type == "goal" else goal.team

    response = open_manual(client_for(user(who)), org, subject_type, subject)

    assert_status(response, 201)
    row = CourseCorrection.objects.get(pk=response.json()["id"])
    assert (row.trigger, row.subject_type, row.subject_id, row.team_id) == (
        "manual", subject_type, str(subject.pk), goal.team_id,
    )  # fmt: skip
    assert row.opened_by == user(who)


def test_a_steering_group_above_a_grandchild_may_steer_it(org, tree, people, client_for):
    response = open_manual(client_for(people["steerer"]), org, "team", tree["child"])

    assert_status(response, 201)


@pytest.mark.parametrize("subject_type", ["goal", "team"])
@pytest.mark.parametrize("who", [*NOT_STEERERS, "viewer"])
def test_others_may_not_open_one(org, goal, user, client_for, count_rows, who, subject_type):
    subject = goal if subject_type == "goal" else goal.team
    client = client_for(user(who))
    before = count_rows()

    response = open_manual(client, org, subject_type, subject)

    assert_status(response, 403)
    assert response.json()["type"] == "client_error"
    assert count_rows() == before


def test_an_api_key_may_not_open_one(org, goal, key_client_for, count_rows):
    client = key_client_for(org, (Scope.READ,))
    before = count_rows()

    assert_status(open_manual(client, org, "goal", goal), 403)
    assert count_rows() == before


def test_a_subject_of_another_org_is_a_400(org, other_org, goal, admin, client_for, count_rows):
    foreign_team = TeamFactory(organization=other_org)
    foreign_goal = GoalFactory(organization=other_org, team=foreign_team)
    client = client_for(admin)
    before = count_rows()

    assert_invalid(open_manual(client, org, "goal", foreign_goal), "subject_id")
    assert_invalid(open_manual(client, org, "team", foreign_team), "subject_id")
    assert_invalid(open_manual(client, org, "goal", goal.team), "subject_id")
    assert count_rows() == before


def test_bad_input_lists_every_problem(org, admin, client_for, count_rows):
    client = client_for(admin)
    before = count_rows()

    response = client.post(
        api(org, "course-corrections/"),
        {"subject_type": "strategy", "subject_id": "x", "severity": "loud", "review_by": "soon"},
        format="json",
    )

    assert_invalid(response, "subject_type", "subject_id", "detail", "severity", "review_by")
    assert count_rows() == before


def test_a_second_manual_correction_on_a_subject_is_a_409(org, goal, people, client_for):
    client = client_for(people["lead"])
    first = open_manual(client, org, "goal", goal)
    assert_status(first, 201)

    assert_status(open_manual(client, org, "goal", goal), 409, "correction_exists")
    assert CourseCorrection.objects.filter(organization=org, trigger="manual").count() == 1

    assert_status(open_manual(client, org, "team", goal.team), 201)


@pytest.mark.parametrize("closed", ["resolved", "expired"])
def test_a_new_manual_correction_once_the_last_is_closed(org, goal, people, client_for, closed):
    client = client_for(people["lead"])
    first = open_manual(client, org, "goal", goal)
    CourseCorrection.objects.filter(pk=first.json()["id"]).update(status=closed)

    assert_status(open_manual(client, org, "goal", goal), 201)
    assert CourseCorrection.objects.filter(organization=org, trigger="manual", status="open").count() == 1


def test_a_manual_correction_carries_the_teams_recommended_mode(org, goal, people, client_for):
    Assessment.objects.create(
        organization=org, team=goal.team, assessor=people["lead"], alignment=2, confidence=2, quadrant="critical",
        recommended_mode="critical",
    )  # fmt: skip

    response = open_manual(client_for(people["lead"]), org, "goal", goal)

    assert_status(response, 201)
    assert response.json()["recommended_mode"] == "critical"


# --- Acknowledge, resolve, extend -----------------------------------------------------------------


@pytest.fixture
def manual(org, goal, people, client_for):
    response = open_manual(client_for(people["lead"]), org, "goal", goal, review_by=str(today() + 7 * DAY))
    assert_status(response, 201)
    return CourseCorrection.objects.get(pk=response.json()["id"])


def test_acknowledge_is_idempotent(org, manual, people, client_for):
    client = client_for(people["steerer"])
    url = api(org, f"course-corrections/{manual.pk}/acknowledge/")

    first = client.post(url)
    assert_status(first, 200)
    assert first.json()["status"] == "acknowledged"
    stamped = CourseCorrection.objects.get(pk=manual.pk).acknowledged_at
    assert stamped is not None

    again = client.post(url)

    assert_status(again, 200)
    assert again.json()["status"] == "acknowledged"
    assert CourseCorrection.objects.get(pk=manual.pk).acknowledged_at == stamped
    assert Activity.objects.filter(organization=org, verb="course_correction.acknowledged").count() == 1


def test_resolve_then_resolving_again_is_a_409(org, manual, people, client_for):
    client = client_for(people["lead"])
    url = api(org, f"course-corrections/{manual.pk}/resolve/")
    assert_invalid(client.post(url, {}, format="json"), "resolution")

    response = client.post(url, {"resolution": "Refocused the roadmap on activation."}, format="json")

    assert_status(response, 200)
    body = response.json()
    assert (body["status"], body["resolution"]) == ("resolved", "Refocused the roadmap on activation.")
    assert datetime.datetime.fromisoformat(body["resolved_at"]) <= timezone.now()
    assert_status(client.post(url, {"resolution": "again"}, format="json"), 409, "correction_closed")
    assert_status(client.post(api(org, f"course-corrections/{manual.pk}/acknowledge/")), 409, "correction_closed")
    extend = {"review_by": str(today() + 30 * DAY), "extension_reason": "more time"}
    assert_status(client.patch(api(org, f"course-corrections/{manual.pk}/"), extend, format="json"), 409)
    manual.refresh_from_db()
    assert (manual.status, manual.resolution, manual.resolved_by) == (
        "resolved", "Refocused the roadmap on activation.", people["lead"],
    )  # fmt: skip


def test_an_acknowledged_correction_can_be_resolved(org, manual, user, client_for):
    assert_status(client_for(user("admin")).post(api(org, f"course-corrections/{manual.pk}/acknowledge/")), 200)

    response = client_for(user("steerer")).post(
        api(org, f"course-corrections/{manual.pk}/resolve/"), {"resolution": "done"}, format="json"
    )

    assert_status(response, 200)
    assert response.json()["status"] == "resolved"


def test_extending_review_by_counts_every_extension(org, manual, people, client_for):
    client = client_for(people["lead"])
    url = api(org, f"course-corrections/{manual.pk}/")

    first = client.patch(url, {"review_by": str(today() + 14 * DAY), "extension_reason": "Hiring"}, format="json")
    assert_status(first, 200)
    assert (first.json()["review_by"], first.json()["extension_reason"], first.json()["extension_count"]) == (
        str(today() + 14 * DAY), "Hiring", 1,
    )  # fmt: skip

    second = client.patch(url, {"review_by": str(today() + 21 * DAY), "extension_reason": "Still"}, format="json")

    assert_status(second, 200)
    assert second.json()["extension_count"] == 2
    assert second.json()["extension_reason"] == "Still"


def test_a_viewer_may_not_steer(org, manual, viewer, client_for, count_rows):
    client = client_for(viewer)
    before = count_rows()

    assert_status(client.post(api(org, f"course-corrections/{manual.pk}/acknowledge/")), 403)
    assert_status(
        client.post(api(org, f"course-corrections/{manual.pk}/resolve/"), {"resolution": "x"}, format="json"), 403
    )
    extend = {"review_by": str(today() + 30 * DAY), "extension_reason": "x"}
    assert_status(client.patch(api(org, f"course-corrections/{manual.pk}/"), extend, format="json"), 403)

    assert count_rows() == before


def test_a_bad_extension_changes_nothing(org, manual, people, client_for, count_rows):
    client = client_for(people["lead"])
    url = api(org, f"course-corrections/{manual.pk}/")
    before = count_rows()

    assert_invalid(client.patch(url, {"review_by": str(today() - DAY), "extension_reason": "late"}, format="json"),
                   "review_by")  # fmt: skip
    assert_invalid(client.patch(url, {"review_by": str(today() + 9 * DAY)}, format="json"), "extension_reason")
    assert_invalid(client.patch(url, {"extension_reason": "why"}, format="json"), "review_by")

    assert count_rows() == before
    manual.refresh_from_db()
    assert (manual.extension_count, manual.review_by, manual.extension_reason) == (0, today() + 7 * DAY, "")


@pytest.mark.parametrize("who", NOT_STEERERS)
def test_others_may_not_steer(org, manual, user, client_for, count_rows, who):
    client = client_for(user(who))
    before = count_rows()

    assert_status(client.post(api(org, f"course-corrections/{manual.pk}/acknowledge/")), 403)
    assert_status(
        client.post(api(org, f"course-corrections/{manual.pk}/resolve/"), {"resolution": "x"}, format="json"), 403
    )
    extend = {"review_by": str(today() + 30 * DAY), "extension_reason": "x"}
    assert_status(client.patch(api(org, f"course-corrections/{manual.pk}/"), extend, format="json"), 403)

    assert count_rows() == before


def test_every_write_is_in_the_activity_feed_and_the_webhooks(org, goal, people, client_for):
    WebhookEndpoint.objects.create(organization=org, url="https://hooks.example.com/in", secret="whsec_dGVzdA==")
    lead = people["lead"]
    client = client_for(lead)

    created = open_manual(client, org, "goal", goal)
    pk = created.json()["id"]
    client.post(api(org, f"course-corrections/{pk}/acknowledge/"))
    extend = {"review_by": str(today() + 30 * DAY), "extension_reason": "More time"}
    assert_status(client.patch(api(org, f"course-corrections/{pk}/"), extend, format="json"), 200)
    client.post(api(org, f"course-corrections/{pk}/resolve/"), {"resolution": "done"}, format="json")

    trail = Activity.objects.filter(organization=org, verb__startswith="course_correction.").order_by("id")
    assert [a.verb for a in trail] == [
        "course_correction.opened", "course_correction.acknowledged", "course_correction.extended",
        "course_correction.resolved",
    ]  # fmt: skip
    assert {(a.actor_user_id, a.subject_type, a.subject_id) for a in trail} == {(lead.pk, "goal", str(goal.pk))}
    deliveries = WebhookDelivery.objects.filter(organization=org).order_by("created_at", "id")
    assert [d.event_type for d in deliveries] == [
        "course_correction.opened", "course_correction.acknowledged", "course_correction.resolved",
    ]  # fmt: skip
    for delivery in deliveries:
        assert delivery.payload["type"] == delivery.event_type
        assert delivery.payload["data"]["id"] == pk
    assert deliveries[2].payload["data"]["status"] == "resolved"
    assert deliveries[2].payload["data"]["resolution"] == "done"


def test_opening_notifies_the_people_who_answer(org, manual, people):
    expected = {people["goal_owner"].pk, people["lead"].pk, people["steerer"].pk}

    assert inbox("course_correction.opened", manual.pk) == expected


def test_steering_notifies_the_people_who_answer(org, manual, goal, people, client_for):
    expected = {people["goal_owner"].pk, people["lead"].pk, people["steerer"].pk}

    client_for(people["lead"]).post(api(org, f"course-corrections/{manual.pk}/acknowledge/"))
    client_for(people["lead"]).post(
        api(org, f"course-corrections/{manual.pk}/resolve/"), {"resolution": "done"}, format="json"
    )

    assert inbox("course_correction.acknowledged", manual.pk) == expected
    assert inbox("course_correction.resolved", manual.pk) == expected


# --- The engine's corrections --------------------------------------------------------------------


@pytest.fixture
def off_track(org, goal):
    """`goal` 10 % of the way at 75 % of its window."""
    metric = MetricFactory(goal=goal, organization=org, name="Activation")
    record(org, metric, (40, 5.0), (1, 10.0))
    return metric


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


# --- Query count -----------------------------------------------------------------------------------

CORRECTIONS_QUERIES = 3


@pytest.mark.parametrize("size", [3, 25])
def test_list_query_count(org, tree, viewer, client_for, django_assert_num_queries, size):
    for n in range(size):
        subject = GoalFactory(organization=org, team=tree["team"] if n % 2 else tree["other"])
        correction(org, "goal", subject, trigger="off_track", severity=["info", "warning", "critical"][n % 3])
    client = client_for(viewer)

    with django_assert_num_queries(CORRECTIONS_QUERIES):
        response = client.get(api(org, "course-corrections/"))

    assert len(response.json()["results"]) == size


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
