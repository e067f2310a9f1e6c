"""Delivering webhooks against a real HTTP receiver on 127.0.0.1: Standard Webhooks signatures,
the retry schedule held in the database, redirects, 410, timeouts, leases and disabling."""

import base64
import json
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone as dj_timezone
from standardwebhooks import Webhook, WebhookVerificationError

from alignment_service.access import Role
from alignment_service.notifications import delivery as http_delivery
from alignment_service.notifications import dispatch, webhook_endpoints, webhooks
from alignment_service.notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from alignment_service.notifications.tasks import webhooks_deliver
from tests.notifications.support import deliver, emit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_private")]

T0 = datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)


def only_delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.get()


def test_a_delivery_is_signed_per_standard_webhooks_and_verifies(org, receiver, make_endpoint):
    endpoint = make_endpoint(receiver.url)
    emit(org, "checkin.created", {"id": "c1", "confidence": 7}, key="checkin:c1")

    assert deliver() == 1

    (request,) = receiver.requests
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload["type"] == "checkin.created"
    assert payload["data"] == {"id": "c1", "confidence": 7}
    assert datetime.fromisoformat(payload["timestamp"]).utcoffset() == timedelta(0)
    assert request.path == "/hooks/alignment?source=test"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("AlignmentService-Webhooks/")
    assert request.headers["webhook-signature"].startswith("v1,")
    delivery = only_delivery()
    assert request.headers["webhook-id"] == delivery.event_id
    assert delivery.event_id.startswith("evt_")
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 1, 200)
    assert delivery.next_attempt_at is None


def test_a_wrong_secret_does_not_verify(org, receiver, make_endpoint):
    make_endpoint(receiver.url)
    emit(org)
    deliver()
    (request,) = receiver.requests
    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_endpoints.webhook_secret_new()).verify(request.body, request.headers)


def test_the_timestamp_header_is_the_utc_instant_of_the_attempt(org, receiver, make_endpoint):
    endpoint = make_endpoint(receiver.url)
    with time_machine.travel(T0, tick=False):
        emit(org)
        deliver()
        (request,) = receiver.requests
        assert request.headers["webhook-timestamp"] == str(int(T0.timestamp()))
        Webhook(endpoint.secret).verify(request.body, request.headers)


def test_a_non_utc_datetime_is_signed_as_the_same_instant():
    """The library replaces tzinfo with UTC; `signed_headers` converts first, so +05:00 signs right."""
    secret = webhook_endpoints.webhook_secret_new()
    local = T0.astimezone(timezone(timedelta(hours=5)))
    headers = http_delivery.signed_headers(secret=secret, event_id="evt_1", body="{}", now=local)
    assert headers["webhook-timestamp"] == str(int(T0.timestamp()))
    assert headers["webhook-signature"] == Webhook(secret).sign("evt_1", T0, "{}")
    with time_machine.travel(T0, tick=False):
        Webhook(secret).verify("{}", headers)


def test_secrets_are_whsec_and_32_random_bytes():
    secret = webhook_endpoints.webhook_secret_new()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != webhook_endpoints.webhook_secret_new()


def test_a_500_schedules_every_retry_per_the_schedule_with_jitter(org, owner, admin, member, receiver, make_endpoint):
    endpoint = make_endpoint(receiver.url)
    receiver.status = 500
    with time_machine.travel(T0, tick=False) as clock:
        emit(org)
        for attempt, delay in enumerate(dispatch.RETRY_DELAYS_SECONDS[1:], start=1):
            assert deliver() == 1
            delivery = only_delivery()
            assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", attempt, 500)
            assert delivery.last_error == "HTTP 500."
            wait = (delivery.next_attempt_at - dj_timezone.now()).total_seconds()
            assert delay * 0.9 <= wait <= delay * 1.1, (attempt, wait)
            assert deliver() == 0, "nothing is due before next_attempt_at"
            clock.move_to(delivery.next_attempt_at)
        assert deliver() == 1

    delivery = only_delivery()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 8, None)
    assert len(receiver.requests) == 8
    assert {r.headers["webhook-id"] for r in receiver.requests} == {delivery.event_id}
    endpoint.refresh_from_db()
    assert endpoint.active is False
    assert endpoint.disabled_at is not None
    assert "failed 8 times" in endpoint.disabled_reason
    assert endpoint.consecutive_failures == 8
    notified = Notification.objects.filter(kind="webhook.disabled")
    assert sorted(n.recipient_id for n in notified) == sorted([owner.pk, admin.pk])
    assert member.pk not in {n.recipient_id for n in notified}


