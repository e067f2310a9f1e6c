"""`/orgs/{org}/webhooks/`: the role matrix, shapes, secrets shown only on create and rotate,
ping, the delivery log and redelivery, errors in the project's one shape, pinned query counts."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from alignment_service.access import Role, Scope
from alignment_service.activity.models import Activity
from alignment_service.notifications.models import WebhookDelivery, WebhookEndpoint
from alignment_service.notifications.webhooks import event_id_for
from tests.notifications.support import deliver, emit

pytestmark = pytest.mark.django_db

ENDPOINT_KEYS = {"id", "url", "events", "active", "description", "created_at", "disabled_at", "disabled_reason"}
DELIVERY_KEYS = {
    "id",
    "event_id",
    "event",
    "status",
    "attempts",
    "response_status",
    "next_attempt_at",
    "last_attempt_at",
    "last_error",
    "created_at",
}

# An admin's list: the token, the membership, then count + page (endpoints) or the parent
# endpoint + page (deliveries, cursor-paginated so no count).
ENDPOINT_LIST_QUERIES = 3
DELIVERY_LIST_QUERIES = 3


def base(org):
    return f"/api/v1/orgs/{org.slug}/webhooks/"


@pytest.fixture
def endpoint(make_endpoint):
    return make_endpoint(description="CI")


@pytest.fixture
def a_delivery(org, endpoint):
    emit(org)
    return WebhookDelivery.objects.get()


# --- who may do what ----------------------------------------------------------------------------

PRINCIPALS = ("viewer", "member", "admin", "owner", "key:read", "key:readings", "outsider")
# method, path under /webhooks/, body, expected status per principal
MATRIX = [
    ("GET", "", None, (403, 403, 200, 200, 403, 403, 404)),
    ("POST", "", {"url": "https://hooks.example.com/new"}, (403, 403, 201, 201, 403, 403, 404)),
    ("GET", "{endpoint}/", None, (403, 403, 200, 200, 403, 403, 404)),
    ("PATCH", "{endpoint}/", {"description": "x"}, (403, 403, 200, 200, 403, 403, 404)),
    ("POST", "{endpoint}/rotate-secret/", None, (403, 403, 200, 200, 403, 403, 404)),
    ("POST", "{endpoint}/ping/", None, (403, 403, 202, 202, 403, 403, 404)),
    ("GET", "{endpoint}/deliveries/", None, (403, 403, 200, 200, 403, 403, 404)),
    ("GET", "{endpoint}/deliveries/{delivery}/", None, (403, 403, 200, 200, 403, 403, 404)),
    ("POST", "{endpoint}/deliveries/{delivery}/redeliver/", None, (403, 403, 202, 202, 403, 403, 404)),
    ("DELETE", "{endpoint}/", None, (403, 403, 204, 204, 403, 403, 404)),
]
CASES = [
    pytest.param(method, path, body, principal, expected[i], id=f"{method} {path or '/'} as {principal}")
    for method, path, body, expected in MATRIX
    for i, principal in enumerate(PRINCIPALS)
]


@pytest.mark.parametrize(("method", "path", "body", "principal", "expected"), CASES)
def test_role_matrix(
    method, path, body, principal, expected, org, endpoint, a_delivery, member_of, outsider, client_for, key_client_for
):
    WebhookDelivery.objects.update(status="failed")
    if principal == "outsider":
        client = client_for(outsider)
    elif principal.startswith("key:"):
        client = key_client_for(org, scopes=(Scope.READ if principal == "key:read" else Scope.READINGS_WRITE,))
    else:
        client = client_for(member_of(org, Role(principal)))
    target = base(org) + path.replace("{endpoint}", str(endpoint.pk)).replace("{delivery}", str(a_delivery.pk))
    response = client.generic(method, target, data=json.dumps(body or {}), content_type="application/json")
    assert response.status_code == expected, response.content
    if expected in (403, 404):
        assert response.json()["type"] == "client_error"


# --- endpoints ----------------------------------------------------------------------------------


def test_create_shows_the_secret_once(org, admin, client_for):
    client = client_for(admin)
    response = client.post(
        base(org),
        {"url": "https://hooks.example.com/a", "events": ["goal.created", "checkin.created"], "description": "CI"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == ENDPOINT_KEYS | {"secret"}
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["goal.created", "checkin.created"]
    assert (body["active"], body["description"], body["disabled_at"]) == (True, "CI", None)
    stored = WebhookEndpoint.objects.get()
    assert (stored.secret, stored.created_by_id, stored.organization_id) == (body["secret"], admin.pk, org.pk)

    assert "secret" not in client.get(f"{base(org)}{body['id']}/").json()
    assert all("secret" not in item for item in client.get(base(org)).json()["results"])
    patched = client.patch(f"{base(org)}{body['id']}/", {"description": "changed"}, format="json").json()
    assert "secret" not in patched
    assert body["secret"] not in client.get(base(org)).content.decode()


def test_create_defaults_to_every_event(org, admin, client_for):
    response = client_for(admin).post(base(org), {"url": "https://hooks.example.com/a"}, format="json")
    assert response.json()["events"] == []


def test_unknown_event_types_are_named_by_index(org, admin, client_for):
    response = client_for(admin).post(
        base(org),
        {"url": "https://hooks.example.com/a", "events": ["goal.created", "goal.exploded", "nope"]},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(e["attr"], e["code"]) for e in errors] == [("events.1", "invalid_choice"), ("events.2", "invalid_choice")]
    assert not WebhookEndpoint.objects.exists()


def test_every_problem_is_listed_at_once(org, admin, client_for, fake_dns):
    fake_dns["internal.example.com"] = ["10.0.0.1"]
    response = client_for(admin).post(
        base(org), {"url": "https://internal.example.com/", "events": ["bad"], "active": "maybe"}, format="json"
    )
    assert response.status_code == 400
    assert {e["attr"] for e in response.json()["errors"]} == {"url", "events.0", "active"}


def test_an_empty_create_names_url(org, admin, client_for):
    response = client_for(admin).post(base(org), {}, format="json")
    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [("url", "required")]


def test_patch_changes_url_events_active_and_description(org, admin, endpoint, client_for):
    response = client_for(admin).patch(
        f"{base(org)}{endpoint.pk}/",
        {"url": "https://hooks.example.com/v2", "events": ["feedback.created"], "active": False, "description": "v2"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == ENDPOINT_KEYS
    assert (body["url"], body["events"], body["active"], body["description"]) == (
        "https://hooks.example.com/v2",
        ["feedback.created"],
        False,
        "v2",
    )
    assert body["disabled_at"] is not None
    assert body["disabled_reason"] == "Deactivated by an admin."


def test_writes_record_activity(org, admin, client_for):
    client = client_for(admin)
    created = client.post(base(org), {"url": "https://hooks.example.com/a"}, format="json").json()
    client.patch(f"{base(org)}{created['id']}/", {"events": ["goal.created"]}, format="json")
    client.post(f"{base(org)}{created['id']}/rotate-secret/")
    assert client.delete(f"{base(org)}{created['id']}/").status_code == 204
    entries = Activity.objects.filter(organization=org, subject_type="webhook").order_by("id")
    assert [e.verb for e in entries] == [
        "webhook.created",
        "webhook.updated",
        "webhook.secret_rotated",
        "webhook.deleted",
    ]
    assert {e.actor_user_id for e in entries} == {admin.pk}
    assert {e.subject_id for e in entries} == {created["id"]}
    assert not any("whsec_" in e.summary or "whsec_" in str(e.data) for e in entries)


def test_delete_removes_the_endpoint_and_its_log(org, admin, endpoint, a_delivery, client_for):
    assert client_for(admin).delete(f"{base(org)}{endpoint.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_another_orgs_endpoint_is_not_found(org, other_org, admin, make_endpoint, client_for):
    theirs = make_endpoint(organization=other_org)
    client = client_for(admin)
    assert client.get(f"{base(org)}{theirs.pk}/").status_code == 404
    assert client.get(f"{base(org)}{theirs.pk}/deliveries/").status_code == 404
    assert client.get(f"{base(org)}not-a-uuid/").status_code == 404


@pytest.mark.usefixtures("allow_private")
def test_rotating_the_secret_changes_the_signature(org, admin, client_for, receiver):
    client = client_for(admin)
    created = client.post(base(org), {"url": receiver.url}, format="json").json()
    old_secret = created["secret"]
    emit(org, key="before")
    deliver()

    rotated = client.post(f"{base(org)}{created['id']}/rotate-secret/")
    assert rotated.status_code == 200
    assert set(rotated.json()) == ENDPOINT_KEYS | {"secret"}
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != old_secret
    emit(org, key="after")
    deliver()

    before, after = receiver.requests
    Webhook(old_secret).verify(before.body, before.headers)
    Webhook(new_secret).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(after.body, after.headers)
    assert before.headers["webhook-signature"] != after.headers["webhook-signature"]


# --- ping and deliveries --------------------------------------------------------------------------


@pytest.mark.usefixtures("allow_private")
def test_ping_delivers_to_that_endpoint_only(org, admin, client_for, receiver, make_endpoint):
    client = client_for(admin)
    created = client.post(base(org), {"url": receiver.url, "events": ["goal.created"]}, format="json").json()
    make_endpoint(receiver.url.replace("source=test", "source=other"))

    response = client.post(f"{base(org)}{created['id']}/ping/")

    assert response.status_code == 202
    body = response.json()
    assert set(body) == DELIVERY_KEYS
    assert (body["event"], body["status"], body["attempts"]) == ("webhook.ping", "pending", 0)
    deliver()
    (request,) = receiver.requests
    payload = Webhook(created["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "webhook.ping"
    assert payload["data"]["webhook_id"] == created["id"]
    assert request.headers["webhook-id"] == body["event_id"]
    second = client.post(f"{base(org)}{created['id']}/ping/").json()
    assert second["event_id"] != body["event_id"], "each ping is a new event"


def test_ping_to_an_inactive_endpoint_is_a_conflict(org, admin, client_for, make_endpoint):
    endpoint = make_endpoint(active=False)
    response = client_for(admin).post(f"{base(org)}{endpoint.pk}/ping/")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "endpoint_inactive"


def test_the_delivery_log_is_newest_first_with_cursor_pages(org, admin, endpoint, client_for):
    for n in range(3):
        emit(org, key=f"k{n}")
    WebhookDelivery.objects.filter(event_id=event_id_for(org=org, event_type="goal.created", event_key="k0")).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    client = client_for(admin)
    page = client.get(f"{base(org)}{endpoint.pk}/deliveries/", {"limit": 2}).json()
    assert set(page) == {"next", "previous", "results"}
    assert len(page["results"]) == 2
    assert all(set(item) == DELIVERY_KEYS for item in page["results"])
    rest = client.get(page["next"]).json()
    oldest = event_id_for(org=org, event_type="goal.created", event_key="k0")
    assert [item["event_id"] for item in rest["results"]] == [oldest]
    detail = client.get(f"{base(org)}{endpoint.pk}/deliveries/{rest['results'][0]['id']}/").json()
    assert detail["payload"]["type"] == "goal.created"


def test_the_delivery_log_filters_by_status_and_event(org, admin, endpoint, client_for):
    emit(org, "goal.created", key="a")
    emit(org, "checkin.created", key="b")
    WebhookDelivery.objects.filter(event_type="checkin.created").update(status="failed")
    client = client_for(admin)
    log = f"{base(org)}{endpoint.pk}/deliveries/"
    assert [d["event"] for d in client.get(log, {"status": "failed"}).json()["results"]] == ["checkin.created"]
    assert [d["status"] for d in client.get(log, {"event": "goal.created"}).json()["results"]] == ["pending"]
    assert client.get(log, {"status": "bogus"}).status_code == 400


def test_a_delivery_of_another_endpoint_is_not_found(org, admin, endpoint, make_endpoint, client_for):
    other = make_endpoint()
    emit(org)
    theirs = WebhookDelivery.objects.get(endpoint=other)
    assert client_for(admin).get(f"{base(org)}{endpoint.pk}/deliveries/{theirs.pk}/").status_code == 404


@pytest.mark.usefixtures("allow_private")
def test_redeliver_sends_again_with_the_same_event_id(org, admin, client_for, receiver, make_endpoint):
    endpoint = make_endpoint(receiver.url)
    emit(org)
    deliver()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "succeeded"

    response = client_for(admin).post(f"{base(org)}{endpoint.pk}/deliveries/{delivery.pk}/redeliver/")

    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending"
    assert response.json()["next_attempt_at"] is not None
    deliver()
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.event_id] * 2
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)


def test_redeliver_refuses_deliveries_older_than_30_days(org, admin, endpoint, a_delivery, client_for):
    WebhookDelivery.objects.update(status="failed", created_at=timezone.now() - timedelta(days=30, seconds=1))
    response = client_for(admin).post(f"{base(org)}{endpoint.pk}/deliveries/{a_delivery.pk}/redeliver/")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "delivery_expired"
    assert WebhookDelivery.objects.get().status == "failed"


def test_redeliver_accepts_a_29_day_old_delivery(org, admin, endpoint, a_delivery, client_for):
    WebhookDelivery.objects.update(status="failed", created_at=timezone.now() - timedelta(days=29))
    response = client_for(admin).post(f"{base(org)}{endpoint.pk}/deliveries/{a_delivery.pk}/redeliver/")
    assert response.status_code == 202


def test_redeliver_refuses_a_delivery_in_progress(org, admin, endpoint, a_delivery, client_for):
    response = client_for(admin).post(f"{base(org)}{endpoint.pk}/deliveries/{a_delivery.pk}/redeliver/")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "delivery_in_progress"


# --- query counts -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [3, 30])
def test_endpoint_list_query_count(org, admin, make_endpoint, client_for, django_assert_num_queries, size):
    for _ in range(size):
        make_endpoint()
    client = client_for(admin)
    with django_assert_num_queries(ENDPOINT_LIST_QUERIES):
        response = client.get(base(org))
    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", [3, 30])
def test_delivery_list_query_count(org, admin, endpoint, client_for, django_assert_num_queries, size):
    for n in range(size):
        emit(org, key=f"k{n}")
    client = client_for(admin)
    with django_assert_num_queries(DELIVERY_LIST_QUERIES):
        response = client.get(f"{base(org)}{endpoint.pk}/deliveries/")
    assert len(response.json()["results"]) == size
