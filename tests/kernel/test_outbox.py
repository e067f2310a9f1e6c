"""The outbox: owed work is written with the change, survives a broker outage and goes out
once the broker is back, without failing or slowing the request that owed it."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from unittest.mock import ANY
from uuid import UUID

import pytest
from celery import Celery
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alignment_service.celery import app as main_app
from alignment_service.outbox import services as outbox
from alignment_service.outbox.models import OutboxMessage
from alignment_service.outbox.tasks import drain
from goals.services import RESCORE_TASK

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


@contextmanager
def broker(url: str) -> Iterator[Celery]:
    """Make a Celery app on `url` the current one (what the outbox publishes through)."""
    app = Celery("outbox-test", broker=url, set_as_current=True)
    app.conf.broker_transport_options = {"socket_connect_timeout": 1, "socket_timeout": 1, "max_retries": 0}
    app.conf.broker_connection_timeout = 1
    try:
        yield app
    finally:
        app.close()
        main_app.set_current()


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    monkeypatch.setattr(outbox, "_broker_down_until", 0.0)


def _enqueue(org, **kwargs):
    with transaction.atomic():
        outbox.outbox_enqueue(org=org, task_name="teams.send_welcome_email", kwargs=kwargs or {"x": 1})


def test_enqueue_is_part_of_the_callers_transaction(org):
    def failing_change():
        with transaction.atomic():
            outbox.outbox_enqueue(org=org, task_name="teams.send_welcome_email", kwargs={})
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert not OutboxMessage.objects.exists()


def _owe_rescore(org):
    with transaction.atomic():
        outbox.outbox_enqueue(org=org, task_name="rescore", kwargs={"org_id": str(org.pk)}, dedupe_key=str(org.pk))


@pytest.fixture
def sent(monkeypatch):
    messages = []
    monkeypatch.setattr(main_app, "send_task", lambda name, **kw: messages.append((name, kw["kwargs"])))
    return messages


def test_each_write_owes_its_own_row_and_a_group_goes_out_as_one_message(org, sent):
    for _ in range(3):
        _owe_rescore(org)
    assert OutboxMessage.objects.count() == 3
    assert outbox.outbox_dispatch_pending() == 1
    [(name, kwargs)] = sent
    assert name == "rescore"
    assert kwargs["org_id"] == str(org.pk)
    assert set(OutboxMessage.objects.values_list("dispatch_id", flat=True)) == {UUID(kwargs["outbox_dispatch"])}


def test_published_work_stays_owed_until_its_task_reports_it_done(org, sent):
    _owe_rescore(org)
    outbox.outbox_dispatch_pending()
    assert OutboxMessage.objects.get().completed_at is None
    assert outbox.outbox_dispatch_pending() == 0, "in flight: not published again within its lease"

    later = timezone.now() + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS + 1)
    assert outbox.outbox_dispatch_pending(now=later) == 1, "lost with the broker or a dead worker: published again"
    first, second = (UUID(kwargs["outbox_dispatch"]) for _, kwargs in sent)
    assert first != second
    assert OutboxMessage.objects.get().attempts == 2


def test_each_attempt_doubles_the_lease(org, sent):
    _owe_rescore(org)
    now = timezone.now()
    outbox.outbox_dispatch_pending(now=now)
    outbox.outbox_dispatch_pending(now=now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS + 1))
    message = OutboxMessage.objects.get()
    expected = now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS * 3 + 1)
    assert abs((message.next_attempt_at - expected).total_seconds()) < 1


def test_work_owed_while_its_group_is_in_flight_waits_and_goes_out_when_that_is_done(org, sent):
    _owe_rescore(org)
    outbox.outbox_dispatch_pending()
    _owe_rescore(org)
    assert outbox.outbox_dispatch_pending() == 0, "the running rescore may have started before this write"
    first = sent[0][1]["outbox_dispatch"]

    with transaction.atomic():
        assert outbox.outbox_complete(dispatch_id=first) == 1
    assert OutboxMessage.objects.filter(completed_at__isnull=True).count() == 1, "only the rows it was sent for"
    assert outbox.outbox_dispatch_pending() == 1
    assert len(sent) == 2


def test_completing_kicks_the_rest_of_the_group(org, sent, django_capture_on_commit_callbacks):
    _owe_rescore(org)
    outbox.outbox_dispatch_pending()
    _owe_rescore(org)
    with django_capture_on_commit_callbacks(execute=True):
        outbox.outbox_complete(dispatch_id=sent[0][1]["outbox_dispatch"])
    assert len(sent) == 2


def test_rows_without_a_dedupe_key_go_out_one_by_one(org, sent):
    _enqueue(org, membership_id="m1")
    _enqueue(org, membership_id="m2")
    assert outbox.outbox_dispatch_pending() == 2
    assert [kwargs["membership_id"] for _, kwargs in sent] == ["m1", "m2"]


def test_a_group_in_flight_does_not_hold_back_other_work(org, sent):
    for _ in range(5):
        _owe_rescore(org)
    outbox.outbox_dispatch_pending()
    for _ in range(5):
        _owe_rescore(org)
    _enqueue(org, membership_id="m1")
    assert outbox.outbox_dispatch_pending(batch_size=3) == 1
    assert sent[-1] == ("teams.send_welcome_email", {"membership_id": "m1", "outbox_dispatch": ANY})


def test_kick_runs_after_commit(org, django_capture_on_commit_callbacks, sent):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _enqueue(org, membership_id="m1")
    assert sent == []
    assert callbacks == [outbox.outbox_kick]
    for callback in callbacks:
        callback()
    assert sent == [("teams.send_welcome_email", {"membership_id": "m1", "outbox_dispatch": ANY})]
    assert OutboxMessage.objects.get().dispatched_at is not None


def test_broker_down_leaves_rows_pending_with_the_error(org):
    _enqueue(org)
    with broker(UNREACHABLE_BROKER):
        assert outbox.outbox_dispatch_pending() == 0
    message = OutboxMessage.objects.get()
    assert message.dispatched_at is None
    assert message.attempts == 1
    assert message.last_error


def test_kick_swallows_broker_errors_and_backs_off(org, monkeypatch):
    calls = []

    def failing_send(*args, **kwargs):
        calls.append(1)
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(main_app, "send_task", failing_send)
    _enqueue(org)
    outbox.outbox_kick()
    outbox.outbox_kick()
    assert len(calls) == 1, "a second kick within the back-off must not touch the broker"
    assert OutboxMessage.objects.get().dispatched_at is None


def test_write_succeeds_with_broker_down_and_work_goes_out_once_it_is_back(
    org, owner, client_for, django_capture_on_commit_callbacks, monkeypatch
):
    client = client_for(owner)
    body = {"title": "Grow", "starts_on": "2026-01-01", "due_on": "2026-12-31"}
    with broker(UNREACHABLE_BROKER), django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/orgs/{org.slug}/goals/", body, format="json")
    assert response.status_code == 201
    message = OutboxMessage.objects.get(task_name=RESCORE_TASK)
    assert message.dispatched_at is None

    sent = []
    monkeypatch.setattr(main_app, "send_task", lambda name, **kw: sent.append((name, kw["kwargs"])))
    monkeypatch.setattr(outbox, "_broker_down_until", 0.0)
    assert drain() >= 1
    assert (RESCORE_TASK, {"org_id": str(org.pk), "outbox_dispatch": ANY}) in sent
    message.refresh_from_db()
    assert message.dispatched_at is not None
    assert drain() == 0, "published work is not published again within its lease"


@pytest.mark.redis
def test_work_owed_during_an_outage_reaches_real_redis_afterwards(org):
    import redis

    _enqueue(org, membership_id="m1")
    with broker(UNREACHABLE_BROKER):
        assert outbox.outbox_dispatch_pending() == 0
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("outbox-test-queue")
    with broker(settings.REDIS_URL) as app:
        app.conf.task_default_queue = "outbox-test-queue"
        assert outbox.outbox_dispatch_pending() == 1
    assert client.llen("outbox-test-queue") == 1
    client.delete("outbox-test-queue")


def test_purge_keeps_owed_and_recently_done_rows(org):
    for _ in range(3):
        _enqueue(org)
    old, recent, pending = OutboxMessage.objects.order_by("id")
    long_ago = timezone.now() - timedelta(days=settings.OUTBOX_RETENTION_DAYS + 1)
    OutboxMessage.objects.filter(pk=old.pk).update(completed_at=long_ago)
    OutboxMessage.objects.filter(pk=recent.pk).update(completed_at=timezone.now())
    assert outbox.outbox_purge() == 1
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {recent.pk, pending.pk}


def test_lag_is_the_age_of_the_oldest_pending_row(org):
    assert outbox.outbox_lag_seconds() == 0.0
    _enqueue(org)
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(seconds=90))
    assert 89 <= outbox.outbox_lag_seconds() <= 120


# --- Tasks run through the outbox ------------------------------------------------------------


class Flaky(Exception):
    pass


calls: list[dict] = []


@outbox.owed_task(name="tests.owed_work", retry_on=(Flaky,))
def owed_work(**kwargs):
    calls.append(kwargs)
    if kwargs.get("fail"):
        raise (Flaky if kwargs["fail"] == "flaky" else ValueError)("no")
    return "done"


def _dispatched(org, sent, **kwargs):
    with transaction.atomic():
        outbox.outbox_enqueue(org=org, task_name="tests.owed_work", kwargs=kwargs)
    outbox.outbox_dispatch_pending()
    return sent[-1][1]


def test_an_owed_task_completes_its_rows_when_it_returns(org, sent):
    calls.clear()
    kwargs = _dispatched(org, sent, x=1)
    assert owed_work(**kwargs) == "done"
    assert calls == [{"x": 1}], "the task sees its own arguments only"
    assert OutboxMessage.objects.get().completed_at is not None


def test_an_owed_task_that_fails_leaves_its_rows_owed(org, sent):
    kwargs = _dispatched(org, sent, fail="bug")
    with pytest.raises(ValueError, match="no"):
        owed_work(**kwargs)
    assert OutboxMessage.objects.get().completed_at is None


def test_an_owed_task_retries_what_it_is_told_to_with_backoff(org, sent, monkeypatch):
    retried = []
    monkeypatch.setattr(owed_work, "retry", lambda exc, countdown: retried.append(countdown) or exc)
    kwargs = _dispatched(org, sent, fail="flaky")
    with pytest.raises(Flaky):
        owed_work(**kwargs)
    assert len(retried) == 1
    assert 0 <= retried[0] <= 0.5
    assert OutboxMessage.objects.get().completed_at is None
