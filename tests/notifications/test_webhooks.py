"""`emit_event` and the webhook services against the database: subscriptions, the outbox owed
after commit, stable event ids, anonymous feedback, purging, and the admin."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from alignment_service.notifications import selectors, webhook_endpoints, webhooks
from alignment_service.notifications.models import WebhookDelivery, WebhookEndpoint
from alignment_service.notifications.tasks import webhooks_purge
from alignment_service.outbox.models import OutboxMessage
from tests.factories import UserFactory
from tests.notifications.support import emit

pytestmark = pytest.mark.django_db


def test_event_types_are_the_contracts():
    assert set(webhooks.EVENT_TYPES) == {
        "course_correction.opened",
        "course_correction.acknowledged",
        "course_correction.resolved",
        "score.threshold_crossed",
        "goal.created",
        "goal.updated",
        "checkin.created",
        "feedback.created",
        "guardrail.breached",
        "divergence.recorded",
        "divergence.closed",
        "goalpost_proposal.created",
        "goalpost_proposal.approved",
        "goalpost_proposal.rejected",
        "decision.recorded",
        "webhook.ping",
    }


def test_an_event_is_owed_to_every_active_subscribed_endpoint_of_the_org(org, other_org, make_endpoint):
    everything = make_endpoint(events=[])
    goals_only = make_endpoint(events=["goal.created", "goal.updated"])
    make_endpoint(events=["feedback.created"])
    make_endpoint(active=False)
    make_endpoint(organization=other_org)

    assert emit(org, "goal.created") == 2

    deliveries = WebhookDelivery.objects.all()
    assert {d.endpoint_id for d in deliveries} == {everything.pk, goals_only.pk}
    assert {d.organization_id for d in deliveries} == {org.pk}
    assert len({d.event_id for d in deliveries}) == 1
    assert all(d.status == "pending" and d.next_attempt_at is not None for d in deliveries)


def test_the_payload_is_frozen_with_type_timestamp_and_data(org, make_endpoint):
    make_endpoint()
    goal_id = "6a0f3e8b-1d27-4f7e-9a2c-3b9e6f1d4c52"
    emit(org, "goal.updated", {"id": goal_id, "due_on": timezone.now().date(), "n": 1.5})
    payload = WebhookDelivery.objects.get().payload
    assert set(payload) == {"type", "timestamp", "data"}
    assert payload["type"] == "goal.updated"
    assert payload["timestamp"].endswith("+00:00")
    assert payload["data"] == {"id": goal_id, "due_on": timezone.now().date().isoformat(), "n": 1.5}


def test_event_ids_are_stable_per_org_type_and_key(org, other_org):
    first = webhooks.event_id_for(org=org, event_type="goal.created", event_key="goal:1")
    assert first == webhooks.event_id_for(org=org, event_type="goal.created", event_key="goal:1")
    assert first.startswith("evt_")
    assert first != webhooks.event_id_for(org=org, event_type="goal.updated", event_key="goal:1")
    assert first != webhooks.event_id_for(org=other_org, event_type="goal.created", event_key="goal:1")


def test_no_endpoint_means_no_delivery_and_no_owed_work(org):
    assert emit(org) == 0
    assert not WebhookDelivery.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_delivery_is_owed_through_the_outbox_after_commit(org, make_endpoint, django_capture_on_commit_callbacks):
    make_endpoint()
    with django_capture_on_commit_callbacks() as callbacks:
        emit(org, key="a")
        emit(org, key="b")
    owed = {(o.task_name, str(o.kwargs), o.dedupe_key) for o in OutboxMessage.objects.all()}
    assert owed == {("webhooks.deliver_due", "{}", "webhooks.deliver_due")}, "one group: one delivery run"
    assert len(callbacks) >= 1, "a kick is asked for after commit"


def test_a_rolled_back_change_owes_nothing(org, make_endpoint):
    make_endpoint()

    def failing_change():
        with transaction.atomic():
            webhooks.emit_event(org=org, event_type="goal.created", data={}, event_key="x")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert not WebhookDelivery.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_an_unknown_event_type_is_a_programming_error(org):
    with pytest.raises(ValueError, match="Unknown webhook event type"):
        webhooks.emit_event(org=org, event_type="goal.exploded", data={}, event_key="x")


def test_redact_anonymous_drops_the_author_of_anonymous_items():
    data = {
        "id": "f1",
        "anonymous": True,
        "author": 7,
        "author_id": 7,
        "body": "Hmm",
        "replies": [{"anonymous": False, "author": 3}, {"anonymous": True, "author": 4, "body": "x"}],
    }
    assert webhooks.redact_anonymous(data) == {
        "id": "f1",
        "anonymous": True,
        "body": "Hmm",
        "replies": [{"anonymous": False, "author": 3}, {"anonymous": True, "body": "x"}],
    }
    assert webhooks.redact_anonymous({"anonymous": False, "author": 1}) == {"anonymous": False, "author": 1}


def test_emit_never_sends_the_author_of_anonymous_feedback(org, make_endpoint):
    make_endpoint()
    emit(org, "feedback.created", {"id": "f1", "anonymous": True, "author": 42, "kind": "challenge"})
    assert WebhookDelivery.objects.get().payload["data"] == {"id": "f1", "anonymous": True, "kind": "challenge"}


def test_deliveries_older_than_30_days_are_purged(org, make_endpoint):
    make_endpoint()
    emit(org, key="old")
    emit(org, key="new")
    old = WebhookDelivery.objects.get(
        event_id=webhooks.event_id_for(org=org, event_type="goal.created", event_key="old")
    )
    WebhookDelivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30, minutes=1))
    assert webhooks_purge() == 1
    assert WebhookDelivery.objects.count() == 1
    assert not WebhookDelivery.objects.filter(pk=old.pk).exists()


def test_updating_reactivates_and_clears_the_disabling(org, owner_access, make_endpoint):
    endpoint = make_endpoint(active=False, consecutive_failures=8, disabled_reason="410", disabled_at=timezone.now())
    endpoint = webhook_endpoints.webhook_endpoint_update(access=owner_access, endpoint=endpoint, active=True)
    assert (endpoint.active, endpoint.disabled_at, endpoint.disabled_reason, endpoint.consecutive_failures) == (
        True,
        None,
        "",
        0,
    )
    endpoint = webhook_endpoints.webhook_endpoint_update(access=owner_access, endpoint=endpoint, active=False)
    assert endpoint.disabled_at is not None
    assert endpoint.disabled_reason == "Deactivated by an admin."


def test_stats_count_deliveries_by_status(org, make_endpoint):
    make_endpoint()
    emit(org, key="a")
    emit(org, key="b")
    WebhookDelivery.objects.filter(pk=WebhookDelivery.objects.first().pk).update(status="failed")
    stats = selectors.webhook_stats()
    assert (stats["pending"], stats["failed"], stats["succeeded"]) == (1, 1, 0)


# --- admin ------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_admin_never_shows_the_secret(staff_client, make_endpoint, org):
    endpoint = make_endpoint()
    emit(org)
    page = staff_client.get(reverse("admin:notifications_webhookendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200
    assert endpoint.secret not in page.content.decode()
    listing = staff_client.get(reverse("admin:notifications_webhookendpoint_changelist"))
    assert endpoint.secret not in listing.content.decode()
    delivery = WebhookDelivery.objects.get()
    detail = staff_client.get(reverse("admin:notifications_webhookdelivery_change", args=[delivery.pk]))
    assert endpoint.secret not in detail.content.decode()


def test_the_admin_redeliver_action(staff_client, make_endpoint, org):
    make_endpoint()
    emit(org, key="done")
    emit(org, key="busy")
    done = WebhookDelivery.objects.get(
        event_id=webhooks.event_id_for(org=org, event_type="goal.created", event_key="done")
    )
    WebhookDelivery.objects.filter(pk=done.pk).update(status="succeeded", attempts=1, next_attempt_at=None)
    response = staff_client.post(
        reverse("admin:notifications_webhookdelivery_changelist"),
        {"action": "redeliver", "_selected_action": [str(d.pk) for d in WebhookDelivery.objects.all()]},
        follow=True,
    )
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert "Scheduled 1 delivery(ies) again." in messages
    assert any("still being attempted" in m for m in messages)
    done.refresh_from_db()
    assert (done.status, done.schedule_offset) == ("pending", 1)


def test_the_admin_checks_a_changed_url(staff_client, make_endpoint, fake_dns):
    endpoint = make_endpoint()
    fake_dns["internal.example.com"] = ["10.0.0.1"]
    page = staff_client.post(
        reverse("admin:notifications_webhookendpoint_change", args=[endpoint.pk]),
        {"url": "https://internal.example.com/", "events": "[]", "description": "", "active": "on"},
    )
    assert page.status_code == 200
    assert "non-public address" in page.content.decode()
    assert WebhookEndpoint.objects.get().url == "https://hooks.example.com/alignment"
