"""Feedback status and replies over HTTP: who stewards each kind of target, a status that
never goes backwards, the 405 of a method an endpoint does not offer, and replies (oldest first,
the author notified)."""

import datetime

import pytest

from alignment_service.access import Role
from alignment_service.notifications.models import Notification
from feedback.models import Assessment, CheckIn, Feedback, FeedbackReply
from tests.feedback.api.support import T0, api, assert_invalid, assert_status, at, ids

# --- Feedback status --------------------------------------------------------------------------

# target, who, may change its status
STEWARDS = [
    ("goal", "goal_owner", True),
    ("goal", "lead", True),
    ("goal", "admin", True),
    ("goal", "owner", True),
    ("goal", "parent_lead", False),
    ("goal", "sibling_lead", False),
    ("goal", "member", False),
    ("goal", "author", False),
    ("goal", "viewer", False),
    ("team", "lead", True),
    ("team", "admin", True),
    ("team", "goal_owner", False),
    ("team", "child_lead", False),
    ("strategy", "pillar_owner", True),
    ("strategy", "lead", True),
    ("strategy", "owner", True),
    ("strategy", "goal_owner", False),
    ("direction", "admin", True),
    ("direction", "owner", True),
    ("direction", "lead", False),
    ("direction", "member", False),
]


def steward_client(who, org, people, author, client_for, member_of):
    if who == "author":
        return client_for(author)
    if who in people:
        return client_for(people[who])
    return client_for(member_of(org, Role(who)))


@pytest.mark.parametrize(("target_type", "who", "allowed"), STEWARDS)
def test_who_may_change_feedback_status(
    org, people, author, feedback_on, client_for, member_of, count_rows, target_type, who, allowed
):
    feedback = feedback_on(target_type)
    client = steward_client(who, org, people, author, client_for, member_of)
    url = api(org, f"feedback/{feedback.pk}/")

    if not allowed:
        before = count_rows()
        assert_status(client.patch(url, {"status": "acknowledged"}), 403)
        assert count_rows() == before
        feedback.refresh_from_db()
        assert feedback.status == "open"
        return

    acknowledged = client.patch(url, {"status": "acknowledged"})
    assert acknowledged.status_code == 200, acknowledged.content
    assert acknowledged.json()["status"] == "acknowledged"
    resolved = client.patch(url, {"status": "resolved"})
    assert resolved.status_code == 200, resolved.content
    assert resolved.json()["status"] == "resolved"
    feedback.refresh_from_db()
    assert feedback.status == "resolved"


@pytest.mark.parametrize(
    ("start", "back"), [("resolved", "open"), ("resolved", "acknowledged"), ("acknowledged", "open")]
)
def test_status_never_goes_backwards(org, admin, feedback_on, client_for, count_rows, start, back):
    feedback = feedback_on("goal", status=start)
    client = client_for(admin)
    before = count_rows()

    response = client.patch(api(org, f"feedback/{feedback.pk}/"), {"status": back})

    assert_status(response, 409, "status_backwards")
    feedback.refresh_from_db()
    assert feedback.status == start
    assert count_rows() == before


def test_open_may_jump_to_resolved(org, people, feedback_on, client_for):
    feedback = feedback_on("goal")

    response = client_for(people["goal_owner"]).patch(api(org, f"feedback/{feedback.pk}/"), {"status": "resolved"})

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"


@pytest.mark.parametrize("payload", [{"status": "closed"}, {"status": None}, {}])
def test_a_bad_status_is_refused(org, admin, feedback_on, client_for, count_rows, payload):
    feedback = feedback_on("goal")
    client = client_for(admin)
    before = count_rows()

    response = client.patch(api(org, f"feedback/{feedback.pk}/"), payload, format="json")

    assert_invalid(response, "status")
    assert count_rows() == before


UNOFFERED_METHODS = [
    ("put", "feedback/{feedback}/"),
    ("delete", "feedback/{feedback}/"),
    ("patch", "check-ins/{check_in}/"),
    ("delete", "check-ins/{check_in}/"),
    ("patch", "assessments/{assessment}/"),
    ("delete", "assessments/{assessment}/"),
    ("delete", "feedback/{feedback}/replies/"),
]


