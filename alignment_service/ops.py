"""Metrics for operators, in the Prometheus text format: outbox lag, queue depth, webhooks.

`GET /metrics` with `Authorization: Bearer <METRICS_TOKEN>`; without a configured token the
endpoint does not exist (404), so nothing is exposed by accident.
"""

import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from kombu.exceptions import ChannelError

from alignment_service.api.exceptions import json_error
from alignment_service.celery import app as celery_app
from alignment_service.notifications.webhooks import webhook_stats
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
    return HttpResponse(render(collect()), content_type="text/plain; version=0.0.4")


def collect() -> list[tuple[str, str, dict[str, str], float]]:
    """(name, help, labels, value) for every sample."""
    samples: list[tuple[str, str, dict[str, str], float]] = [
        ("alignment_outbox_pending", "Owed work not yet done by a worker.", {},
         OutboxMessage.objects.filter(completed_at__isnull=True).count()),
        ("alignment_outbox_lag_seconds", "Age of the oldest owed outbox row.", {}, outbox_lag_seconds()),
    ]  # fmt: skip
    depth = queue_depth()
    if depth is not None:
        samples.append(
            ("alignment_queue_depth", "Tasks waiting in the broker queue.",
             {"queue": celery_app.conf.task_default_queue}, depth)
        )  # fmt: skip
    stats = webhook_stats()
    disabled = stats.pop("endpoints_disabled")
    for status, count in sorted(stats.items()):
        samples.append(("alignment_webhook_deliveries", "Webhook deliveries by status.", {"status": status}, count))
    samples.append(("alignment_webhook_endpoints_disabled", "Endpoints switched off after failures.", {}, disabled))
    return samples


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


def render(samples: list[tuple[str, str, dict[str, str], float]]) -> str:
    lines, described = [], set()
    for name, help_text, labels, value in samples:
        if name not in described:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            described.add(name)
        label_text = ",".join(f'{key}="{val}"' for key, val in labels.items())
        lines.append(f"{name}{{{label_text}}} {value}" if label_text else f"{name} {value}")
    return "\n".join(lines) + "\n"
