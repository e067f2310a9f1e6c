"""An integration pushes a year of the demo's readings in a few batch calls; the goals then show
progress, health and forecast that match the documented formulas, computed here from scratch."""

import time

import pytest
from django.core.management import call_command

from alignment_service.access import Scope
from goals import formulas
from goals.models import Goal, Metric, Reading
from goals.services import goals_refresh_progress, metrics_refresh
from teams.demo import DEMO_ORG_SLUG
from teams.models import Organization

BATCH = 10_000


@pytest.fixture
def demo_without_readings(db):
    call_command("load_demo")
    org = Organization.objects.get(slug=DEMO_ORG_SLUG)
    year = [
        {"metric": key, "value": value, "observed_at": observed_at.isoformat()}
        for key, observed_at, value in Reading.objects.filter(organization=org)
        .order_by("observed_at", "metric__key")
        .values_list("metric__key", "observed_at", "value")
    ]
    Reading.objects.filter(organization=org).delete()
    metrics_refresh(org=org, metric_ids=Metric.objects.filter(organization=org).values_list("id", flat=True))
    goals_refresh_progress(org=org)
    return org, year


def test_a_year_of_readings_in_a_few_batch_calls(demo_without_readings, key_client_for):
    org, year = demo_without_readings
    assert Goal.objects.filter(organization=org, progress__isnull=False).count() == 0
    client = key_client_for(org, scopes=(Scope.READINGS_WRITE,))
    calls = [year[start : start + BATCH] for start in range(0, len(year), BATCH)]
    assert 1 <= len(calls) <= 3
    for chunk in calls:
        response = client.post(f"/api/v1/orgs/{org.slug}/readings/batch/", {"readings": chunk}, format="json")
        assert response.status_code == 200, response.content[:500]
        assert response.json() == {"created": len(chunk), "updated": 0}

    now = time.time()
    settings = org.effective_settings
    reader = key_client_for(org, scopes=(Scope.READ,))
    metrics = {m["key"]: m for m in _all(reader, f"/api/v1/orgs/{org.slug}/metrics/")}
    for metric in Metric.objects.filter(organization=org):
        readings = Reading.objects.filter(metric=metric).order_by("observed_at")
        points = [formulas.Point(at.timestamp(), value) for at, value in readings.values_list("observed_at", "value")]
        latest = points[-1]
        expected_forecast = formulas.forecast(
            points, end_ts=metric.window_end_ts, now_ts=latest.ts, window_days=settings["forecast_window_days"]
        )
        shown = metrics[metric.key]
        assert shown["current"] == latest.value
        assert shown["forecast"] == pytest.approx(expected_forecast, rel=1e-9)
        assert shown["progress"] == pytest.approx(
            formulas.progress(baseline=metric.baseline, target=metric.target, current=latest.value)
        )

    goals = _all(reader, f"/api/v1/orgs/{org.slug}/goals/")
    for goal in goals:
        own = [
            metrics[m.key] for m in Metric.objects.filter(goal_id=goal["id"], role="key_result")
        ]  # guardrails never count
        expected = formulas.weighted_mean((m["progress"], m["weight"]) for m in own)
        assert goal["progress"] == pytest.approx(expected)
        stored = Goal.objects.get(pk=goal["id"])
        elapsed = formulas.expected_progress(start_ts=stored.window_start_ts, end_ts=stored.window_end_ts, now_ts=now)
        assert goal["expected_progress"] == pytest.approx(elapsed, abs=1e-4)
        assert goal["health"] == formulas.health(
            progress=goal["progress"],
            expected=elapsed,
            tolerance=settings["health_tolerance"],
            at_risk_gap=settings["at_risk_gap"],
        )
    health = [goal["health"] for goal in goals]
    assert health.count(formulas.OFF_TRACK) >= 2
    assert health.count(formulas.ON_TRACK) >= 8


def _all(client, url):
    items = []
    while url:
        body = client.get(url, {"limit": 200} if "?" not in url else None).json()
        items += body["results"]
        url = body["next"]
    return items
