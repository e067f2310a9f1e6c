"""Thin adapters: load by id, return early when the work is done, call one service."""

from celery import shared_task
from django.utils import timezone

from feedback import engine
from feedback.models import ScoreJob
from teams.models import Organization


@shared_task(name="feedback.rescore_org", ignore_result=True)
def rescore_org(*, org_id: str) -> bool:
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return False
    engine.rescore_org(org=org)
    return True


@shared_task(name="feedback.run_score_job", ignore_result=True)
def run_score_job(*, org_id: str, job_id: str) -> str:
    claimed = ScoreJob.objects.filter(
        pk=job_id, organization_id=org_id, status__in=[ScoreJob.Status.QUEUED, ScoreJob.Status.RUNNING]
    ).update(status=ScoreJob.Status.RUNNING, started_at=timezone.now())
    if not claimed:
        return "done"
    job = ScoreJob.objects.select_related("organization").get(pk=job_id)
    try:
        engine.rescore_org(org=job.organization)
    except Exception as exc:
        ScoreJob.objects.filter(pk=job_id).update(
            status=ScoreJob.Status.FAILED, finished_at=timezone.now(), error=type(exc).__name__
        )
        raise
    ScoreJob.objects.filter(pk=job_id).update(status=ScoreJob.Status.SUCCEEDED, finished_at=timezone.now())
    return "succeeded"


@shared_task(name="feedback.rescore_all", ignore_result=True)
def rescore_all() -> int:
    """Time moves pace, staleness and review dates: owe every organization a rescore."""
    from django.db import transaction

    from goals.services import owe_rescore

    count = 0
    for org in Organization.objects.only("id"):
        with transaction.atomic():
            owe_rescore(org)
        count += 1
    return count
