from celery import shared_task

from alignment_service.idempotency.services import idempotency_purge


@shared_task(name="idempotency.purge", ignore_result=True)
def purge() -> int:
    return idempotency_purge()