def test_the_schedule_spans_more_than_a_day():
    total = sum(dispatch.RETRY_DELAYS_SECONDS)
    assert total * 0.9 > 24 * 3600
    assert dispatch.next_delay(len(dispatch.RETRY_DELAYS_SECONDS)) is None


def test_a_disabled_endpoint_notifies_admins_once(org, owner, receiver, make_endpoint):
    endpoint = make_endpoint(receiver.url)
    receiver.status = 500
    emit(org, key="a")
    emit(org, key="b")
    WebhookDelivery.objects.update(attempts=7)  # both on their last attempt
    deliver()
    assert WebhookDelivery.objects.filter(status="failed").count() == 2
    assert Notification.objects.filter(kind="webhook.disabled", recipient=owner).count() == 1
    endpoint.refresh_from_db()
    assert not endpoint.active


def test_a_redirect_is_not_followed_and_counts_as_a_failure(org, receiver, make_endpoint):
    make_endpoint(receiver.url)
    receiver.status = 302
    receiver.headers = {"Location": f"http://127.0.0.1:{receiver.port}/elsewhere"}
    emit(org)
    deliver()
    assert [r.path for r in receiver.requests] == ["/hooks/alignment?source=test"]
    delivery = only_delivery()
    assert (delivery.status, delivery.response_status) == ("pending", 302)
    assert "redirects are not followed" in delivery.last_error


def test_410_gone_disables_the_endpoint_at_once(org, owner, receiver, make_endpoint):
    endpoint = make_endpoint(receiver.url)
    receiver.status = 410
    emit(org, key="a")
    deliver()
    delivery = only_delivery()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 1, 410)
    endpoint.refresh_from_db()
    assert endpoint.active is False
    assert endpoint.disabled_reason == "The receiver answered 410 Gone."
    assert Notification.objects.filter(kind="webhook.disabled", recipient=owner).count() == 1
    assert emit(org, key="b") == 0, "a disabled endpoint is owed nothing new"


def test_a_timeout_counts_as_a_failure(org, receiver, make_endpoint, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    make_endpoint(receiver.url)
    receiver.delay = 1.5
    emit(org)
    deliver()
    delivery = only_delivery()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, None)
    assert delivery.last_error == "Timed out after 0.3 s."


def test_a_refused_connection_counts_as_a_failure(org, make_endpoint, receiver):
    make_endpoint(receiver.url.replace(str(receiver.port), "1"))
    emit(org)
    deliver()
    delivery = only_delivery()
    assert delivery.status == "pending"
    assert delivery.last_error.startswith("Connection failed")


def test_a_success_resets_the_failure_count(org, receiver, make_endpoint):
    endpoint = make_endpoint(receiver.url, consecutive_failures=3)
    emit(org)
    deliver()
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


def test_running_the_job_again_never_resends_a_succeeded_delivery(org, receiver, make_endpoint):
    make_endpoint(receiver.url)
    emit(org)
    assert webhooks_deliver() == 1
    assert webhooks_deliver() == 0
    assert deliver() == 0
    assert len(receiver.requests) == 1


def test_the_same_event_emitted_twice_is_delivered_once(org, receiver, make_endpoint):
    make_endpoint(receiver.url)
    assert emit(org, key="same") == 1
    assert emit(org, key="same") == 1
    assert WebhookDelivery.objects.count() == 1
    deliver()
    assert len(receiver.requests) == 1


def test_event_ids_are_stable_across_retries_and_redelivery(org, owner_access, receiver, make_endpoint):
    make_endpoint(receiver.url)
    receiver.status = 503
    with time_machine.travel(T0, tick=False) as clock:
        emit(org)
        deliver()
        clock.move_to(only_delivery().next_attempt_at)
        receiver.status = 200
        deliver()
        webhook_endpoints.webhook_redeliver(access=owner_access, delivery=only_delivery())
        deliver()
    delivery = only_delivery()
    assert delivery.status == "succeeded"
    assert delivery.attempts == 3
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.event_id] * 3
    bodies = {json.loads(r.body)["timestamp"] for r in receiver.requests}
    assert len(bodies) == 1, "the payload is frozen at emit time"


def test_a_redelivery_restarts_the_retry_schedule(org, owner_access, receiver, make_endpoint):
    make_endpoint(receiver.url)
    receiver.status = 500
    emit(org)
    WebhookDelivery.objects.update(attempts=7)
    deliver()
    assert only_delivery().status == "failed"
    WebhookEndpoint.objects.update(active=True)
    webhook_endpoints.webhook_redeliver(access=owner_access, delivery=only_delivery())
    deliver()
    delivery = only_delivery()
    assert (delivery.status, delivery.attempts) == ("pending", 9), "one failure after a redelivery is not the last"


