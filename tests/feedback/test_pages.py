"""The pages people look at: sign-in, the all-hands view, frozen all-hands, goal and team pages.

Pages apply the API's access rules (a member sees the organization, anyone else gets 404), draw
the dashboard's own numbers, load in a fixed number of queries and need nothing from the
network."""

import datetime
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from alignment_service.access import Role
from feedback import engine, history
from feedback.models import AllHandsSnapshot, Assessment, CheckIn
from feedback.pages.charts import number
from goals.models import Goal, Reading
from goals.services import goals_refresh_progress, metrics_refresh
from teams.demo import DEMO_ORG_SLUG, DEMO_PASSWORD, DEMO_USERNAME
from teams.models import Organization, Team
from tests.factories import GoalFactory, MembershipFactory, MetricFactory, TeamFactory, UserFactory

DAY = datetime.timedelta(days=1)
PASSWORD = "a-long-test-password-42"


def build_org(org, *, teams, goals_per_team, metrics_per_goal=1):
    """Teams with goals, metrics with a month of readings, check-ins, assessments, a rescore and
    four weeks of backfilled history."""
    now = datetime.datetime.now(datetime.UTC)
    lead = UserFactory()
    MembershipFactory(organization=org, user=lead, role=Role.MEMBER)
    company = GoalFactory(organization=org, team=None, title="Company goal")
    for t in range(teams):
        team = TeamFactory(organization=org, name=f"Team {t:02d}", lead=lead)
        for g in range(goals_per_team):
            goal = GoalFactory(organization=org, team=team, parent=company, owner=lead, title=f"Goal {t}.{g}")
            for _ in range(metrics_per_goal):
                metric = MetricFactory(goal=goal, organization=org, stale_after_days=7)
                Reading.objects.bulk_create(
                    Reading(organization=org, metric=metric, observed_at=now - d * DAY, value=60 - d + t)
                    for d in range(30, 0, -1)
                )
            CheckIn.objects.create(
                organization=org, goal=goal, author=lead, summary="ok", confidence=3 + t % 7, created_at=now - 3 * DAY
            )
        Assessment.objects.create(
            organization=org, team=team, alignment=1 + t % 5, confidence=1 + (t * 2) % 5, quadrant="critical",
            recommended_mode="critical", created_at=now - 10 * DAY,
        )  # fmt: skip
    Goal.objects.filter(organization=org).update(created_at=now - 60 * DAY)
    metrics_refresh(org=org, metric_ids=org.metrics.values_list("id", flat=True))
    goals_refresh_progress(org=org)
    history.backfill(org, history.weekly_instants(now - 28 * DAY, now))
    engine.rescore_org(org=org)
    return org


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def page(org, name="allhands", **kwargs):
    return reverse(f"pages:{name}", kwargs={"org": org.slug, **kwargs})


@pytest.fixture
def small(org):
    return build_org(org, teams=2, goals_per_team=1)


# --- Sign-in ------------------------------------------------------------------------------------


