"""Alignment scores: `/orgs/{org}/scores/` and the recompute job.

Every snapshot explains itself (its components add up to its score, which stays within
0..100); the list is cursor paginated newest first and filtered by subject and time; an admin
asks for a recompute and polls the job that `feedback.run_score_job` runs (once); the engine
writes a snapshot only when something changed, scores identical inputs identically, and stores
a goal's latest score on the goal.
"""

import datetime
from urllib.parse import urlsplit

import pytest

from alignment_service.access import Role, Scope
from alignment_service.outbox.models import OutboxMessage
from feedback import engine, tasks
from feedback.models import Assessment, CheckIn, ScoreJob, ScoreSnapshot
from goals.models import Goal, GoalStrategy, Reading
from goals.services import goals_refresh_progress, metrics_refresh
from tests.factories import GoalFactory, MetricFactory, OrganizationFactory, PillarFactory, TeamFactory

UTC = datetime.UTC
DAY = datetime.timedelta(days=1)
#: About 75 % into the factories' 2026 window.
T = datetime.datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
SNAPSHOT_FIELDS = {"id", "subject_type", "subject_id", "score", "components", "computed_at"}
COMPONENTS = {"linkage", "pace", "forecast", "confidence", "assessment", "feedback", "freshness"}
DEFAULT_WEIGHTS = {
    "linkage": 10, "pace": 25, "forecast": 20, "confidence": 15, "assessment": 10, "feedback": 10, "freshness": 10,
}  # fmt: skip


def api(org, path=""):
    return f"/api/v1/orgs/{org.slug}/{path}"


def assert_status(response, status_code, code=None):
    assert response.status_code == status_code, response.content
    if code is not None:
        assert code in {error["code"] for error in response.json()["errors"]}, response.json()


def assert_invalid(response, *fields):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation_error", body
    assert {error["attr"] for error in body["errors"]} == set(fields), body


def record(org, metric, *points):
    """Readings `(days before T, value)` for `metric`, then the derived values refreshed."""
    for days_before, value in points:
        Reading.objects.create(organization=org, metric=metric, observed_at=T - days_before * DAY, value=value)
    metrics_refresh(org=org, metric_ids=[metric.pk])
    goals_refresh_progress(org=org)


def goal_with(org, *points, title=None, **fields):
    """An active goal with one metric (0 → 100) and the given readings."""
    extra = {"title": title} if title else {}
    goal = GoalFactory(organization=org, status="active", **extra, **fields)
    metric = MetricFactory(goal=goal, organization=org)
    if points:
        record(org, metric, *points)
    return goal, metric


def build(org):
    """A small organization: an off-track team goal, an on-track one, one without data, and a
    company goal (deterministic titles, so two organizations can be built alike)."""
    lead_team = TeamFactory(organization=org, name="Players")
    goal_with(org, (1, 10.0), (40, 5.0), title="Behind", team=lead_team)
    goal_with(org, (1, 80.0), (40, 70.0), title="Ahead", team=lead_team)
    goal_with(org, title="Silent", team=lead_team)
    goal_with(org, (2, 60.0), title="Company")
    return lead_team


def snapshot(org, subject_type, subject_id, score, when, components=None):
    return ScoreSnapshot.objects.create(
        organization=org, subject_type=subject_type, subject_id=str(subject_id), score=score,
        components=components or {"pace": score}, computed_at=when,
    )  # fmt: skip


def walk(client, url):
    """Every item of a cursor-paginated list, following `next`; also the pages seen."""
    items, pages = [], []
    while url:
        response = client.get(url)
        assert_status(response, 200)
        body = response.json()
        pages.append(body)
        items.extend(body["results"])
        url = body["next"]
    return items, pages


def latest(org, subject_type, subject_id):
    return (
        ScoreSnapshot.objects.filter(organization=org, subject_type=subject_type, subject_id=str(subject_id))
        .order_by("-computed_at", "-id")
        .first()
    )


# --- Shape and the arithmetic of every snapshot ------------------------------------------------


