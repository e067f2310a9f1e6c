"""Readings: one at a time (upsert per instant, cursor-paginated history) and in batches (all or
nothing, every bad item named, Idempotency-Key replays)."""

import datetime
import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from alignment_service.access import Role, Scope
from alignment_service.idempotency.models import IdempotencyRecord
from alignment_service.idempotency.services import request_fingerprint
from alignment_service.outbox.models import OutboxMessage
from goals.models import Reading
from tests.factories import GoalFactory, MembershipFactory, MetricFactory


def api(org, path=""):
    return f"/api/v1/orgs/{org.slug}/{path}"


def error_attrs(response):
    return [error["attr"] for error in response.json()["errors"]]


def assert_validation_error(response, *attrs):
    assert response.status_code == 400, response.content
    assert response.json()["type"] == "validation_error"
    assert set(attrs) <= set(error_attrs(response)), response.json()


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def metric(org):
    return MetricFactory(goal=GoalFactory(organization=org), key="dau", baseline=0, target=100)


@pytest.fixture
def writer(member, client_for):
    return client_for(member)


def readings_url(org, metric):
    return api(org, f"metrics/{metric.pk}/readings/")


# --- One reading at a time --------------------------------------------------------------------


def test_a_new_instant_is_created_and_the_same_instant_replaced(org, metric, writer):
    first = writer.post(
        readings_url(org, metric),
        {"value": 12.5, "observed_at": "2026-02-01T09:00:00Z", "source": "warehouse", "note": "first"},
        format="json",
    )
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["value"] == 12.5
    assert body["observed_at"] == "2026-02-01T09:00:00Z"
    assert (body["source"], body["note"], body["metric"]) == ("warehouse", "first", str(metric.pk))

    again = writer.post(
        readings_url(org, metric), {"value": 15, "observed_at": "2026-02-01T10:00:00+01:00"}, format="json"
    )
    assert again.status_code == 200, again.content
    assert again.json()["id"] == body["id"]
    assert again.json()["value"] == 15
    [stored] = Reading.objects.all()
    assert stored.value == 15
    assert stored.organization == org


def test_a_value_must_be_a_finite_number(org, metric, writer):
    for value in ("NaN", "nan", "Infinity", "-Infinity", "abc", "", None, [1], {"v": 1}):
        response = writer.post(readings_url(org, metric), {"value": value, "observed_at": "2026-02-01T00:00:00Z"})
        assert response.status_code == 400, (value, response.content)
        assert error_attrs(response) == ["value"], (value, response.json())
    assert not Reading.objects.exists()


def test_an_overflowing_json_number_is_a_400(org, metric, writer):
    raw = '{"value": 1e400, "observed_at": "2026-02-01T00:00:00Z"}'
    response = writer.post(readings_url(org, metric), raw, content_type="application/json")
    assert_validation_error(response, "value")
    assert not Reading.objects.exists()


def test_value_and_observed_at_are_required(org, metric, writer):
    assert_validation_error(writer.post(readings_url(org, metric), {}, format="json"), "value", "observed_at")


def test_observed_at_must_be_a_timestamp_with_an_offset(org, metric, writer):
    for observed_at in ("2026-02-01T09:00:00", "2026-02-01", "yesterday", "2026-02-30T00:00:00Z", 1767225600, None):
        response = writer.post(readings_url(org, metric), {"value": 1, "observed_at": observed_at}, format="json")
        assert response.status_code == 400, (observed_at, response.content)
        assert error_attrs(response) == ["observed_at"], (observed_at, response.json())
    assert not Reading.objects.exists()


def test_observed_at_at_most_five_minutes_ahead(org, metric, writer):
    now = timezone.now()
    ahead = writer.post(readings_url(org, metric), {"value": 1, "observed_at": iso(now + timedelta(minutes=10))})
    assert_validation_error(ahead, "observed_at")
    soon = writer.post(readings_url(org, metric), {"value": 1, "observed_at": iso(now + timedelta(minutes=4))})
    assert soon.status_code == 201, soon.content


