"""Liveness and readiness for orchestrators: the database gates readiness, the broker does not."""

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse

from alignment_service.celery import app as celery_app

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    database = _database_status()
    body = {"database": database, "broker": _broker_status()}
    return JsonResponse(body, status=200 if database == "ok" else 503)


def _database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception:
        logger.warning("Database unreachable", exc_info=True)
        return "down"


def _broker_status() -> str:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=celery_app.conf.broker_connection_timeout)
        return "ok"
    except Exception:
        logger.warning("Broker unreachable", exc_info=True)
        return "down"
