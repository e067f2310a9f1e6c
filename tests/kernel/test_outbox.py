"""The outbox: owed work is written with the change, survives a broker outage and goes out
once the broker is back, without failing or slowing the request that owed it."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from celery import Celery
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alignment_service.celery import app as main_app
from alignment_service.outbox import services as outbox
from alignment_service.outbox.models import OutboxMessage
from alignment_service.outbox.tasks import drain
from tests.factories import UserFactory

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


def test_pending_work_with_the_same_dedupe_key_coalesces(org):
    for _ in range(3):
        with transaction.atomic():
            outbox.outbox_enqueue(org=org, task_name="rescore", kwargs={"org_id": str(org.pk)}, dedupe_key=str(org.pk))
    assert OutboxMessage.objects.filter(dispatched_at__isnull=True).count() == 1


def test_dedupe_applies_only_to_pending_rows(org):
    _enqueue_deduped = lambda: outbox.outbox_enqueue(org=org, task_name="rescore", kwargs={}, dedupe_key="k")  # noqa: E731
    with transaction.atomic():
        _enqueue_deduped()
    OutboxMessage.objects.update(dispatched_at=timezone.now())
    with transaction.atomic():
        _enqueue_deduped()
    assert OutboxMessage.objects.count() == 2


def test_kick_runs_after_commit(org, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr(main_app, "send_task", lambda name, **kw: sent.append((name, kw["kwargs"])))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _enqueue(org, membership_id="m1")
    assert sent == []
    assert callbacks == [outbox.outbox_kick]
    for callback in callbacks:
        callback()
    assert sent == [("teams.send_welcome_email", {"membership_id": "m1"})]
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
    newcomer = UserFactory()
    with broker(UNREACHABLE_BROKER), django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/orgs/{org.slug}/invitations/", {"user": newcomer.username, "role": "member"}, format="json"
        )
    assert response.status_code == 201
    message = OutboxMessage.objects.get(task_name="teams.send_invitation_email")
    assert message.dispatched_at is None

    sent = []
    monkeypatch.setattr(main_app, "send_task", lambda name, **kw: sent.append(kw["kwargs"]))
    monkeypatch.setattr(outbox, "_broker_down_until", 0.0)
    assert drain() == 1
    assert sent == [{"org_id": str(org.pk), "invitation_id": response.json()["id"]}]
    message.refresh_from_db()
    assert message.dispatched_at is not None
    assert drain() == 0, "published work is not published again"


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


def test_purge_keeps_pending_and_recent_rows(org):
    for _ in range(3):
        _enqueue(org)
    old, recent, pending = OutboxMessage.objects.order_by("id")
    long_ago = timezone.now() - timedelta(days=settings.OUTBOX_RETENTION_DAYS + 1)
    OutboxMessage.objects.filter(pk=old.pk).update(dispatched_at=long_ago)
    OutboxMessage.objects.filter(pk=recent.pk).update(dispatched_at=timezone.now())
    assert outbox.outbox_purge() == 1
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {recent.pk, pending.pk}


def test_lag_is_the_age_of_the_oldest_pending_row(org):
    assert outbox.outbox_lag_seconds() == 0.0
    _enqueue(org)
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(seconds=90))
    assert 89 <= outbox.outbox_lag_seconds() <= 120
