"""Recompute jobs over HTTP: an admin or owner asks for a rescore and polls its job; a failing
engine fails it; `feedback.run_score_job` runs a job once, for its own org only; members,
viewers and API keys may not ask; jobs of another org are 404."""

from urllib.parse import urlsplit

import pytest

from alignment_service.access import Role, Scope
from alignment_service.outbox.models import OutboxMessage
from feedback import engine, tasks
from feedback.models import ScoreJob, ScoreSnapshot
from tests.feedback.scores.support import T, api, assert_status, build, snapshot

# --- Recompute jobs --------------------------------------------------------------------------------


def request_recompute(client, org):
    response = client.post(api(org, "scores/recompute/"))
    assert_status(response, 202)
    return response.json()


def test_an_admin_asks_for_a_recompute_and_polls_the_job(org, admin, client_for):
    build(org)
    client = client_for(admin)

    job = request_recompute(client, org)

    assert set(job) >= {"id", "status", "url"}
    assert job["status"] == "queued"
    url = urlsplit(job["url"])
    assert (url.scheme, url.netloc) == ("http", "testserver")
    assert url.path == f"/api/v1/orgs/{org.slug}/scores/jobs/{job['id']}/"
    polled = client.get(job["url"])
    assert_status(polled, 200)
    assert (polled.json()["id"], polled.json()["status"]) == (job["id"], "queued")
    owed = OutboxMessage.objects.filter(organization=org, task_name="feedback.run_score_job")
    assert [m.kwargs for m in owed] == [{"org_id": str(org.pk), "job_id": job["id"]}]
    assert not ScoreSnapshot.objects.filter(organization=org).exists()

    assert tasks.run_score_job(org_id=str(org.pk), job_id=job["id"]) == "succeeded"

    assert client.get(job["url"]).json()["status"] == "succeeded"
    made = ScoreSnapshot.objects.filter(organization=org).count()
    assert made == 4 + 1 + 1
    assert client.get(api(org, "scores/")).json()["results"]

    assert tasks.run_score_job(org_id=str(org.pk), job_id=job["id"]) == "done"

    assert ScoreSnapshot.objects.filter(organization=org).count() == made
    assert client.get(job["url"]).json()["status"] == "succeeded"


def test_the_owner_may_recompute_too(org, owner, client_for):
    assert request_recompute(client_for(owner), org)["status"] == "queued"


def test_a_failing_engine_fails_the_job(org, admin, client_for, monkeypatch):
    build(org)
    client = client_for(admin)
    job = request_recompute(client, org)

    def explode(**kwargs):
        raise RuntimeError("engine down")

    monkeypatch.setattr(engine, "rescore_org", explode)

    with pytest.raises(RuntimeError):
        tasks.run_score_job(org_id=str(org.pk), job_id=job["id"])

    polled = client.get(job["url"])
    assert polled.json()["status"] == "failed"
    assert ScoreJob.objects.get(pk=job["id"]).finished_at is not None
    assert not ScoreSnapshot.objects.filter(organization=org).exists()
    assert tasks.run_score_job(org_id=str(org.pk), job_id=job["id"]) == "done"


def test_a_job_of_another_org_is_not_run_for_this_one(org, other_org):
    job = ScoreJob.objects.create(organization=other_org)

    assert tasks.run_score_job(org_id=str(org.pk), job_id=str(job.pk)) == "done"

    job.refresh_from_db()
    assert job.status == "queued"


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_may_not_recompute(org, member_of, client_for, count_rows, role):
    client = client_for(member_of(org, role))
    before = count_rows()

    response = client.post(api(org, "scores/recompute/"))

    assert_status(response, 403)
    assert count_rows() == before
    assert_status(client.get(api(org, "scores/")), 200)


def test_an_api_key_with_read_lists_but_may_not_recompute(org, key_client_for, count_rows):
    mine = snapshot(org, "goal", "g", 10, T)
    client = key_client_for(org, (Scope.READ,))

    response = client.get(api(org, "scores/"))
    assert_status(response, 200)
    assert [item["id"] for item in response.json()["results"]] == [mine.pk]

    before = count_rows()
    assert_status(client.post(api(org, "scores/recompute/")), 403)
    assert count_rows() == before


def test_an_api_key_with_readings_write_only_may_not_list(org, key_client_for):
    client = key_client_for(org, (Scope.READINGS_WRITE,))

    assert_status(client.get(api(org, "scores/")), 403)


def test_an_api_key_with_read_can_poll_a_job(org, key_client_for):
    job = ScoreJob.objects.create(organization=org)

    response = key_client_for(org, (Scope.READ,)).get(api(org, f"scores/jobs/{job.pk}/"))

    assert_status(response, 200)
    assert response.json()["status"] == "queued"


def test_jobs_of_another_org_are_404(org, other_org, admin, outsider, client_for):
    theirs = ScoreJob.objects.create(organization=other_org)
    mine = ScoreJob.objects.create(organization=org)
    client = client_for(admin)

    assert_status(client.get(api(org, f"scores/jobs/{theirs.pk}/")), 404)
    assert_status(client.get(api(org, "scores/jobs/not-a-uuid/")), 404)
    assert_status(client.get(api(org, f"scores/jobs/{mine.pk}/")), 200)
    assert_status(client_for(outsider).get(api(org, f"scores/jobs/{mine.pk}/")), 404)
    assert_status(client_for(outsider).post(api(org, "scores/recompute/")), 404)
