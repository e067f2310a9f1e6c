"""`Idempotency-Key` on reading batches: a retry replays the answer, another body is a 422, a
running claim is a 409 until it expires, keys are scoped to the credential and the org."""

import datetime
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from alignment_service.access import Role, Scope
from alignment_service.idempotency.models import IdempotencyRecord
from alignment_service.idempotency.services import request_fingerprint
from goals.models import Reading
from tests.factories import GoalFactory, MembershipFactory, MetricFactory
from tests.goals.readings_support import BATCH_URL, iso, item, readings_url
from tests.goals.support import api

# --- Idempotency-Key --------------------------------------------------------------------------

BODY = {"readings": [item("dau", 5, "2026-02-01T00:00:00Z"), item("dau", 6, "2026-02-02T00:00:00Z")]}


def post_batch(client, org, body=BODY, key="batch-0001"):
    return client.post(api(org, BATCH_URL), body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_retry_with_the_same_key_and_body_replays_the_answer(org, metric, writer, count_rows):
    first = post_batch(writer, org)
    assert first.status_code == 200, first.content
    assert first.json() == {"created": 2, "updated": 0}
    assert "Idempotent-Replayed" not in first
    stamps = list(Reading.objects.order_by("id").values_list("updated_at", flat=True))
    before = count_rows()

    retry = post_batch(writer, org)
    assert retry.status_code == 200
    assert retry.json() == {"created": 2, "updated": 0}
    assert retry["Idempotent-Replayed"] == "true"
    assert count_rows() == before
    assert list(Reading.objects.order_by("id").values_list("updated_at", flat=True)) == stamps


def test_without_a_key_a_retry_runs_again(org, metric, writer):
    writer.post(api(org, BATCH_URL), BODY, format="json")
    again = writer.post(api(org, BATCH_URL), BODY, format="json")
    assert again.json() == {"created": 0, "updated": 2}
    assert "Idempotent-Replayed" not in again
    assert not IdempotencyRecord.objects.exists()


def test_the_same_key_with_another_body_is_a_422(org, metric, writer, count_rows):
    post_batch(writer, org)
    before = count_rows()
    other = {"readings": [item("dau", 99, "2026-02-01T00:00:00Z")]}
    response = post_batch(writer, org, other)
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["code"] == "idempotency_key_reused"
    assert count_rows() == before
    assert Reading.objects.get(observed_at="2026-02-01T00:00:00Z").value == 5


def test_a_refused_batch_is_not_stored_so_a_corrected_retry_runs(org, metric, writer):
    bad = {"readings": [item("dau", "five", "2026-02-01T00:00:00Z")]}
    assert post_batch(writer, org, bad).status_code == 400
    assert not IdempotencyRecord.objects.exists()
    assert post_batch(writer, org, bad).status_code == 400

    corrected = post_batch(writer, org)
    assert corrected.status_code == 200, corrected.content
    assert "Idempotent-Replayed" not in corrected
    assert Reading.objects.count() == 2


def test_keys_are_scoped_to_the_credential(org, metric, writer, key_client_for, client_for, admin):
    post_batch(writer, org)
    for client in (key_client_for(org, scopes=(Scope.READINGS_WRITE,)), client_for(admin)):
        response = post_batch(client, org)
        assert response.status_code == 200, response.content
        assert response.json() == {"created": 0, "updated": 2}
        assert "Idempotent-Replayed" not in response
    assert IdempotencyRecord.objects.count() == 3


def test_keys_are_scoped_to_the_org(org, other_org, metric, member, client_for):
    MetricFactory(goal=GoalFactory(organization=other_org), key="dau")
    MembershipFactory(organization=other_org, user=member, role=Role.MEMBER)
    client = client_for(member)
    assert post_batch(client, org).json() == {"created": 2, "updated": 0}
    elsewhere = post_batch(client, other_org)
    assert elsewhere.json() == {"created": 2, "updated": 0}
    assert "Idempotent-Replayed" not in elsewhere


def _claim(org, member, body=BODY, key="batch-0001", **fields):
    return IdempotencyRecord.objects.create(
        organization=org, credential=f"user:{member.pk}", key=key, request_hash=request_fingerprint(body), **fields
    )


def test_a_retry_while_the_first_is_running_is_a_409(org, metric, member, writer):
    _claim(org, member)
    response = post_batch(writer, org)
    assert response.status_code == 409, response.content
    assert response.json()["errors"][0]["code"] == "idempotency_in_progress"
    assert not Reading.objects.exists()


def test_a_running_claim_with_another_body_is_a_422(org, metric, member, writer):
    _claim(org, member, body={"readings": []})
    assert post_batch(writer, org).status_code == 422


def test_an_abandoned_claim_expires(org, metric, member, writer, settings):
    _claim(org, member, created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_STALE_SECONDS + 5))
    response = post_batch(writer, org)
    assert response.status_code == 200, response.content
    assert "Idempotent-Replayed" not in response
    assert Reading.objects.count() == 2


def test_a_stored_answer_is_kept_for_a_day(org, metric, member, writer, settings):
    _claim(org, member, response_status=200, response_body={"created": 7, "updated": 0})
    kept = post_batch(writer, org)
    assert (kept.json(), kept["Idempotent-Replayed"]) == ({"created": 7, "updated": 0}, "true")

    IdempotencyRecord.objects.update(
        created_at=timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS, seconds=1)
    )
    expired = post_batch(writer, org)
    assert expired.json() == {"created": 2, "updated": 0}
    assert "Idempotent-Replayed" not in expired


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_execute_once(org, metric, member, client_for):
    readings = [
        item("dau", n, iso(datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC) + timedelta(hours=n)))
        for n in range(2_000)
    ]
    body = {"readings": readings}
    clients = [client_for(member), client_for(member)]
    barrier = threading.Barrier(len(clients))
    responses: list = [None] * len(clients)

    def send(index):
        try:
            barrier.wait(timeout=10)
            responses[index] = post_batch(clients[index], org, body, key="concurrent")
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    fresh = [r for r in responses if r.status_code == 200 and "Idempotent-Replayed" not in r]
    others = [r for r in responses if r not in fresh]
    assert len(fresh) == 1, [(r.status_code, r.content[:200]) for r in responses]
    assert fresh[0].json() == {"created": 2_000, "updated": 0}
    [other] = others
    assert other.status_code in (200, 409), other.content
    if other.status_code == 200:
        assert other["Idempotent-Replayed"] == "true"
        assert other.json() == fresh[0].json()
    else:
        assert other.json()["errors"][0]["code"] == "idempotency_in_progress"
    assert Reading.objects.count() == 2_000
    assert IdempotencyRecord.objects.get().response_status == 200


def test_the_horizon_and_its_message_follow_the_setting_one_at_a_time_and_in_batches(org, metric, writer, settings):
    settings.READING_MAX_FUTURE_SECONDS = 60
    ahead = iso(timezone.now() + timedelta(minutes=2))
    one = writer.post(readings_url(org, metric), {"value": 1, "observed_at": ahead}, format="json")
    batch = writer.post(api(org, BATCH_URL), {"readings": [item("dau", observed_at=ahead)]}, format="json")
    assert [error["detail"] for error in one.json()["errors"]] == ["Must not be more than 1 minute in the future."]
    assert [error["detail"] for error in batch.json()["errors"]] == ["Must not be more than 1 minute in the future."]
