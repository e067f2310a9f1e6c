"""Webhook receivers that misbehave, on real servers on 127.0.0.1: each outcome is recorded
right, and slow or dead receivers never delay a healthy one nor the scoring worker's queue."""

import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from alignment_service.celery import app as celery_app
from alignment_service.notifications import dispatch
from alignment_service.notifications.models import WebhookDelivery
from tests.notifications.support import deliver, emit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_private")]

TIMEOUT = 1.0
#: The deadline in the tests that time a healthy delivery beside hanging ones: long enough that
#: waiting for a hanging receiver cannot pass for not waiting, on a busy machine too.
SLOW_TIMEOUT = 3.0
HEALTHY_WITHIN = 1.5


@pytest.fixture(autouse=True)
def _short_deadline(settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = TIMEOUT


@pytest.fixture
def recorded_at(monkeypatch):
    """When each delivery's outcome was stored, by endpoint id (seconds on the monotonic clock)."""
    times: dict = {}
    record = dispatch._record

    def timed(claim, result):
        status = record(claim, result)
        times[claim.endpoint_id] = time.monotonic()
        if claim.endpoint_id in times.get("then", {}):
            times["then"][claim.endpoint_id]()
        return status

    monkeypatch.setattr(dispatch, "_record", timed)
    return times


# Each misbehaviour, and what the delivery and its endpoint look like after one attempt.
OUTCOMES = [
    ("healthy", {}, ("succeeded", 200, ""), True),
    ("hang", {"mode": "hang"}, ("pending", None, "Timed out after 1 s."), True),
    ("500", {"status": 500}, ("pending", 500, "HTTP 500."), True),
    ("redirect", {"status": 307, "headers": {"Location": "http://127.0.0.1:1/"}}, ("pending", 307, "redirects"), True),
    ("gone", {"status": 410}, ("failed", 410, "HTTP 410 Gone."), False),
    ("reset", {"mode": "reset"}, ("pending", None, "Connection failed: Connection reset by peer."), True),
    ("cut_short", {"mode": "cut_short"}, ("pending", 200, "body was cut short after 10 bytes"), True),
    ("trickle_headers", {"trickle": 0.1}, ("pending", None, "Timed out after 1 s."), True),
    ("trickle_body", {"mode": "trickle_body"}, ("pending", None, "Timed out after 1 s."), True),
    ("endless_body", {"mode": "endless_body"}, ("succeeded", 200, ""), True),
]


def test_every_misbehaving_receiver_gets_its_outcome_in_one_run(org, make_receiver, make_endpoint):
    endpoints = {name: make_endpoint(make_receiver(**fields).url) for name, fields, _, _ in OUTCOMES}
    emit(org)

    started = time.monotonic()
    assert deliver() == len(OUTCOMES)
    elapsed = time.monotonic() - started

    assert elapsed < TIMEOUT + 1.5, "the attempts ran side by side, each within its deadline"
    for name, _, (status, response_status, error), active in OUTCOMES:
        row = WebhookDelivery.objects.select_related("endpoint").get(endpoint=endpoints[name])
        assert (row.status, row.attempts, row.response_status) == (status, 1, response_status), name
        assert error in row.last_error, (name, row.last_error)
        assert row.endpoint.active is active, name
        if status == "pending":
            wait = (row.next_attempt_at - timezone.now()).total_seconds()
            assert 3 < wait < 6, (name, "retried after the first backoff step, 5 s ± 10 %")


def test_a_retried_delivery_keeps_its_webhook_id(org, make_receiver, make_endpoint):
    flaky = make_receiver(mode="cut_short")
    make_endpoint(flaky.url)
    emit(org)
    deliver()
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    flaky.mode = ""
    deliver()
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts) == ("succeeded", 2)
    assert [request.headers["webhook-id"] for request in flaky.requests] == [row.event_id] * 2


def test_a_healthy_receiver_is_not_delayed_by_sixteen_hanging_ones(
    org, make_receiver, make_endpoint, recorded_at, settings
):
    settings.WEBHOOK_TIMEOUT_SECONDS = SLOW_TIMEOUT
    for _ in range(16):
        make_endpoint(make_receiver(mode="hang").url)
    healthy = make_endpoint(make_receiver().url)
    emit(org)

    started = time.monotonic()
    assert deliver() == 17
    finished = time.monotonic() - started

    healthy_latency = recorded_at[healthy.pk] - started
    assert healthy_latency < HEALTHY_WITHIN, f"healthy delivery stored after {healthy_latency:.2f} s"
    assert WebhookDelivery.objects.get(endpoint=healthy).status == "succeeded"
    assert WebhookDelivery.objects.filter(status="pending", last_error="Timed out after 3 s.").count() == 16
    assert SLOW_TIMEOUT <= finished < SLOW_TIMEOUT + 1.5