def test_sign_in_with_csrf_then_sign_out(org, db):
    user = UserFactory(password=PASSWORD)
    MembershipFactory(organization=org, user=user, role=Role.VIEWER)
    client = Client(enforce_csrf_checks=True)
    assert client.get(page(org)).url.startswith("/accounts/login/?next=")
    form = client.get("/accounts/login/")
    assert form.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode()).group(1)
    assert client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}).status_code == 403

    wrong = client.post(
        "/accounts/login/", {"username": user.username, "password": "nope", "csrfmiddlewaretoken": token}
    )
    assert wrong.status_code == 200
    assert "do not match" in wrong.content.decode()
    signed = client.post(
        "/accounts/login/", {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert signed.status_code == 302
    assert client.get(signed.url).url == page(org), "one organization: straight to its all-hands"
    assert client.get(page(org)).status_code == 200

    token = client.cookies["csrftoken"].value
    out = client.post("/accounts/logout/", {"csrfmiddlewaretoken": token})
    assert out.status_code == 302
    assert client.get(page(org)).status_code == 302


def test_the_demo_owner_signs_in_with_the_printed_login(db):
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    client = Client()
    assert client.login(username=DEMO_USERNAME, password=DEMO_PASSWORD)
    response = client.get(reverse("pages:allhands", kwargs={"org": DEMO_ORG_SLUG}))
    assert response.status_code == 200
    body = response.content.decode()
    for team in Team.objects.filter(organization__slug=DEMO_ORG_SLUG, kind="team"):
        assert f'data-team="{team.name}"' in body


def test_a_member_of_several_organizations_picks_one(org, other_org, db):
    user = UserFactory()
    for each in (org, other_org):
        MembershipFactory(organization=each, user=user, role=Role.MEMBER)
    body = signed_in(user).get("/orgs/").content.decode()
    assert page(org) in body
    assert page(other_org) in body
    assert signed_in(user).get("/").url == "/orgs/"


# --- Access: the API's rules --------------------------------------------------------------------


def test_outsiders_get_404_on_every_page_and_members_see_them(small, outsider, viewer):
    goal = Goal.objects.filter(organization=small, team__isnull=False).first()
    team = goal.team
    frozen = AllHandsSnapshot.objects.create(organization=small, title="t", payload={})
    urls = [
        page(small), page(small, "snapshots"), page(small, "snapshot", snapshot_id=frozen.pk),
        page(small, "goal", goal_id=goal.pk), page(small, "team", team_id=team.pk),
    ]  # fmt: skip
    for url in urls:
        response = signed_in(outsider).get(url)
        assert response.status_code == 404, url
        assert "Not found" in response.content.decode()
        assert team.name not in response.content.decode()
    for url in urls[:2] + urls[3:]:
        assert signed_in(viewer).get(url).status_code == 200, url
    assert signed_in(outsider).post(page(small, "snapshots"), {"title": "x"}).status_code == 404


def test_unknown_or_foreign_objects_are_404(small, other_org, viewer):
    foreign = GoalFactory(organization=other_org)
    foreign_team = TeamFactory(organization=other_org)
    client = signed_in(viewer)
    for url in [
        page(small, "goal", goal_id=foreign.pk), page(small, "goal", goal_id="not-a-uuid"),
        page(small, "team", team_id=foreign_team.pk), page(small, "snapshot", snapshot_id="nope"),
        reverse("pages:allhands", kwargs={"org": "no-such-org"}),
    ]:  # fmt: skip
        assert client.get(url).status_code == 404, url


# --- The all-hands page --------------------------------------------------------------------------


def test_the_all_hands_page_draws_the_dashboards_own_numbers(small, viewer, client_for):
    response = signed_in(viewer).get(page(small))
    api = client_for(viewer).get(f"/api/v1/orgs/{small.slug}/dashboard/").json()
    assert response.context["payload"]["dashboard"] == api
    body = response.content.decode()
    for team in api["teams"]:
        card = re.search(rf'<li class="card team" data-team="{team["name"]}">(.*?)</li>', body, re.S).group(1)
        assert f'<p class="score small">{number(team["score"])}</p>' in card
        assert 'class="sparkline"' in card
    assert api["org"]["trend"] is not None, "backfilled history gives a week-old score"
    assert 'data-subject="org"' in body
    assert 'class="matrix-team mq-' in body
    assert body.count('class="matrix-team mq-') == sum(1 for t in api["teams"] if t["alignment"])
    assert len(response.context["teams"]) == len(api["teams"])


def test_pages_need_nothing_from_the_network_and_no_script(small, viewer):
    goal = Goal.objects.filter(organization=small, team__isnull=False).first()
    for url in [page(small), page(small) + "?tv=1", page(small, "goal", goal_id=goal.pk), "/accounts/login/"]:
        body = signed_in(viewer).get(url).content.decode()
        assert "<script" not in body
        for attribute in re.findall(r'(?:src|href)="([^"]*)"', body):
            assert attribute.startswith(("/", "?", "#")), (url, attribute)


def test_tv_mode_shows_a_section_a_screen_and_moves_on_every_minute(small, admin):
    client = signed_in(admin)
    first = client.get(page(small) + "?tv=1").content.decode()
    assert '<meta http-equiv="refresh" content="60;url=?tv=1&amp;screen=2">' in first
    assert 'id="title"' in first
    assert 'id="teams-title"' not in first
    fourth = client.get(page(small) + "?tv=1&screen=4").content.decode()
    assert 'id="risks-title"' in fourth
    assert 'id="title"' not in fourth
    last = client.get(page(small) + "?tv=1&screen=5").content.decode()
    assert "screen=1" in last, "after the last screen, the first again"
    assert client.get(page(small) + "?tv=1&screen=junk").status_code == 200
    normal = client.get(page(small)).content.decode()
    assert "refresh" not in normal
    assert all(f'id="{section}"' in normal for section in ("title", "teams-title", "matrix-title", "risks-title"))
    frozen = client.post(page(small, "snapshots"), {"title": "Q3"}).url
    assert "screen=2" in client.get(frozen + "?tv=1").content.decode()


def test_the_print_stylesheet_puts_each_section_on_its_own_page():
    path = finders.find("pages/pages.css")
    assert path, "the app serves its own stylesheet"
    text = open(path).read()  # noqa: SIM115
    assert re.search(r"@media print\s*{.*?\.sheet\s*{[^}]*break-before:\s*page", text, re.S)


@pytest.mark.parametrize(("teams", "goals_per_team"), [(2, 1), (20, 3)])
def test_the_all_hands_page_costs_the_same_queries_whatever_the_size(
    org, viewer, teams, goals_per_team, django_assert_num_queries
):
    build_org(org, teams=teams, goals_per_team=goals_per_team)
    client = signed_in(viewer)
    client.get(page(org))
    with django_assert_num_queries(ALLHANDS_QUERIES):
        assert client.get(page(org)).status_code == 200


#: session, user, membership; the dashboard's eight; the cycle, the score history, the risks' goal titles.
ALLHANDS_QUERIES = 14
#: session, user, membership; the goal (and its pillar links), metrics, readings, children (and
#: their pillar links), pillars, check-ins, corrections.
GOAL_QUERIES = 11
TEAM_QUERIES = 12  # then the team's divergences, and its calibration by author and as a team


@pytest.mark.parametrize(("teams", "goals_per_team", "metrics"), [(1, 1, 1), (3, 3, 4)])
def test_goal_and_team_pages_cost_the_same_queries_whatever_the_size(
    org, viewer, teams, goals_per_team, metrics, django_assert_num_queries
):
    build_org(org, teams=teams, goals_per_team=goals_per_team, metrics_per_goal=metrics)
    client = signed_in(viewer)
    goal = Goal.objects.filter(organization=org, team__isnull=False).first()
    company = Goal.objects.get(organization=org, team__isnull=True)
    with django_assert_num_queries(GOAL_QUERIES):
        response = client.get(page(org, "goal", goal_id=goal.pk))
    body = response.content.decode()
    assert body.count('class="figure"') >= metrics + 1, "a chart per metric and the check-ins' confidence"
    for metric in goal.metrics.all():
        assert f'data-metric="{metric.key}"' in body
    with django_assert_num_queries(GOAL_QUERIES):
        body = client.get(page(org, "goal", goal_id=company.pk)).content.decode()
    assert body.count("Goal ") >= teams * goals_per_team, "the company goal lists its children"
    with django_assert_num_queries(TEAM_QUERIES):
        assert client.get(page(org, "team", team_id=goal.team_id)).status_code == 200


def test_a_goal_page_shows_pace_forecast_baseline_target_and_its_cascade(small, viewer):
    goal = Goal.objects.filter(organization=small, team__isnull=False).select_related("parent", "team").first()
    body = signed_in(viewer).get(page(small, "goal", goal_id=goal.pk)).content.decode()
    for key in ("Readings", "Expected pace", "Forecast", "Baseline", "Target", "Confidence"):
        assert f"</span>{key}</span>" in body
    assert 'class="series-pace"' in body
    assert 'class="series-forecast"' in body
    assert goal.parent.title in body
    assert goal.team.name in body


def test_a_goal_page_shows_the_odds_and_each_metrics_band(small, viewer):
    goal = Goal.objects.filter(organization=small, team__isnull=False).first()
    metric = goal.metrics.get()
    Goal.objects.filter(pk=goal.pk).update(p_hit=0.37)
    type(metric).objects.filter(pk=metric.pk).update(forecast_low=41.5, forecast_high=58.25, p_hit=0.42)

    body = signed_in(viewer).get(page(small, "goal", goal_id=goal.pk)).content.decode()
    assert re.search(r"Odds of hitting it</span> 37 %", body)
    assert f"(80 % band {number(41.5)}\u2013{number(58.25)}" in body
    assert "odds 42 %" in body


def test_a_team_page_shows_how_well_its_confidence_foretold_the_outcomes(org, viewer):
    team = TeamFactory(organization=org, name="Payments")
    author = UserFactory(username="casey")
    ended = GoalFactory(organization=org, team=team, status="achieved")
    for confidence in (8, 6):
        CheckIn.objects.create(organization=org, goal=ended, author=author, summary="ok", confidence=confidence)
    client = signed_in(viewer)

    body = client.get(page(org, "team", team_id=team.pk)).content.decode()
    row = re.search(r"<th scope=\"row\">casey</th>(.*?)</tr>", body).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert cells == ["2", "1", "70 %", "100 %", "0.100", "\u221230 %"], "under-confident on a goal it reached"
    assert "The team</th><td>2</td>" in body

    quiet = TeamFactory(organization=org, name="Quiet")
    assert "has ended yet" in client.get(page(org, "team", team_id=quiet.pk)).content.decode()


# --- Frozen all-hands ------------------------------------------------------------------------------


def test_an_admin_freezes_the_view_and_its_permalink_never_changes(small, admin, member, viewer):
    frozen_url = signed_in(admin).post(page(small, "snapshots"), {"title": "All-hands Q3"}).url
    snapshot = AllHandsSnapshot.objects.get(organization=small)
    assert frozen_url == page(small, "snapshot", snapshot_id=snapshot.pk)
    before = signed_in(viewer).get(frozen_url)
    assert before.status_code == 200
    assert "All-hands Q3" in before.content.decode()

    newcomer = TeamFactory(organization=small, name="Newcomers")
    GoalFactory(organization=small, team=newcomer)
    engine.rescore_org(org=small)
    assert 'data-team="Newcomers"' in signed_in(viewer).get(page(small)).content.decode()
    after = signed_in(viewer).get(frozen_url)
    assert after.context["payload"] == before.context["payload"]
    assert 'data-team="Newcomers"' not in after.content.decode()
    assert "All-hands Q3" in signed_in(viewer).get(page(small, "snapshots")).content.decode()


def test_only_admins_freeze(small, member):
    response = signed_in(member).post(page(small, "snapshots"), {"title": "mine"})
    assert response.status_code == 403
    assert not AllHandsSnapshot.objects.exists()


def test_freezing_needs_a_csrf_token(small, admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    assert client.post(page(small, "snapshots"), {"title": "x"}).status_code == 403
    assert not AllHandsSnapshot.objects.exists()


# --- The demo: speed ---------------------------------------------------------------------------------


def test_the_demo_pages_render_in_the_pinned_number_of_queries(db, django_assert_num_queries):
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    org = Organization.objects.get(slug=DEMO_ORG_SLUG)
    engine.rescore_org(org=org)
    client = Client()
    client.login(username=DEMO_USERNAME, password=DEMO_PASSWORD)
    goal = Goal.objects.get(organization=org, team__name="Matchmaking", status="active")
    pages = [
        (page(org), ALLHANDS_QUERIES),
        (page(org, "goal", goal_id=goal.pk), GOAL_QUERIES),
        (page(org, "team", team_id=goal.team_id), TEAM_QUERIES),
    ]
    for url, queries in pages:
        with django_assert_num_queries(queries):
            assert client.get(url).status_code == 200
