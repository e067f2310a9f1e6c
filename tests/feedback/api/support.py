"""Shared by the feedback API tests: URLs, the error body, pinned creation times, and the
rescores still owed."""

import datetime

from alignment_service.outbox.models import OutboxMessage

RESCORE_TASK = "feedback.rescore_org"
UTC = datetime.UTC
T0 = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def api(org, path=""):
    return f"/api/v1/orgs/{org.slug}/{path}"


def attrs(response):
    return {error["attr"] for error in response.json()["errors"]}


def assert_invalid(response, *fields):
    """A 400 in the validation shape that names exactly `fields`."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation_error", body
    assert attrs(response) == set(fields), body


def assert_status(response, status_code, code=None):
    assert response.status_code == status_code, response.content
    if code is not None:
        assert code in {error["code"] for error in response.json()["errors"]}, response.json()


def ids(response):
    return [item["id"] for item in response.json()["results"]]


def pending_rescores(org):
    return OutboxMessage.objects.filter(
        organization=org, task_name=RESCORE_TASK, kwargs__org_id=str(org.pk), dispatched_at__isnull=True
    )


def at(model, obj, when):
    """Pin an object's `created_at`, to make orderings and `since` deterministic."""
    model.objects.filter(pk=obj.pk).update(created_at=when)


def target_of(target_type, goal, tree, pillar):
    return {
        "goal": str(goal.pk),
        "team": str(tree["team"].pk),
        "strategy": str(pillar.pk),
        "direction": "",
    }[target_type]