@pytest.mark.parametrize("observed_at", ["1900-01-01T00:00:00Z", "1970-01-01T00:00:00+05:30", "2000-02-29T23:59:59Z"])
def test_any_past_instant_is_stored(observed_at, org, metric, writer):
    response = writer.post(readings_url(org, metric), {"value": 3, "observed_at": observed_at})
    assert response.status_code == 201, response.content
    assert Reading.objects.get().observed_at == datetime.datetime.fromisoformat(observed_at)


def test_the_earliest_instant_is_stored(org, metric, writer):
    response = writer.post(readings_url(org, metric), {"value": 3, "observed_at": "0001-01-01T00:00:00Z"})
    assert response.status_code == 201, response.content


def test_an_instant_that_does_not_fit_in_utc_is_a_400(org, metric, writer):
    response = writer.post(readings_url(org, metric), {"value": 3, "observed_at": "0001-01-01T00:00:00+01:00"})
    assert_validation_error(response, "observed_at")


def test_source_and_note_are_bounded(org, metric, writer):
    response = writer.post(
        readings_url(org, metric), {"value": 1, "observed_at": "2026-02-01T00:00:00Z", "source": "s" * 101}
    )
    assert_validation_error(response, "source")


def test_readings_of_another_orgs_metric_are_not_found(org, other_org, writer, count_rows):
    foreign = MetricFactory(goal=GoalFactory(organization=other_org))
    before = count_rows()
    posted = writer.post(
        api(org, f"metrics/{foreign.pk}/readings/"), {"value": 1, "observed_at": "2026-02-01T00:00:00Z"}
    )
    assert posted.status_code == 404
    assert writer.get(api(org, f"metrics/{foreign.pk}/readings/")).status_code == 404
    assert writer.get(api(org, "metrics/not-a-uuid/readings/")).status_code == 404
    assert count_rows() == before


# --- Reading history --------------------------------------------------------------------------


def _history(org, metric, count, start=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)):
    Reading.objects.bulk_create(
        Reading(organization=org, metric=metric, observed_at=start + timedelta(days=day), value=day)
        for day in range(count)
    )


def test_readings_are_listed_newest_first_with_a_cursor(org, metric, viewer, client_for):
    _history(org, metric, 5)
    client = client_for(viewer)
    first = client.get(readings_url(org, metric), {"limit": 2})
    assert first.status_code == 200
    body = first.json()
    assert "count" not in body
    assert body["previous"] is None
    assert body["next"].startswith("http://testserver/api/v1/orgs/")
    assert [r["value"] for r in body["results"]] == [4, 3]

    second = client.get(body["next"]).json()
    assert [r["value"] for r in second["results"]] == [2, 1]
    assert second["previous"]
    third = client.get(second["next"]).json()
    assert [r["value"] for r in third["results"]] == [0]
    assert third["next"] is None


def test_readings_default_to_fifty_and_cap_the_limit_at_two_hundred(org, metric, viewer, client_for):
    _history(org, metric, 205)
    client = client_for(viewer)
    assert len(client.get(readings_url(org, metric)).json()["results"]) == 50
    assert len(client.get(readings_url(org, metric), {"limit": 500}).json()["results"]) == 200


def test_readings_since_is_inclusive_and_until_exclusive(org, metric, viewer, client_for):
    _history(org, metric, 6)
    response = client_for(viewer).get(
        readings_url(org, metric), {"since": "2026-01-02T00:00:00Z", "until": "2026-01-05T00:00:00+00:00"}
    )
    assert response.status_code == 200, response.content
    assert [r["value"] for r in response.json()["results"]] == [3, 2, 1]


def test_since_with_an_offset_is_honoured(org, metric, viewer, client_for):
    _history(org, metric, 4)
    # 2026-01-03T01:00+02:00 is 2026-01-02T23:00Z: only day 3 (2026-01-04) and day 2 (2026-01-03) qualify.
    response = client_for(viewer).get(readings_url(org, metric), {"since": "2026-01-03T01:00:00+02:00"})
    assert [r["value"] for r in response.json()["results"]] == [3, 2]