@pytest.mark.parametrize(("method", "path"), UNOFFERED_METHODS)
def test_a_method_an_endpoint_does_not_offer_is_405(
    org, admin, goal, tree, feedback_on, client_for, count_rows, method, path
):
    objects = {
        "feedback": feedback_on("goal"),
        "check_in": CheckIn.objects.create(organization=org, goal=goal, summary="x", confidence=5),
        "assessment": Assessment.objects.create(
            organization=org, team=tree["team"], alignment=3, confidence=3, quadrant="critical",
            recommended_mode="critical",
        ),
    }  # fmt: skip
    client = client_for(admin)
    client.raise_request_exception = False
    before = count_rows()

    response = getattr(client, method)(api(org, path.format(**{k: v.pk for k, v in objects.items()})), {})

    assert_status(response, 405)
    assert count_rows() == before


# --- Replies ----------------------------------------------------------------------------------

REPLY_FIELDS = {"id", "feedback", "author", "anonymous", "body", "created_at"}


def test_replies_are_listed_oldest_first(org, viewer, author, people, feedback_on, client_for):
    feedback = feedback_on("goal")
    replies = []
    for n, who in enumerate([people["goal_owner"], author, people["lead"]]):
        reply = FeedbackReply.objects.create(organization=org, feedback=feedback, author=who, body=f"#{n}")
        at(FeedbackReply, reply, T0 + datetime.timedelta(minutes=n))
        replies.append(str(reply.pk))
    FeedbackReply.objects.create(organization=org, feedback=feedback_on("team"), body="elsewhere")

    response = client_for(viewer).get(api(org, f"feedback/{feedback.pk}/replies/"))

    assert response.status_code == 200
    assert ids(response) == replies
    assert set(response.json()["results"][0]) == REPLY_FIELDS


def test_a_member_replies_and_the_author_is_notified(org, member, author, feedback_on, client_for):
    feedback = feedback_on("goal")

    response = client_for(member).post(api(org, f"feedback/{feedback.pk}/replies/"), {"body": "Good point"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == REPLY_FIELDS
    assert (body["feedback"], body["author"], body["body"]) == (str(feedback.pk), member.pk, "Good point")
    notification = Notification.objects.get(recipient=author)
    assert notification.kind == "feedback.replied"
    assert (notification.subject_type, notification.subject_id) == ("feedback", str(feedback.pk))
    assert notification.organization_id == org.pk
    assert "Good point" in notification.body
    assert not Notification.objects.filter(recipient=member).exists()


def test_the_authors_own_reply_notifies_nobody(org, author, feedback_on, client_for):
    feedback = feedback_on("goal")

    response = client_for(author).post(api(org, f"feedback/{feedback.pk}/replies/"), {"body": "To add…"})

    assert response.status_code == 201
    assert not Notification.objects.exists()


def test_a_viewer_reads_but_cannot_reply(org, viewer, feedback_on, client_for, count_rows):
    feedback = feedback_on("goal")
    client = client_for(viewer)
    before = count_rows()

    assert client.get(api(org, f"feedback/{feedback.pk}/replies/")).status_code == 200
    assert_status(client.post(api(org, f"feedback/{feedback.pk}/replies/"), {"body": "hi"}), 403)
    assert count_rows() == before


@pytest.mark.parametrize("payload", [{}, {"body": ""}, {"body": "x" * 10_001}])
def test_a_bad_reply_is_refused_and_writes_nothing(org, member, feedback_on, client_for, count_rows, payload):
    feedback = feedback_on("goal")
    client = client_for(member)
    before = count_rows()

    response = client.post(api(org, f"feedback/{feedback.pk}/replies/"), payload)

    assert_invalid(response, "body")
    assert count_rows() == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_replies_of_feedback_in_another_org_are_not_found(org, other_org, member, client_for, count_rows, method):
    foreign = Feedback.objects.create(organization=other_org, target_type="direction", kind="idea", body="theirs")
    client = client_for(member)
    before = count_rows()

    response = getattr(client, method)(api(org, f"feedback/{foreign.pk}/replies/"), {"body": "hi"})

    assert_status(response, 404)
    assert count_rows() == before