def test_every_snapshot_explains_itself(org, viewer, client_for):
    team = build(org)
    engine.rescore_org(org=org, now=T)

    items, _ = walk(client_for(viewer), api(org, "scores/"))

    goals = {str(g.pk) for g in Goal.objects.filter(organization=org)}
    assert {(i["subject_type"], i["subject_id"]) for i in items} == (
        {("goal", g) for g in goals} | {("team", str(team.pk)), ("org", str(org.pk))}
    )
    for item in items:
        assert set(item) == SNAPSHOT_FIELDS
        assert set(item["components"]) == COMPONENTS
        assert all(isinstance(value, int | float) for value in item["components"].values())
        assert sum(item["components"].values()) == pytest.approx(item["score"], abs=0.005)
        assert 0 <= item["score"] <= 100
        assert datetime.datetime.fromisoformat(item["computed_at"]) == T
    scores = {i["subject_id"]: i["score"] for i in items if i["subject_type"] == "goal"}
    titles = {str(g.pk): g.title for g in Goal.objects.filter(organization=org)}
    by_title = {titles[pk]: score for pk, score in scores.items()}
    assert by_title["Behind"] < by_title["Ahead"]


def test_a_goal_perfect_on_every_component_scores_100(org):
    goal = perfect_goal(org)

    engine.rescore_org(org=org, now=T)

    snap = latest(org, "goal", goal.pk)
    assert snap.components == pytest.approx(DEFAULT_WEIGHTS)
    assert snap.score == 100


def perfect_goal(org):
    """A goal whose every component has quality 1: in the cascade with a pillar, ahead of pace,
    forecast past target, fresh data, a confident recent check-in, its team assessed 5/5."""
    team = TeamFactory(organization=org)
    parent = GoalFactory(organization=org, status="active", title="Company")
    goal, _metric = goal_with(org, (1, 80.0), (30, 70.0), (60, 60.0), team=team, parent=parent, title="Perfect")
    GoalStrategy.objects.create(organization=org, goal=goal, pillar=PillarFactory(organization=org))
    CheckIn.objects.create(organization=org, goal=goal, summary="fine", confidence=10, created_at=T - DAY)
    Assessment.objects.create(
        organization=org, team=team, alignment=5, confidence=5, quadrant="full_support", recommended_mode="scalable",
        created_at=T - DAY,
    )  # fmt: skip
    return goal


def test_scores_stay_within_100_whatever_the_weights(org):
    org.settings = {f"weight_{name}": 1 for name in COMPONENTS}
    org.save()
    goal = perfect_goal(org)

    engine.rescore_org(org=org, now=T)

    goal.refresh_from_db()
    assert goal.alignment_score is not None
    assert goal.alignment_score <= 100
    snap = latest(org, "goal", goal.pk)
    assert snap is not None
    assert 99.9 <= snap.score <= 100
    assert sum(snap.components.values()) == pytest.approx(snap.score, abs=0.005)


# --- Pagination and filters --------------------------------------------------------------------


def test_cursor_pagination_newest_first_without_count(org, viewer, client_for):
    made = [snapshot(org, "goal", f"g{n % 3}", 50 + n, T + n * DAY) for n in range(5)]
    same_instant = snapshot(org, "team", "t", 40, T + 4 * DAY)

    items, pages = walk(client_for(viewer), api(org, "scores/?limit=2"))

    expected = [same_instant, made[4], made[3], made[2], made[1], made[0]]
    assert [item["id"] for item in items] == [s.pk for s in expected]
    assert [len(page["results"]) for page in pages] == [2, 2, 2]
    for page in pages:
        assert "count" not in page
        assert set(page) == {"next", "previous", "results"}
    assert urlsplit(pages[0]["next"]).scheme == "http"
    assert urlsplit(pages[0]["next"]).netloc == "testserver"
    assert pages[0]["previous"] is None
    assert pages[1]["previous"] is not None


def test_filters(org, viewer, client_for):
    g1 = snapshot(org, "goal", "g1", 10, T)
    g1_later = snapshot(org, "goal", "g1", 20, T + DAY)
    g2 = snapshot(org, "goal", "g2", 30, T + 2 * DAY)
    team = snapshot(org, "team", "g1", 40, T + 3 * DAY)
    whole = snapshot(org, "org", org.pk, 50, T + 4 * DAY)
    client = client_for(viewer)

    def ids(**params):
        response = client.get(api(org, "scores/"), params)
        assert_status(response, 200)
        return [item["id"] for item in response.json()["results"]]

    assert ids() == [whole.pk, team.pk, g2.pk, g1_later.pk, g1.pk]
    assert ids(subject_type="goal") == [g2.pk, g1_later.pk, g1.pk]
    assert ids(subject_type="org") == [whole.pk]
    assert ids(subject_type="goal", subject_id="g1") == [g1_later.pk, g1.pk]
    assert ids(subject_id="g1") == [team.pk, g1_later.pk, g1.pk]
    assert ids(since=(T + DAY).isoformat()) == [whole.pk, team.pk, g2.pk, g1_later.pk]
    assert ids(since=(T + DAY).isoformat(), subject_type="goal") == [g2.pk, g1_later.pk]
    assert_invalid(client.get(api(org, "scores/"), {"subject_type": "planet"}), "subject_type")
    assert_invalid(client.get(api(org, "scores/"), {"since": "2026-10-01T12:00:00"}), "since")


