"""Shared by the feedback API tests: URLs, the error body, pinned creation times, and the
rescores still owed."""

import datetime

from alignment_service.outbox.models import OutboxMessage
from tests.api_helpers import api as api
from tests.api_helpers import assert_invalid as assert_invalid
from tests.api_helpers import assert_status as assert_status

RESCORE_TASK = "feedback.rescore_org"
UTC = datetime.UTC
T0 = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def attrs(response):
    return {error["attr"] for error in response.json()["errors"]}


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