def test_failing_endpoints_share_half_the_slots(org, make_receiver, make_endpoint, recorded_at, settings):
    """Endpoints whose last attempt failed may not take the slots healthy endpoints need."""
    settings.WEBHOOK_DELIVERY_CONCURRENCY = 4
    settings.WEBHOOK_TIMEOUT_SECONDS = SLOW_TIMEOUT
    hanging = make_receiver(mode="hang")
    for _ in range(4):
        make_endpoint(hanging.url, consecutive_failures=3)
    healthy = make_endpoint(make_receiver().url)
    emit(org)
    recorded_at["then"] = {healthy.pk: hanging.released.set}  # then stop hanging: the test is decided

    started = time.monotonic()
    assert deliver() == 5

    assert recorded_at[healthy.pk] - started < HEALTHY_WITHIN
    assert hanging.max_in_flight == 2, "half of the 4 slots"


def test_one_endpoint_has_at_most_two_attempts_running(org, make_receiver, make_endpoint, recorded_at, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = SLOW_TIMEOUT
    hanging = make_receiver(mode="hang")
    slow = make_endpoint(hanging.url)
    healthy = make_endpoint(make_receiver().url)
    for n in range(4):
        emit(org, key=f"event-{n}")
    recorded_at["then"] = {healthy.pk: hanging.released.set}

    started = time.monotonic()
    assert deliver() == 8

    assert hanging.max_in_flight == 2
    assert WebhookDelivery.objects.filter(endpoint=slow, attempts=1).count() == 4
    assert recorded_at[healthy.pk] - started < HEALTHY_WITHIN, "the healthy endpoint's went first"


def test_a_run_past_its_time_budget_hands_new_work_to_a_fresh_run(org, make_receiver, make_endpoint, monkeypatch):
    published = []
    monkeypatch.setattr(dispatch.current_app, "send_task", lambda name, **options: published.append(name))
    make_endpoint(make_receiver(mode="hang").url)
    for n in range(4):
        emit(org, key=f"event-{n}")

    started = time.monotonic()
    assert dispatch.webhooks_deliver_due(max_seconds=0.0) == 2, "it finishes what it claimed first, no more"

    assert time.monotonic() - started < TIMEOUT + 0.5
    assert WebhookDelivery.objects.filter(status="pending", attempts=0).count() == 2, "left to the fresh run"
    assert published == ["webhooks.deliver_due"]


def test_a_run_that_ends_idle_hands_nothing_on(org, receiver, make_endpoint, monkeypatch):
    published = []
    monkeypatch.setattr(dispatch.current_app, "send_task", lambda name, **options: published.append(name))
    make_endpoint(receiver.url)
    emit(org)
    assert dispatch.webhooks_deliver_due(max_seconds=0.0) == 1
    assert published == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_event_emitted_while_slow_receivers_hang_is_delivered_at_once(org, make_receiver, make_endpoint, settings):
    """The realistic case: sixteen receivers hang in a running dispatch, each with a backlog
    that must wait (one attempt per endpoint at a time), and one slot is left. Then a healthy
    endpoint's event is committed: the running dispatch gives it that slot at once, instead of
    looking only at the oldest due deliveries, which are all blocked."""
    settings.WEBHOOK_TIMEOUT_SECONDS = 3.0
    settings.WEBHOOK_DELIVERY_PER_ENDPOINT = 1
    settings.WEBHOOK_DELIVERY_CONCURRENCY = 17
    hanging = [make_receiver(mode="hang") for _ in range(16)]
    for receiver in hanging:
        make_endpoint(receiver.url, events=["goal.created"])
    emit(org, "goal.created", key="first")
    emit(org, "goal.created", key="backlog")
    healthy_receiver = make_receiver()
    healthy = make_endpoint(healthy_receiver.url, events=["checkin.created"])

    dispatch = threading.Thread(target=_deliver_then_close)
    dispatch.start()
    try:
        deadline = time.monotonic() + 5
        while sum(len(r.requests) for r in hanging) < 16 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert all(r.in_flight == 1 for r in hanging), "all sixteen are hanging"
        emitted = time.monotonic()
        emit(org, "checkin.created", key="while-hanging")
        while not WebhookDelivery.objects.filter(endpoint=healthy, status="succeeded").exists():
            assert time.monotonic() - emitted < HEALTHY_WITHIN, "the healthy delivery waited for the hanging ones"
            time.sleep(0.02)
        latency = time.monotonic() - emitted
    finally:
        for receiver in hanging:
            receiver.released.set()  # decided: let the backlog's attempts end at once
        dispatch.join(15)
    assert latency < HEALTHY_WITHIN
    assert len(healthy_receiver.requests) == 1
    assert WebhookDelivery.objects.filter(status="succeeded").count() == 1, "no hanging receiver counts as delivered"
    assert WebhookDelivery.objects.filter(attempts=1).count() == 33, "and the backlog was attempted once each"


def _deliver_then_close() -> None:
    try:
        deliver()
    finally:
        connection.close()


def test_deliveries_have_their_own_queue_apart_from_scoring():
    router = celery_app.amqp.router
    assert router.route({}, "webhooks.deliver_due")["queue"].name == "webhooks"
    for scoring in ("feedback.rescore_org", "feedback.run_score_job"):
        assert router.route({}, scoring)["queue"].name == celery_app.conf.task_default_queue
    assert router.route({}, "outbox.drain")["queue"].name == "outbox", "the drain never waits behind the work it owes"
