"""Recompute jobs: requests made meanwhile coalesce into one rescore, and a rescore that lost
a race leaves its jobs running for the retry instead of failing them."""

import pytest
from django.db import OperationalError
from psycopg import errors as pg_errors

from feedback import engine, tasks
from feedback.models import ScoreJob, ScoreSnapshot
from tests.factories import GoalFactory


@pytest.fixture
def jobs(org):
    GoalFactory(organization=org)
    return [ScoreJob.objects.create(organization=org) for _ in range(3)]


@pytest.fixture
def rescores(monkeypatch):
    calls = []
    real = engine.rescore_org
    monkeypatch.setattr(engine, "rescore_org", lambda *, org: calls.append(org.pk) or real(org=org))
    return calls


def statuses(jobs):
    return [ScoreJob.objects.get(pk=job.pk).status for job in jobs]


def test_one_run_does_every_waiting_job_of_the_org_with_one_rescore(org, jobs, rescores):
    assert tasks.run_score_job(org_id=str(org.pk), job_id=str(jobs[0].pk)) == "succeeded"
    assert rescores == [org.pk]
    assert statuses(jobs) == ["succeeded"] * 3
    assert tasks.run_score_job(org_id=str(org.pk), job_id=str(jobs[2].pk)) == "done"
    assert rescores == [org.pk]


def _deadlock() -> OperationalError:
    error = OperationalError("deadlock detected")
    error.__cause__ = pg_errors.DeadlockDetected("deadlock detected")
    return error


@pytest.mark.parametrize("lost_race", [engine.RescoreBusy("busy"), _deadlock()], ids=["busy", "deadlock"])
def test_a_rescore_that_lost_a_race_leaves_the_jobs_running_for_the_retry(org, jobs, monkeypatch, lost_race):
    def lose(*, org):
        raise lost_race

    monkeypatch.setattr(engine, "rescore_org", lose)
    with pytest.raises(type(lost_race)):
        tasks.run_score_job(org_id=str(org.pk), job_id=str(jobs[0].pk))
    assert statuses(jobs) == ["running"] * 3

    monkeypatch.undo()
    assert tasks.run_score_job(org_id=str(org.pk), job_id=str(jobs[0].pk)) == "succeeded"
    assert statuses(jobs) == ["succeeded"] * 3


def test_a_rescore_that_fails_for_a_bug_fails_its_jobs(org, jobs, monkeypatch):
    def broken(*, org):
        raise ZeroDivisionError

    monkeypatch.setattr(engine, "rescore_org", broken)
    with pytest.raises(ZeroDivisionError):
        tasks.run_score_job(org_id=str(org.pk), job_id=str(jobs[0].pk))
    assert statuses(jobs) == ["failed"] * 3
    assert ScoreJob.objects.get(pk=jobs[0].pk).error == "ZeroDivisionError"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_second_rescore_of_the_same_org_finds_it_busy(org):
    import threading

    from django.db import connections, transaction

    from alignment_service.db import try_org_lock

    held, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            assert try_org_lock("rescore", org.pk)
            held.set()
            release.wait(10)
        connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        with pytest.raises(engine.RescoreBusy):
            engine.rescore_org(org=org)
    finally:
        release.set()
        holder.join()
    engine.rescore_org(org=org)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_score_two_organizations_at_once(org, other_org, monkeypatch):
    """The rescore lock is per organization: two rescores of two organizations are inside the
    engine at the same moment (each waits there for the other)."""
    import threading

    from django.db import connections

    for target in (org, other_org):
        GoalFactory(organization=target)
    both_inside = threading.Barrier(2, timeout=10)
    score_world = engine.score_world

    def meet(world, target):
        both_inside.wait()
        return score_world(world, target)

    monkeypatch.setattr(engine, "score_world", meet)
    errors: list[BaseException] = []

    def rescore(target):
        try:
            engine.rescore_org(org=target)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=rescore, args=(target,)) for target in (org, other_org)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(20)
    assert errors == []
    assert all(ScoreSnapshot.objects.filter(organization=target).exists() for target in (org, other_org))
