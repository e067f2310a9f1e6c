"""The feedback API's costs: the rescore owed by every write (coalesced, none for a refused
one), and the query count of every list, pinned at two sizes."""

import pytest

from alignment_service.access import Access, Role, Scope
from alignment_service.activity.models import Activity
from alignment_service.activity.services import activity_record
from alignment_service.notifications.services import notify
from alignment_service.outbox.models import OutboxMessage
from feedback.models import Assessment, CheckIn, Feedback, FeedbackReply
from tests.factories import TeamFactory
from tests.feedback.api.support import api, pending_rescores

# --- Rescore owed by every write --------------------------------------------------------------


def write_checkin(org, goal, people, author, feedback_on, client_for):
    return client_for(author).post(api(org, "check-ins/"), {"goal": str(goal.pk), "summary": "x", "confidence": 4})


def write_assessment(org, goal, people, author, feedback_on, client_for):
    return client_for(people["lead"]).post(
        api(org, "assessments/"), {"team": str(goal.team_id), "alignment": 1, "confidence": 1}
    )


def write_feedback(org, goal, people, author, feedback_on, client_for):
    return client_for(author).post(
        api(org, "feedback/"), {"target_type": "goal", "target_id": str(goal.pk), "kind": "challenge", "body": "b"}
    )


def write_status(org, goal, people, author, feedback_on, client_for):
    feedback = feedback_on("goal")
    return client_for(people["goal_owner"]).patch(api(org, f"feedback/{feedback.pk}/"), {"status": "acknowledged"})


WRITES = [write_checkin, write_assessment, write_feedback, write_status]


@pytest.mark.parametrize("write", WRITES, ids=lambda w: w.__name__)
def test_every_write_owes_a_rescore(org, goal, people, author, feedback_on, client_for, write):
    OutboxMessage.objects.all().delete()

    response = write(org, goal, people, author, feedback_on, client_for)

    assert response.status_code in (200, 201), response.content
    assert pending_rescores(org).count() == 1


@pytest.mark.parametrize("write", WRITES, ids=lambda w: w.__name__)
def test_rescores_owed_coalesce(org, goal, people, author, feedback_on, client_for, write):
    OutboxMessage.objects.all().delete()

    write(org, goal, people, author, feedback_on, client_for)
    write(org, goal, people, author, feedback_on, client_for)

    assert pending_rescores(org).count() == 2
    assert {owed.dedupe_key for owed in pending_rescores(org)} == {f"rescore:{org.pk}"}, "they go out as one"


def test_a_refused_write_owes_no_rescore(org, goal, people, viewer, client_for):
    OutboxMessage.objects.all().delete()
    client = client_for(people["sibling_lead"])

    client.post(api(org, "check-ins/"), {"goal": str(goal.pk), "summary": "x", "confidence": 11})
    client.post(api(org, "assessments/"), {"team": str(goal.team_id), "alignment": 1, "confidence": 1})
    client_for(viewer).post(api(org, "feedback/"), {"target_type": "direction", "kind": "idea", "body": "b"})

    assert not OutboxMessage.objects.exists()


# --- Query counts -----------------------------------------------------------------------------

# Every list pinned at two sizes; the number must not grow with the rows listed.
# auth token + membership + count + page (+ the parent feedback for replies)
CHECK_INS_QUERIES = 3
ASSESSMENTS_QUERIES = 3
FEEDBACK_QUERIES = 3
REPLIES_QUERIES = 4
# auth token + membership + page (cursor: no count)
ACTIVITY_QUERIES = 2
# auth token + page (the inbox is not under an org)
NOTIFICATIONS_QUERIES = 2

SIZES = [3, 25]


@pytest.mark.parametrize("size", SIZES)
def test_check_ins_list_query_count(org, viewer, goal, people, client_for, django_assert_num_queries, size):
    CheckIn.objects.bulk_create(
        CheckIn(organization=org, goal=goal, author=people["lead"], summary=f"#{n}", confidence=5) for n in range(size)
    )
    client = client_for(viewer)

    with django_assert_num_queries(CHECK_INS_QUERIES):
        response = client.get(api(org, "check-ins/"))

    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", SIZES)