@pytest.mark.parametrize("param", ["since", "until"])
@pytest.mark.parametrize("value", ["2026-01-02T00:00:00", "soon"])
def test_naive_or_bad_bounds_are_a_400(param, value, org, metric, viewer, client_for):
    response = client_for(viewer).get(readings_url(org, metric), {param: value})
    assert_validation_error(response, param)


@pytest.mark.parametrize("size", [3, 30])
def test_reading_list_query_count_does_not_grow(size, org, metric, viewer, client_for, django_assert_num_queries):
    _history(org, metric, size)
    client = client_for(viewer)
    with django_assert_num_queries(3):
        response = client.get(readings_url(org, metric))
    assert len(response.json()["results"]) == size


# --- Batches ----------------------------------------------------------------------------------

BATCH_URL = "readings/batch/"


def item(metric_ref, value=1, observed_at="2026-02-01T00:00:00Z", **extra):
    return {"metric": metric_ref, "value": value, "observed_at": observed_at, **extra}


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


# --- Idempotency-Key --------------------------------------------------------------------------

BODY = {"readings": [item("dau", 5, "2026-02-01T00:00:00Z"), item("dau", 6, "2026-02-02T00:00:00Z")]}


def post_batch(client, org, body=BODY, key="batch-0001"):
    return client.post(api(org, BATCH_URL), body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_retry_with_the_same_key_and_body_replays_the_answer(org, metric, writer, count_rows):
    first = post_batch(writer, org)
    assert first.status_code == 200, first.content
    assert first.json() == {"created": 2, "updated": 0}
    assert "Idempotent-Replayed" not in first
    stamps = list(Reading.objects.order_by("id").values_list("updated_at", flat=True))
    before = count_rows()

    retry = post_batch(writer, org)
    assert retry.status_code == 200
    assert retry.json() == {"created": 2, "updated": 0}
    assert retry["Idempotent-Replayed"] == "true"
    assert count_rows() == before
    assert list(Reading.objects.order_by("id").values_list("updated_at", flat=True)) == stamps


def test_without_a_key_a_retry_runs_again(org, metric, writer):
    writer.post(api(org, BATCH_URL), BODY, format="json")
    again = writer.post(api(org, BATCH_URL), BODY, format="json")
    assert again.json() == {"created": 0, "updated": 2}
    assert "Idempotent-Replayed" not in again
    assert not IdempotencyRecord.objects.exists()


def test_the_same_key_with_another_body_is_a_422(org, metric, writer, count_rows):
    post_batch(writer, org)
    before = count_rows()
    other = {"readings": [item("dau", 99, "2026-02-01T00:00:00Z")]}
    response = post_batch(writer, org, other)
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["code"] == "idempotency_key_reused"
    assert count_rows() == before
    assert Reading.objects.get(observed_at="2026-02-01T00:00:00Z").value == 5


def test_a_refused_batch_is_not_stored_so_a_corrected_retry_runs(org, metric, writer):
    bad = {"readings": [item("dau", "five", "2026-02-01T00:00:00Z")]}
    assert post_batch(writer, org, bad).status_code == 400
    assert not IdempotencyRecord.objects.exists()
    assert post_batch(writer, org, bad).status_code == 400

    corrected = post_batch(writer, org)
    assert corrected.status_code == 200, corrected.content
    assert "Idempotent-Replayed" not in corrected
    assert Reading.objects.count() == 2


def test_keys_are_scoped_to_the_credential(org, metric, writer, key_client_for, client_for, admin):
    post_batch(writer, org)
    for client in (key_client_for(org, scopes=(Scope.READINGS_WRITE,)), client_for(admin)):
        response = post_batch(client, org)
        assert response.status_code == 200, response.content
        assert response.json() == {"created": 0, "updated": 2}
        assert "Idempotent-Replayed" not in response
    assert IdempotencyRecord.objects.count() == 3


def test_keys_are_scoped_to_the_org(org, other_org, metric, member, client_for):
    MetricFactory(goal=GoalFactory(organization=other_org), key="dau")
    MembershipFactory(organization=other_org, user=member, role=Role.MEMBER)
    client = client_for(member)
    assert post_batch(client, org).json() == {"created": 2, "updated": 0}
    elsewhere = post_batch(client, other_org)
    assert elsewhere.json() == {"created": 2, "updated": 0}
    assert "Idempotent-Replayed" not in elsewhere


def _claim(org, member, body=BODY, key="batch-0001", **fields):
    return IdempotencyRecord.objects.create(
        organization=org, credential=f"user:{member.pk}", key=key, request_hash=request_fingerprint(body), **fields
    )


def test_a_retry_while_the_first_is_running_is_a_409(org, metric, member, writer):
    _claim(org, member)
    response = post_batch(writer, org)
    assert response.status_code == 409, response.content
    assert response.json()["errors"][0]["code"] == "idempotency_in_progress"
    assert not Reading.objects.exists()


def test_a_running_claim_with_another_body_is_a_422(org, metric, member, writer):
    _claim(org, member, body={"readings": []})
    assert post_batch(writer, org).status_code == 422


def test_an_abandoned_claim_expires(org, metric, member, writer, settings):
    _claim(org, member, created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_STALE_SECONDS + 5))
    response = post_batch(writer, org)
    assert response.status_code == 200, response.content
    assert "Idempotent-Replayed" not in response
    assert Reading.objects.count() == 2


