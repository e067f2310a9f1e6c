from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    name = "alignment_service.idempotency"
    label = "idempotency"
    verbose_name = "Idempotency keys"