def test_assessments_list_query_count(org, viewer, tree, owner, client_for, django_assert_num_queries, size):
    Assessment.objects.bulk_create(
        Assessment(
            organization=org, team=tree["team"], assessor=owner, alignment=3, confidence=3, quadrant="critical",
            recommended_mode="critical",
        )
        for _ in range(size)
    )  # fmt: skip
    client = client_for(viewer)

    with django_assert_num_queries(ASSESSMENTS_QUERIES):
        response = client.get(api(org, "assessments/"))

    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", SIZES)
def test_latest_assessments_query_count(org, viewer, owner, client_for, django_assert_num_queries, size):
    for _ in range(size):
        team = TeamFactory(organization=org)
        Assessment.objects.bulk_create(
            Assessment(
                organization=org, team=team, assessor=owner, alignment=a, confidence=3, quadrant="critical",
                recommended_mode="critical",
            )
            for a in (1, 2)
        )  # fmt: skip
    client = client_for(viewer)

    with django_assert_num_queries(ASSESSMENTS_QUERIES):
        response = client.get(api(org, "assessments/"), {"latest": "true"})

    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", SIZES)
def test_feedback_list_query_count(org, viewer, author, client_for, django_assert_num_queries, size):
    for n in range(size):
        feedback = Feedback.objects.create(
            organization=org, target_type="direction", kind="idea", body=f"#{n}", author=author, anonymous=n % 2 == 0
        )
        FeedbackReply.objects.create(organization=org, feedback=feedback, author=author, body="r")
    client = client_for(viewer)

    with django_assert_num_queries(FEEDBACK_QUERIES):
        response = client.get(api(org, "feedback/"))

    results = response.json()["results"]
    assert len(results) == size


@pytest.mark.parametrize("size", SIZES)
def test_replies_list_query_count(org, viewer, author, feedback_on, client_for, django_assert_num_queries, size):
    feedback = feedback_on("direction")
    FeedbackReply.objects.bulk_create(
        FeedbackReply(organization=org, feedback=feedback, author=author, body=f"#{n}") for n in range(size)
    )
    client = client_for(viewer)

    with django_assert_num_queries(REPLIES_QUERIES):
        response = client.get(api(org, f"feedback/{feedback.pk}/replies/"))

    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", SIZES)
def test_activity_list_query_count(org, viewer, owner, client_for, django_assert_num_queries, size):
    from teams.services import api_key_create

    key, _ = api_key_create(org=org, created_by=owner, name="sync", scopes=[Scope.READINGS_WRITE])
    Activity.objects.all().delete()
    for n in range(size):
        access = Access(org=org, api_key=key) if n % 2 else Access(org=org, user=owner, role=Role.OWNER)
        activity_record(access=access, verb="x.done", subject_type="goal", subject_id=n, summary=f"#{n}")
    client = client_for(viewer)

    with django_assert_num_queries(ACTIVITY_QUERIES):
        response = client.get(api(org, "activity/"))

    results = response.json()["results"]
    assert len(results) == size
    assert {result["actor"]["type"] for result in results} == {"user", "api_key"}


@pytest.mark.parametrize("size", SIZES)
def test_notifications_list_query_count(org, other_org, member, client_for, django_assert_num_queries, size):
    for n in range(size):
        notify(
            org=org if n % 2 else other_org, recipient_ids=[member.pk], kind="k", title=f"#{n}", body="",
            subject_type="goal", subject_id=n, dedupe_key=f"k:{n}",
        )  # fmt: skip
    client = client_for(member)

    with django_assert_num_queries(NOTIFICATIONS_QUERIES):
        response = client.get("/api/v1/notifications/")

    results = response.json()["results"]
    assert len(results) == size
    assert {result["org"] for result in results} == {org.slug, other_org.slug}
