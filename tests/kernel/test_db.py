"""`bulk_update_values` writes exactly what the ORM would, on SQLite and PostgreSQL alike; `bulk_update_rows`
keeps a stored value where a kept field is null; `insert_rows` inserts what `bulk_create` would."""

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection, connections, transaction

from alignment_service.db import DERIVED_VALUES_LOCK, bulk_update_rows, bulk_update_values, insert_rows, lock_org
from alignment_service.notifications.models import WebhookDelivery, WebhookEndpoint
from feedback.models import ScoreSnapshot
from goals.models import GoalScore, Metric
from tests.factories import GoalFactory, MetricFactory


def test_writes_each_field_of_each_row_and_nothing_else(org):
    first, second, untouched = (MetricFactory(goal__organization=org, organization=org) for _ in range(3))
    first.current, first.last_reading_at, first.forecast = 12.5, datetime(2026, 3, 1, 9, 30, tzinfo=UTC), None
    second.current, second.last_reading_at, second.forecast = None, None, -3.25
    second.name = "not written"

    assert bulk_update_values([first, second], ["current", "last_reading_at", "forecast"]) == 2

    stored = {m.pk: m for m in Metric.objects.all()}
    assert (stored[first.pk].current, stored[first.pk].last_reading_at, stored[first.pk].forecast) == (
        12.5, datetime(2026, 3, 1, 9, 30, tzinfo=UTC), None,
    )  # fmt: skip
    assert (stored[second.pk].current, stored[second.pk].forecast) == (None, -3.25)
    assert stored[second.pk].name != "not written"
    assert stored[untouched.pk].current is None


AWKWARD = ['quote " and backslash \\', "{braces}, commas", "NULL", "", "  spaced\ttab\nnewline ", "ünïcødé ✓"]


def test_any_text_number_and_instant_arrives_as_sent(org):
    """On PostgreSQL each column goes as one array literal: quoting, the word NULL, floats at
    the edges of their range and instants with offsets PostgreSQL refuses must arrive intact."""
    metrics = [MetricFactory(goal__organization=org, organization=org) for _ in AWKWARD]
    values = [5e-324, -0.0, 1.7976931348623157e308, 1 / 3, 123456789.125, None]
    far_offset = timezone(-timedelta(hours=18, minutes=35))
    instants = [datetime(2026, 3, 1, 9, 30, 0, 1, tzinfo=far_offset), None] * 3
    for metric, name, value, instant in zip(metrics, AWKWARD, values, instants, strict=True):
        metric.name, metric.current, metric.last_reading_at, metric.stale_after_days = name, value, instant, 7

    bulk_update_values(metrics, ["name", "current", "last_reading_at", "stale_after_days"])

    stored = {m.pk: (m.name, m.current, m.last_reading_at, m.stale_after_days) for m in Metric.objects.all()}
    for metric, name, value, instant in zip(metrics, AWKWARD, values, instants, strict=True):
        assert stored[metric.pk] == (name, value, instant, 7)


def test_a_null_in_a_kept_field_leaves_the_stored_value(org, django_assert_num_queries):
    first, second = (MetricFactory(goal__organization=org, organization=org, current=1.0) for _ in range(2))
    key = Metric._meta.pk.get_db_prep_save  # the values go to the database as they are
    rows = [[key(first.pk, connection), 5.0, None], [key(second.pk, connection), None, 7.0]]

    with django_assert_num_queries(1):
        bulk_update_rows(Metric, ["current", "forecast"], rows, keep_where_null=["current"])

    stored = {m.pk: (m.current, m.forecast) for m in Metric.objects.all()}
    assert stored == {first.pk: (5.0, None), second.pk: (1.0, 7.0)}, "a null in a field not kept is written"


def test_nothing_to_write_is_no_query(django_assert_num_queries, db):
    with django_assert_num_queries(0):
        assert bulk_update_values([], ["current"]) == 0


