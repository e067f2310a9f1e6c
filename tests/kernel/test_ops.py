"""Operator metrics: outbox lag, queue depth and webhook failures, behind a token."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from alignment_service.outbox.models import OutboxMessage
from alignment_service.outbox.services import outbox_enqueue


def test_metrics_do_not_exist_without_a_token(api_client, db, settings):
    settings.METRICS_TOKEN = ""
    assert api_client.get("/metrics").status_code == 404


@pytest.mark.parametrize("header", ["", "Bearer wrong", "Bearer s3cret-but-longer"])
def test_metrics_need_the_token(api_client, db, settings, header):
    settings.METRICS_TOKEN = "s3cret"
    response = api_client.get("/metrics", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_metrics_report_the_outbox_and_webhooks(api_client, org, settings):
    settings.METRICS_TOKEN = "s3cret"
    with transaction.atomic():
        outbox_enqueue(org=org, task_name="feedback.rescore_org", kwargs={}, dedupe_key="x")
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(seconds=120))
    response = api_client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
    assert response.status_code == 200
    lines = dict(line.rsplit(" ", 1) for line in response.content.decode().splitlines() if not line.startswith("#"))
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert float(lines["alignment_outbox_pending"]) == 1
    assert 119 <= float(lines["alignment_outbox_lag_seconds"]) <= 180
    assert float(lines['alignment_webhook_deliveries{status="failed"}']) == 0
    assert float(lines["alignment_webhook_endpoints_disabled"]) == 0
    assert "alignment_queue_depth" in response.content.decode()
    assert "# TYPE alignment_outbox_pending gauge" in response.content.decode()


def test_metrics_parse_as_prometheus_text(api_client, org, settings):
    from prometheus_client.parser import text_string_to_metric_families

    settings.METRICS_TOKEN = "s3cret"
    text = api_client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").content.decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert {
        "alignment_outbox_pending", "alignment_outbox_lag_seconds", "alignment_webhook_deliveries",
        "alignment_webhook_endpoints_disabled",
    } <= set(families)  # fmt: skip
    assert all(family.type == "gauge" for family in families.values())
