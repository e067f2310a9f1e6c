"""Reading batches: created and replaced counts, every bad item named by index, the size and
body limits, and all or nothing."""

import datetime
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from alignment_service.outbox.models import OutboxMessage
from goals.models import Reading
from tests.factories import GoalFactory, MetricFactory
from tests.goals.readings_support import BATCH_URL, assert_validation_error, error_attrs, iso, item
from tests.goals.support import api

# --- Batches ----------------------------------------------------------------------------------


def test_a_batch_counts_what_it_created_and_what_it_replaced(org, metric, writer):
    other = MetricFactory(goal=metric.goal, key="wau", baseline=0, target=10)
    Reading.objects.create(organization=org, metric=metric, observed_at="2026-02-01T00:00:00Z", value=1)
    response = writer.post(
        api(org, BATCH_URL),
        {
            "readings": [
                item("dau", 7, "2026-02-01T00:00:00Z"),
                item("dau", 8, "2026-02-02T00:00:00Z", source="warehouse"),
                item(str(other.pk), 5, "2026-02-01T00:00:00Z"),
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 2, "updated": 1}
    assert "Idempotent-Replayed" not in response
    assert Reading.objects.get(metric=metric, observed_at="2026-02-01T00:00:00Z").value == 7
    assert Reading.objects.get(metric=metric, observed_at="2026-02-02T00:00:00Z").source == "warehouse"
    assert Reading.objects.get(metric=other).value == 5
    metric.refresh_from_db()
    other.refresh_from_db()
    assert (metric.current, other.progress) == (8, 0.5)


def test_an_unknown_metric_is_named_by_index(org, other_org, metric, writer, count_rows):
    foreign = MetricFactory(goal=GoalFactory(organization=other_org), key="theirs")
    before = count_rows()
    response = writer.post(
        api(org, BATCH_URL),
        {
            "readings": [
                item("dau"),
                item("nope", observed_at="2026-02-02T00:00:00Z"),
                item(str(foreign.pk)),
                item("theirs"),
                item(None),
            ]
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert sorted(error_attrs(response)) == [f"readings.{n}.metric" for n in (1, 2, 3, 4)]
    assert count_rows() == before


def test_a_bad_value_is_named_by_index(org, metric, writer):
    for value in ("abc", "5", None, True, [], "NaN"):
        body = {"readings": [item("dau"), item("dau", value, "2026-02-02T00:00:00Z")]}
        response = writer.post(api(org, BATCH_URL), body, format="json")
        assert response.status_code == 400, (value, response.content)
        assert error_attrs(response) == ["readings.1.value"], value
    assert not Reading.objects.exists()


def test_a_missing_value_is_named(org, metric, writer):
    response = writer.post(
        api(org, BATCH_URL), {"readings": [{"metric": "dau", "observed_at": "2026-02-01T00:00:00Z"}]}, format="json"
    )
    assert error_attrs(response) == ["readings.0.value"]


def test_an_overflowing_value_in_a_batch_is_a_400(org, metric, writer):
    raw = '{"readings": [{"metric": "dau", "value": -1e400, "observed_at": "2026-02-01T00:00:00Z"}]}'
    response = writer.post(api(org, BATCH_URL), raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert error_attrs(response) == ["readings.0.value"]


def test_a_bad_instant_is_named_by_index(org, metric, writer):
    for observed_at in (
        "2026-02-01T00:00:00", "2026-02-30T00:00:00Z", "not a time", 1767225600, None, "2999-01-01T00:00:00Z"
    ):  # fmt: skip
        response = writer.post(api(org, BATCH_URL), {"readings": [item("dau", observed_at=observed_at)]}, format="json")
        assert response.status_code == 400, (observed_at, response.content)
        assert error_attrs(response) == ["readings.0.observed_at"], observed_at


def test_the_batch_applies_the_five_minute_horizon(org, metric, writer):
    now = timezone.now()
    response = writer.post(
        api(org, BATCH_URL),
        {
            "readings": [
                item("dau", observed_at=iso(now + timedelta(minutes=4))),
                item("dau", observed_at=iso(now + timedelta(minutes=10))),
            ]
        },
        format="json",
    )
    assert error_attrs(response) == ["readings.1.observed_at"]


def test_an_instant_that_does_not_fit_in_utc_is_named_in_a_batch(org, metric, writer):
    response = writer.post(
        api(org, BATCH_URL), {"readings": [item("dau", observed_at="0001-01-01T00:00:00+01:00")]}, format="json"
    )
    assert response.status_code == 400, response.content
    assert error_attrs(response) == ["readings.0.observed_at"]


def test_a_bad_source_is_named(org, metric, writer):
    response = writer.post(api(org, BATCH_URL), {"readings": [item("dau", source="s" * 101)]}, format="json")
    assert error_attrs(response) == ["readings.0.source"]


def test_an_item_that_is_not_an_object_is_named(org, metric, writer):
    response = writer.post(api(org, BATCH_URL), {"readings": [item("dau"), "dau"]}, format="json")
    assert response.status_code == 400
    assert error_attrs(response) == ["readings.1.non_field_errors"]


def test_the_same_instant_twice_names_both_items(org, metric, writer):
    response = writer.post(
        api(org, BATCH_URL),
        {
            "readings": [
                item("dau", 1, "2026-02-01T00:00:00Z"),
                item("dau", 2, "2026-02-02T00:00:00Z"),
                # The same metric by id, at the same instant written with another offset.
                item(str(metric.pk), 3, "2026-02-01T01:00:00+01:00"),
            ]
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert sorted(error_attrs(response)) == ["readings.0.observed_at", "readings.2.observed_at"]
    assert not Reading.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"readings": []}, {"readings": "dau"}, {"readings": {"0": {}}}, [item("dau")]],
    ids=["missing", "empty", "string", "object", "bare list"],
)
def test_the_batch_itself_must_be_a_list_of_readings(body, org, metric, writer):
    response = writer.post(api(org, BATCH_URL), body, format="json")
    assert response.status_code == 400, response.content
    assert error_attrs(response) == ["readings"]


def test_more_than_ten_thousand_items_are_refused(org, metric, writer):
    response = writer.post(api(org, BATCH_URL), {"readings": [item("dau")] * 10_001}, format="json")
    assert_validation_error(response, "readings")
    assert not Reading.objects.exists()


def test_ten_thousand_items_are_accepted(org, metric, writer):
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    readings = [item("dau", n % 100, iso(start + timedelta(minutes=n))) for n in range(10_000)]
    response = writer.post(api(org, BATCH_URL), {"readings": readings}, format="json")
    assert response.status_code == 200, response.content[:500]
    assert response.json() == {"created": 10_000, "updated": 0}
    assert Reading.objects.count() == 10_000


def test_one_bad_item_rejects_the_whole_batch(org, metric, writer, count_rows):
    readings = [item("dau", n, f"2026-02-{n + 1:02d}T00:00:00Z") for n in range(20)]
    readings[17]["metric"] = "missing"
    before = count_rows()
    response = writer.post(api(org, BATCH_URL), {"readings": readings}, format="json")
    assert response.status_code == 400
    assert error_attrs(response) == ["readings.17.metric"]
    assert count_rows() == before
    assert not OutboxMessage.objects.exists()
    metric.refresh_from_db()
    assert metric.current is None


def test_at_most_a_thousand_errors_are_listed(org, metric, writer):
    readings = [item("missing", observed_at=f"2026-02-01T00:{n // 60:02d}:{n % 60:02d}Z") for n in range(1_500)]
    response = writer.post(api(org, BATCH_URL), {"readings": readings}, format="json")
    assert response.status_code == 400
    attrs = error_attrs(response)
    assert len(attrs) == 1_000
    assert attrs[0] == "readings.0.metric"


def test_a_body_over_eight_mib_is_a_413(org, metric, writer):
    body = '{"readings": [' + " " * (8 * 1024 * 1024) + "]}"
    response = writer.post(api(org, BATCH_URL), body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "payload_too_large"


def test_the_body_limit_is_a_setting(org, metric, writer, settings):
    settings.MAX_REQUEST_BODY_BYTES = 1_000
    small = json.dumps({"readings": [item("dau")]})
    padded = small[:-1] + " " * (1_000 - len(small)) + "}"
    assert len(padded) == 1_000
    assert writer.post(api(org, BATCH_URL), padded, content_type="application/json").status_code == 200
    response = writer.post(api(org, BATCH_URL), padded + " ", content_type="application/json")
    assert response.status_code == 413
    assert Reading.objects.count() == 1
