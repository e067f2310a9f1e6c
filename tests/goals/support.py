"""Shared by the goals tests: URLs, the error body, the rescore each write owes, the direction,
goal dates and metric bodies that several modules post; and, for the services tests, instants
in February 2026, a reading recorded through the service and the rescores still pending."""

import datetime

from alignment_service.outbox.models import OutboxMessage
from goals import services
from goals.services import ReadingInput
from tests.api_helpers import api as api

RESCORE_TASK = "feedback.rescore_org"


def error_attrs(response):
    return {error["attr"] for error in response.json()["errors"]}


def error_codes(response):
    return {error["code"] for error in response.json()["errors"]}


def assert_validation_error(response, *attrs):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation_error"
    assert set(attrs) <= error_attrs(response), body


def assert_refused(response, status_code, code=None):
    assert response.status_code == status_code, response.content
    if code is not None:
        assert code in error_codes(response), response.json()


def pending_rescores(org):
    return OutboxMessage.objects.filter(
        organization=org, task_name=RESCORE_TASK, dedupe_key=f"rescore:{org.pk}", dispatched_at__isnull=True
    )


def outbox_messages_sent():
    from unittest import mock

    from alignment_service.celery import app
    from alignment_service.outbox.services import outbox_dispatch_pending

    with mock.patch.object(app, "send_task") as send:
        outbox_dispatch_pending()
    return [call.args[0] for call in send.call_args_list]


def ids(response):
    return [item["id"] for item in response.json()["results"]]


DIRECTION = {
    "vision": "Every player finds a game they love",
    "mission": "Make great games together",
    "values": [{"name": "Candour", "description": "Say what you see"}, {"name": "Craft"}],
}


GOAL_DATES = {"starts_on": "2026-01-01", "due_on": "2026-12-31"}


def metric_body(goal, /, **overrides):
    body = {"goal": str(goal.pk), "name": "Weekly actives", "key": "weekly-actives", "baseline": 0, "target": 100}
    return body | overrides


# --- services -------------------------------------------------------------------------------

UTC = datetime.UTC


def at(day, hour=0):
    return datetime.datetime(2026, 2, day, hour, tzinfo=UTC)


def record(access, metric, value, when):
    return services.reading_record(access=access, reading=ReadingInput(metric=metric, value=value, observed_at=when))


def pending(org):
    return OutboxMessage.objects.filter(organization=org, task_name=RESCORE_TASK, dispatched_at__isnull=True)
