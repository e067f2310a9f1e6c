"""Shared by the readings tests: their URLs, instants as the API writes them, and the error
body's attrs in the order the API lists them; the batch URL and its items."""

from tests.goals.support import api


def error_attrs(response):
    return [error["attr"] for error in response.json()["errors"]]


def assert_validation_error(response, *attrs):
    assert response.status_code == 400, response.content
    assert response.json()["type"] == "validation_error"
    assert set(attrs) <= set(error_attrs(response)), response.json()


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def readings_url(org, metric):
    return api(org, f"metrics/{metric.pk}/readings/")


BATCH_URL = "readings/batch/"


def item(metric_ref, value=1, observed_at="2026-02-01T00:00:00Z", **extra):
    return {"metric": metric_ref, "value": value, "observed_at": observed_at, **extra}
