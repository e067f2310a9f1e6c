"""Metrics for operators, in the Prometheus exposition format (rendered by `prometheus_client`):
outbox lag, queue depth, webhooks.

`GET /metrics` with `Authorization: Bearer <METRICS_TOKEN>`; without a configured token the
endpoint does not exist (404), so nothing is exposed by accident. Values are read from the
database and the broker at scrape time, so every process answers the same.
"""

import hmac
import logging
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from kombu.exceptions import ChannelError
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from alignment_service.api.exceptions import json_error
from alignment_service.celery import app as celery_app
from alignment_service.notifications.selectors import webhook_stats
from alignment_service.outbox.models import OutboxMessage
from alignment_service.outbox.services import outbox_lag_seconds

logger = logging.getLogger(__name__)


def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        return json_error(404, "not_found", "Not found.")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        response = json_error(401, "not_authenticated", "A valid metrics token is required.")
        response["WWW-Authenticate"] = "Bearer"
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AlignmentCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)


class AlignmentCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        pending = OutboxMessage.objects.filter(completed_at__isnull=True).count()
        yield GaugeMetricFamily("alignment_outbox_pending", "Owed work not yet done by a worker.", pending)
        yield GaugeMetricFamily(
            "alignment_outbox_lag_seconds", "Age of the oldest owed outbox row.", outbox_lag_seconds()
        )
        depth = queue_depth()
        if depth is not None:
            queue = GaugeMetricFamily("alignment_queue_depth", "Tasks waiting in the broker queue.", labels=["queue"])
            queue.add_metric([celery_app.conf.task_default_queue], depth)
            yield queue
        stats = webhook_stats()
        disabled = stats.pop("endpoints_disabled")
        deliveries = GaugeMetricFamily(
            "alignment_webhook_deliveries", "Webhook deliveries by status.", labels=["status"]
        )
        for status, count in sorted(stats.items()):
            deliveries.add_metric([status], count)
        yield deliveries
        yield GaugeMetricFamily(
            "alignment_webhook_endpoints_disabled", "Endpoints switched off after failures.", disabled
        )


def queue_depth() -> int | None:
    """Messages waiting in the default queue, or None when the broker cannot be asked."""
    queue = celery_app.conf.task_default_queue
    try:
        with celery_app.connection_for_read() as connection:
            try:
                return int(connection.default_channel.queue_declare(queue=queue, passive=True).message_count)
            except ChannelError:  # an empty queue does not exist on Redis
                return 0
    except Exception:
        logger.warning("Broker unreachable for the queue depth", exc_info=True)
        return None