def test_another_orgs_snapshots_never_show(org, other_org, viewer, outsider, client_for):
    mine = snapshot(org, "goal", "g", 10, T)
    snapshot(other_org, "goal", "g", 20, T + DAY)

    response = client_for(viewer).get(api(org, "scores/"))

    assert [item["id"] for item in response.json()["results"]] == [mine.pk]
    assert_status(client_for(outsider).get(api(org, "scores/")), 404)


SCORES_QUERIES = 2


@pytest.mark.parametrize("size", [3, 30])
def test_list_query_count(org, viewer, client_for, django_assert_num_queries, size):
    ScoreSnapshot.objects.bulk_create(
        ScoreSnapshot(organization=org, subject_type="goal", subject_id=f"g{n}", score=n, components={"pace": n},
                      computed_at=T + n * DAY)
        for n in range(size)
    )  # fmt: skip
    client = client_for(viewer)

    with django_assert_num_queries(SCORES_QUERIES):
        response = client.get(api(org, "scores/"))

    assert len(response.json()["results"]) == size


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


# --- The engine's snapshots -----------------------------------------------------------------------


def test_unchanged_inputs_create_no_new_snapshots(org):
    team = TeamFactory(organization=org)
    goal_with(org, (1, 80.0), (40, 70.0), team=team)
    goal_with(org, team=team)
    first = engine.rescore_org(org=org, now=T)
    rows = list(ScoreSnapshot.objects.filter(organization=org).values_list("id", flat=True))
    assert first.snapshots == len(rows) == 2 + 1 + 1

    second = engine.rescore_org(org=org, now=T + datetime.timedelta(hours=1))

    assert second.snapshots == 0
    assert list(ScoreSnapshot.objects.filter(organization=org).values_list("id", flat=True)) == rows


def test_a_change_writes_snapshots_only_for_what_changed(org):
    team = TeamFactory(organization=org)
    other_team = TeamFactory(organization=org)
    changing, _ = goal_with(org, (1, 80.0), team=team)
    steady, _ = goal_with(org, (1, 80.0), team=other_team)
    engine.rescore_org(org=org, now=T)

    CheckIn.objects.create(organization=org, goal=changing, summary="worried", confidence=1, created_at=T)
    engine.rescore_org(org=org, now=T + datetime.timedelta(hours=1))

    def count(subject_type, subject_id):
        return ScoreSnapshot.objects.filter(organization=org, subject_type=subject_type, subject_id=str(subject_id))

    assert count("goal", changing.pk).count() == 2
    assert count("team", team.pk).count() == 2
    assert count("org", org.pk).count() == 2
    assert count("goal", steady.pk).count() == 1
    assert count("team", other_team.pk).count() == 1
    newest = latest(org, "goal", changing.pk)
    assert newest.components["confidence"] == pytest.approx(1.5)
    assert newest.computed_at == T + datetime.timedelta(hours=1)


def test_identical_inputs_score_identically(db):
    first, second = OrganizationFactory(), OrganizationFactory()
    build(first)
    build(second)

    engine.rescore_org(org=first, now=T)
    engine.rescore_org(org=second, now=T)

    def scores(org):
        names = {str(g.pk): g.title for g in Goal.objects.filter(organization=org)}
        names |= {str(t.pk): t.name for t in org.teams.all()} | {str(org.pk): "org"}
        return {
            (s.subject_type, names[s.subject_id]): (s.score, s.components)
            for s in ScoreSnapshot.objects.filter(organization=org)
        }

    assert scores(first) == scores(second)
    assert len(scores(first)) == 6


def test_a_goals_alignment_score_is_its_latest_snapshots(org, viewer, client_for):
    team = TeamFactory(organization=org)
    goal, metric = goal_with(org, (40, 10.0), team=team)
    engine.rescore_org(org=org, now=T - 30 * DAY)
    record(org, metric, (1, 90.0))
    engine.rescore_org(org=org, now=T)
    assert ScoreSnapshot.objects.filter(organization=org, subject_type="goal", subject_id=str(goal.pk)).count() == 2

    goal.refresh_from_db()
    newest = latest(org, "goal", goal.pk)
    assert goal.alignment_score == newest.score
    body = client_for(viewer).get(api(org, f"goals/{goal.pk}/")).json()
    assert body["alignment_score"] == newest.score