def test_a_stored_answer_is_kept_for_a_day(org, metric, member, writer, settings):
    _claim(org, member, response_status=200, response_body={"created": 7, "updated": 0})
    kept = post_batch(writer, org)
    assert (kept.json(), kept["Idempotent-Replayed"]) == ({"created": 7, "updated": 0}, "true")

    IdempotencyRecord.objects.update(
        created_at=timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS, seconds=1)
    )
    expired = post_batch(writer, org)
    assert expired.json() == {"created": 2, "updated": 0}
    assert "Idempotent-Replayed" not in expired


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_execute_once(org, metric, member, client_for):
    readings = [
        item("dau", n, iso(datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC) + timedelta(hours=n)))
        for n in range(2_000)
    ]
    body = {"readings": readings}
    clients = [client_for(member), client_for(member)]
    barrier = threading.Barrier(len(clients))
    responses: list = [None] * len(clients)

    def send(index):
        try:
            barrier.wait(timeout=10)
            responses[index] = post_batch(clients[index], org, body, key="concurrent")
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    fresh = [r for r in responses if r.status_code == 200 and "Idempotent-Replayed" not in r]
    others = [r for r in responses if r not in fresh]
    assert len(fresh) == 1, [(r.status_code, r.content[:200]) for r in responses]
    assert fresh[0].json() == {"created": 2_000, "updated": 0}
    [other] = others
    assert other.status_code in (200, 409), other.content
    if other.status_code == 200:
        assert other["Idempotent-Replayed"] == "true"
        assert other.json() == fresh[0].json()
    else:
        assert other.json()["errors"][0]["code"] == "idempotency_in_progress"
    assert Reading.objects.count() == 2_000
    assert IdempotencyRecord.objects.get().response_status == 200


def test_the_horizon_and_its_message_follow_the_setting_one_at_a_time_and_in_batches(org, metric, writer, settings):
    settings.READING_MAX_FUTURE_SECONDS = 60
    ahead = iso(timezone.now() + timedelta(minutes=2))
    one = writer.post(readings_url(org, metric), {"value": 1, "observed_at": ahead}, format="json")
    batch = writer.post(api(org, BATCH_URL), {"readings": [item("dau", observed_at=ahead)]}, format="json")
    assert [error["detail"] for error in one.json()["errors"]] == ["Must not be more than 1 minute in the future."]
    assert [error["detail"] for error in batch.json()["errors"]] == ["Must not be more than 1 minute in the future."]
