"""Steering a course correction: acknowledge, resolve and extend, who may, what a refused write
changes (nothing), and the activity, webhook and notification trail of every write."""

import datetime

import pytest
from django.utils import timezone

from alignment_service.activity.models import Activity
from alignment_service.notifications.models import WebhookDelivery, WebhookEndpoint
from feedback.models import CourseCorrection
from tests.feedback.corrections.support import (
    DAY,
    NOT_STEERERS,
    api,
    assert_invalid,
    assert_status,
    inbox,
    open_manual,
    today,
)

# --- Acknowledge, resolve, extend -----------------------------------------------------------------


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
