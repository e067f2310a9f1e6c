from celery import shared_task

from alignment_service.notifications.services import notifications_purge


@shared_task(name="notifications.purge", ignore_result=True)
def purge() -> int:
    return notifications_purge()
