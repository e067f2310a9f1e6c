from celery import shared_task

from alignment_service.outbox.services import outbox_dispatch_pending, outbox_purge


@shared_task(name="outbox.drain", ignore_result=True)
def drain() -> int:
    return outbox_dispatch_pending()


@shared_task(name="outbox.purge", ignore_result=True)
def purge() -> int:
    return outbox_purge()
