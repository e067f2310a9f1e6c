"""Readings one at a time: upsert per instant, validation of value and instant, and the
cursor-paginated history with its bounds."""

import datetime
from datetime import timedelta

import pytest
from django.utils import timezone

from goals.models import Reading
from tests.factories import GoalFactory, MetricFactory
from tests.goals.readings_support import assert_validation_error, error_attrs, iso, readings_url
from tests.goals.support import api

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
