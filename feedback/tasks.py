"""Thin adapters: load by id, return early when the work is done, call one service."""

from celery import shared_task
from django.db import transaction

from alignment_service.outbox.services import owed_task
from feedback import engine, services
from feedback.models import ScoreJob
from teams.models import Organization


@owed_task(name="feedback.rescore_org", retry_on=(engine.RescoreBusy,))
def rescore_org(*, org_id: str, goal_ids: list[str] | None = None, team_ids: list[str] | None = None) -> bool:
    """The whole organization, or (owed by a write) what the goals and teams it touched can move."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return False
    engine.rescore_org(org=org, goal_ids=goal_ids, team_ids=team_ids)
    return True


@owed_task(name="feedback.run_score_job", retry_on=(engine.RescoreBusy,))
def run_score_job(*, org_id: str, job_id: str) -> str:
    """Run the requested recompute, and with it every other job of the organization waiting
    for one (requests made meanwhile coalesce into this run)."""
    if not ScoreJob.objects.filter(pk=job_id, organization_id=org_id, status__in=ScoreJob.ACTIVE).exists():
        return "done"
    return services.score_jobs_run(org_id=org_id)


@shared_task(name="feedback.rescore_all", ignore_result=True)
def rescore_all() -> int:
    """Time moves pace, staleness and review dates: owe every organization a rescore."""
    from goals.services import owe_rescore

    count = 0
    for org in Organization.objects.only("id"):
        with transaction.atomic():
            owe_rescore(org)
        count += 1
    return count
