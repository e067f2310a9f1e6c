"""The Celery app. Every periodic job is declared here, in one place."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alignment_service.settings")

app = Celery("alignment_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
