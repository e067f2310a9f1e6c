"""Real webhook payloads match the event serializers published in the schema's `webhooks`:
the same keys (nothing undocumented, nothing missing) and valid values."""

import pytest

from alignment_service.notifications.api.events import EVENT_DATA, EVENT_ENVELOPES
from alignment_service.notifications.models import WebhookDelivery
from tests.factories import GoalFactory, TeamFactory

pytestmark = pytest.mark.django_db
DATES = {"starts_on": "2026-01-01", "due_on": "2026-12-31"}


def payloads(event_type):
    return [d.payload for d in WebhookDelivery.objects.filter(event_type=event_type)]


def assert_documented(payload):
    envelope = EVENT_ENVELOPES[payload["type"]](data=payload)
    assert envelope.is_valid(), envelope.errors
    data_fields = EVENT_DATA[payload["type"]]().fields
    optional = set(getattr(EVENT_DATA[payload["type"]], "optional_fields", ()))
    assert set(data_fields) - optional <= set(payload["data"]) <= set(data_fields)


def test_api_writes_emit_documented_payloads(org, owner, client_for, make_endpoint):
    make_endpoint()
    client = client_for(owner)
    api = f"/api/v1/orgs/{org.slug}/"
    goal = client.post(api + "goals/", {"title": "Grow", **DATES}, format="json").json()
    client.patch(api + f"goals/{goal['id']}/", {"title": "Grow more"}, format="json")
    client.post(api + "check-ins/", {"goal": goal["id"], "summary": "Fine", "confidence": 7}, format="json")
    for anonymous in (False, True):
        feedback = {"target_type": "goal", "target_id": goal["id"], "kind": "idea", "body": "b", "anonymous": anonymous}
        assert client.post(api + "feedback/", feedback, format="json").status_code == 201
    team = TeamFactory(organization=org, lead=owner)
    subject = GoalFactory(organization=org, team=team)
    body = {"subject_type": "goal", "subject_id": str(subject.pk), "detail": "Refocus"}
    correction = client.post(api + "course-corrections/", body, format="json").json()
    client.post(api + f"course-corrections/{correction['id']}/acknowledge/", format="json")
    client.post(api + f"course-corrections/{correction['id']}/resolve/", {"resolution": "Done"}, format="json")

    seen = set()
    for delivery in WebhookDelivery.objects.all():
        assert_documented(delivery.payload)
        seen.add(delivery.payload["type"])
    assert seen >= {
        "goal.created", "goal.updated", "checkin.created", "feedback.created",
        "course_correction.opened", "course_correction.acknowledged", "course_correction.resolved",
    }  # fmt: skip
    anonymous = [p for p in payloads("feedback.created") if p["data"]["anonymous"]]
    assert anonymous
    assert "author" not in anonymous[0]["data"]


def test_a_ping_is_documented(org, owner, client_for, make_endpoint):
    endpoint = make_endpoint()
    response = client_for(owner).post(f"/api/v1/orgs/{org.slug}/webhooks/{endpoint.pk}/ping/")
    assert response.status_code == 202
    [payload] = payloads("webhook.ping")
    assert_documented(payload)