def test_a_delivering_row_whose_lease_expired_is_retried(org, receiver, make_endpoint, settings):
    make_endpoint(receiver.url)
    emit(org, key="abandoned")
    emit(org, key="in-flight")
    now = dj_timezone.now()
    lease = settings.WEBHOOK_TIMEOUT_SECONDS + dispatch.LEASE_GRACE_SECONDS
    abandoned = WebhookDelivery.objects.get(
        event_id=webhooks.event_id_for(org=org, event_type="goal.created", event_key="abandoned")
    )
    in_flight = WebhookDelivery.objects.exclude(pk=abandoned.pk).get()
    WebhookDelivery.objects.filter(pk=abandoned.pk).update(
        status="delivering", attempts=1, last_attempt_at=now - timedelta(seconds=lease + 1), next_attempt_at=None
    )
    WebhookDelivery.objects.filter(pk=in_flight.pk).update(
        status="delivering", attempts=1, last_attempt_at=now - timedelta(seconds=5), next_attempt_at=None
    )

    assert deliver() == 1

    abandoned.refresh_from_db()
    in_flight.refresh_from_db()
    assert (abandoned.status, abandoned.attempts) == ("succeeded", 2)
    assert in_flight.status == "delivering", "a live lease is left to its worker"
    assert [r.headers["webhook-id"] for r in receiver.requests] == [abandoned.event_id]


def test_a_stale_worker_does_not_overwrite_a_reclaimed_delivery(org, make_endpoint):
    make_endpoint()
    emit(org)
    (claim,) = dispatch._claim_due(limit=10)
    WebhookDelivery.objects.update(attempts=claim.attempts + 1)  # another worker took it over
    assert dispatch._record(claim, http_delivery.AttemptResult(succeeded=True, response_status=200)) is None
    assert only_delivery().status == "delivering"


def test_deliveries_to_an_inactive_endpoint_are_not_sent(org, receiver, make_endpoint):
    endpoint = make_endpoint(receiver.url)
    emit(org)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
    deliver()
    assert receiver.requests == []
    delivery = only_delivery()
    assert delivery.status == "failed"
    assert delivery.last_error == "Not sent: the endpoint is inactive."


def test_many_endpoints_are_delivered_in_parallel_batches(org, receiver, make_endpoint, settings):
    settings.WEBHOOK_DELIVERY_BATCH_SIZE = 4
    for _ in range(10):
        make_endpoint(receiver.url)
    emit(org)
    assert deliver() == 10
    assert WebhookDelivery.objects.filter(status="succeeded").count() == 10
    assert len(receiver.requests) == 10


def test_an_unexpected_error_while_sending_is_recorded_not_stranded(org, make_endpoint, monkeypatch):
    make_endpoint()

    def boom(**_):
        raise RuntimeError("bug")

    monkeypatch.setattr(http_delivery, "attempt", boom)
    emit(org)
    deliver()
    delivery = only_delivery()
    assert (delivery.status, delivery.last_error) == ("pending", "Internal error while sending.")


def test_admins_are_the_ones_notified(org, member_of, receiver, make_endpoint):
    make_endpoint(receiver.url)
    viewer = member_of(org, Role.VIEWER)
    receiver.status = 410
    emit(org)
    deliver()
    assert not Notification.objects.filter(recipient=viewer).exists()


def test_a_receiver_trickling_its_answer_is_cut_at_the_deadline(org, receiver, make_endpoint, settings):
    """Each byte arrives well within the socket timeout; the attempt as a whole may not exceed it."""
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    make_endpoint(receiver.url)
    receiver.trickle = 0.1
    emit(org)
    started = time.monotonic()
    deliver()
    assert time.monotonic() - started < 1.5
    delivery = only_delivery()
    assert (delivery.status, delivery.last_error) == ("pending", "Timed out after 0.5 s.")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_claim_disjoint_deliveries(org, make_endpoint):
    """Rows another worker holds are skipped (SKIP LOCKED), not waited for nor claimed twice."""
    for _ in range(6):
        make_endpoint()
    emit(org)
    held: list = []
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        try:
            with transaction.atomic():
                rows = WebhookDelivery.objects.select_for_update(skip_locked=True).order_by("id")[:3]
                held.extend(row.pk for row in rows)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    assert locked.wait(10)
    try:
        claims = dispatch._claim_due(limit=10)
    finally:
        release.set()
        thread.join()
    assert len(held) == 3
    assert len(claims) == 3
    assert {claim.delivery_id for claim in claims}.isdisjoint(held)
