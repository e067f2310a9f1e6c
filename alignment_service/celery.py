"""The Celery app. Every periodic job is declared here, in one place."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alignment_service.settings")

app = Celery("alignment_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def require_secret_key(**_: object) -> None:
    """Workers and beat start only with a signing key, as the web server does. (Celery logs and
    ignores an exception raised by a signal handler; it does not catch `SystemExit`.)"""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        _ = settings.SECRET_KEY
    except ImproperlyConfigured as empty:
        raise SystemExit(f"{empty} Set DJANGO_SECRET_KEY: no worker starts without it.") from None


@app.on_after_finalize.connect
def declare_periodic_jobs(sender: Celery, **_: object) -> None:
    from django.conf import settings

    sender.conf.beat_schedule = {
        "outbox-drain": {
            "task": "outbox.drain",
            "schedule": settings.OUTBOX_DRAIN_INTERVAL_SECONDS,
            "options": {"expires": settings.OUTBOX_DRAIN_INTERVAL_SECONDS * 3},
        },
        "outbox-purge": {"task": "outbox.purge", "schedule": 3600.0},
        "rescore-all": {"task": "feedback.rescore_all", "schedule": settings.RESCORE_INTERVAL_SECONDS},
        "auth-tokens-purge": {"task": "teams.purge_expired_tokens", "schedule": 3600.0},
        "invitations-purge": {"task": "teams.purge_invitations", "schedule": 86400.0},
        "idempotency-purge": {"task": "idempotency.purge", "schedule": 3600.0},
        "activity-purge": {"task": "activity.purge", "schedule": 86400.0},
        "notifications-purge": {"task": "notifications.purge", "schedule": 86400.0},
        "webhooks-deliver-due": {
            "task": "webhooks.deliver_due",
            "schedule": settings.WEBHOOK_DELIVER_INTERVAL_SECONDS,
            "options": {"expires": settings.WEBHOOK_DELIVER_INTERVAL_SECONDS * 3},
        },
        "webhooks-purge": {"task": "webhooks.purge", "schedule": 3600.0},
    }