def test_large_sets_go_in_batches(org, django_assert_num_queries):
    metrics = [MetricFactory(goal__organization=org, organization=org) for _ in range(5)]
    for index, metric in enumerate(metrics):
        metric.current = float(index)
    with django_assert_num_queries(3):
        assert bulk_update_values(metrics, ["current"], batch_size=2) == 5
    assert sorted(Metric.objects.values_list("current", flat=True)) == [0.0, 1.0, 2.0, 3.0, 4.0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_write_waits_its_turn_for_the_org_lock_beyond_the_statement_lock_timeout(org):
    """The organization's advisory lock is taken first, holding nothing, so waiting for it cannot
    deadlock: a write waits its turn instead of timing out after `lock_timeout` (2 s) and going
    to the back of the queue; the short timeout applies again to the rest of its transaction."""
    held, waited, errors = threading.Event(), [], []

    def holder():
        try:
            with transaction.atomic():
                lock_org(DERIVED_VALUES_LOCK, org.pk)
                held.set()
                time.sleep(2.5)
        finally:
            connections.close_all()

    def waiter():
        try:
            held.wait(5)
            started = time.monotonic()
            with transaction.atomic(), connection.cursor() as cursor:
                lock_org(DERIVED_VALUES_LOCK, org.pk)
                waited.append(time.monotonic() - started)
                cursor.execute("SHOW lock_timeout")
                waited.append(cursor.fetchone()[0])
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=holder), threading.Thread(target=waiter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert errors == []
    assert waited[0] > 2.0, "it waited longer than the statement lock_timeout"
    assert waited[1] == "2s"


def test_insert_rows_writes_what_bulk_create_would_in_one_statement(org, django_assert_num_queries):
    at = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
    rows = [
        {"organization_id": org.pk, "subject_type": "goal", "subject_id": "a", "score": 61.25, "computed_at": at,
         "components": {"pace": 10.5, "nested": [1, None]}},
        {"organization_id": org.pk, "subject_type": "team", "subject_id": "b", "score": 0.1, "computed_at": at},
    ]  # fmt: skip
    with django_assert_num_queries(1):
        assert insert_rows(ScoreSnapshot, [rows[0]]) == 1
    insert_rows(ScoreSnapshot, [rows[1]])

    stored = {s.subject_id: s for s in ScoreSnapshot.objects.filter(organization=org)}
    assert (stored["a"].score, stored["a"].components, stored["a"].computed_at) == (61.25, rows[0]["components"], at)
    assert (stored["b"].score, stored["b"].components) == (0.1, {}), "a field left out takes its default"


def test_insert_rows_can_skip_conflicting_rows(org):
    endpoint = WebhookEndpoint.objects.create(organization=org, url="https://hooks.example.com/x", secret="s")
    row = {"organization_id": org.pk, "endpoint_id": endpoint.pk, "event_id": "evt_1", "event_type": "x", "payload": {}}
    insert_rows(WebhookDelivery, [row], ignore_conflicts=True)
    insert_rows(WebhookDelivery, [row, {**row, "event_id": "evt_2"}], ignore_conflicts=True)

    assert sorted(WebhookDelivery.objects.values_list("event_id", flat=True)) == ["evt_1", "evt_2"]
    assert len({d.pk for d in WebhookDelivery.objects.all()}) == 2, "each row its own default id"


def test_insert_rows_can_update_conflicting_rows(org):
    goal, other = GoalFactory(organization=org), GoalFactory(organization=org)
    insert_rows(GoalScore, [{"goal_id": goal.pk, "organization_id": org.pk, "score": 10.0}])
    rows = [{"goal_id": pk, "organization_id": org.pk, "score": 20.0} for pk in (goal.pk, other.pk)]

    insert_rows(GoalScore, rows, update_conflicts=(["goal"], ["score"]))

    assert dict(GoalScore.objects.values_list("goal_id", "score")) == {goal.pk: 20.0, other.pk: 20.0}
