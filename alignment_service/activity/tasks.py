from celery import shared_task

from alignment_service.activity.services import activity_purge


@shared_task(name="activity.purge", ignore_result=True)
def purge() -> int:
    return activity_purge()
