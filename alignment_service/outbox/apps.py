from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "alignment_service.outbox"
    label = "outbox"
    verbose_name = "Outbox of owed work"
