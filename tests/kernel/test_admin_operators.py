"""The admin as operators use it: its header, business data apart from the read-only
machinery, percentages and coloured health, corrections linked to their subject by name,
organization settings as a form with defaults, and list pages whose query count does not
grow with the number of rows."""

import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from feedback.models import CourseCorrection
from teams.org_settings import DEFAULTS
from tests.factories import GoalFactory, MetricFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def correction(org, subject, subject_type, team=None, status="open", trigger="off_track"):
    return CourseCorrection.objects.create(
        organization=org, subject_type=subject_type, subject_id=str(subject.pk), team=team, trigger=trigger,
        severity="warning", status=status, detail="Refocus",
    )  # fmt: skip


def test_the_index_has_a_header_and_groups_the_machinery_apart(staff_client):
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert "Alignment service operations" in page
    assert "View site" not in page  # there is no public site at the root to link to
    internals = page.index("Service internals (read-only)")
    for name in ("Outbox messages", "Score jobs", "Idempotency records", "Auth tokens"):
        assert page.index(name) > internals
    assert page.index("Goals") < internals


def test_plural_names_read_right():
    from goals.models import GoalStrategy

    assert GoalStrategy._meta.verbose_name_plural == "goal strategies"
    assert not [m for m in admin.site._registry if re.search(r"[^aeiou]ys$", str(m._meta.verbose_name_plural))]


@pytest.mark.parametrize("model", ["outbox.OutboxMessage", "feedback.ScoreJob", "idempotency.IdempotencyRecord"])
def test_internals_are_read_only(model, rf):
    model_admin = next(a for m, a in admin.site._registry.items() if m._meta.label == model)
    request = rf.get("/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)


def test_goals_show_percentages_and_a_coloured_health(staff_client, org):
    GoalFactory(organization=org, title="Half way", progress=0.4567)
    page = staff_client.get(reverse("admin:goals_goal_changelist")).content.decode()
    assert "46%" in page
    assert "0.4567" not in page
    assert 'style="background:#' in page


def test_a_correction_links_to_its_subject_by_name(staff_client, org):
    team = TeamFactory(organization=org, name="Payments")
    goal = GoalFactory(organization=org, team=team, title="Cut churn")
    correction(org, goal, "goal", team=team)
    correction(org, team, "team", team=team, trigger="low_confidence")
    page = staff_client.get(reverse("admin:feedback_coursecorrection_changelist")).content.decode()
    assert f'href="{reverse("admin:goals_goal_change", args=[goal.pk])}"' in page
    assert "Goal: Cut churn" in page
    assert f'href="{reverse("admin:teams_team_change", args=[team.pk])}"' in page
    assert "Team: Payments" in page


def test_a_teams_open_corrections_are_one_filter_away(staff_client, org):
    team, other = TeamFactory(organization=org, name="Payments"), TeamFactory(organization=org, name="Search")
    mine = correction(org, GoalFactory(organization=org, team=team, title="Mine"), "goal", team=team)
    correction(org, GoalFactory(organization=org, team=team, title="Done"), "goal", team=team, status="resolved")
    correction(org, GoalFactory(organization=org, team=other, title="Theirs"), "goal", team=other)
    url = reverse("admin:feedback_coursecorrection_changelist")
    response = staff_client.get(url, {"team__id__exact": team.pk, "status__exact": "open"})
    assert [c.pk for c in response.context["cl"].result_list] == [mine.pk]


def test_organization_settings_are_a_form_with_every_setting_and_its_default(staff_client, org):
    url = reverse("admin:teams_organization_change", args=[org.pk])
    form = staff_client.get(url).context["adminform"].form
    for name, default in DEFAULTS.items():
        assert form.initial[name] == default
        assert f"Default: {default}." in form.fields[name].help_text
    assert "settings" not in form.fields


def change_org(staff_client, org, **changes):
    url = reverse("admin:teams_organization_change", args=[org.pk])
    data = {"name": org.name, "slug": org.slug, "timezone": org.timezone, **DEFAULTS, **changes}
    for inline in staff_client.get(url).context["inline_admin_formsets"]:  # empty management forms
        data.update({f"{inline.formset.prefix}-TOTAL_FORMS": 0, f"{inline.formset.prefix}-INITIAL_FORMS": 0})
    return staff_client.post(url, data)


def test_saving_settings_stores_only_what_differs_from_the_default(staff_client, org):
    response = change_org(staff_client, org, score_threshold=70)
    assert response.status_code == 302, response.context["adminform"].form.errors
    org.refresh_from_db()
    assert org.settings == {"score_threshold": 70}
    assert org.effective_settings["score_threshold"] == 70


def test_settings_are_checked_as_the_api_checks_them(staff_client, org):
    response = change_org(staff_client, org, health_tolerance=0.3, at_risk_gap=0.1, score_threshold=101)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "score_threshold" in errors
    org.refresh_from_db()
    assert org.settings == {}


def list_queries(staff_client, url):
    with CaptureQueriesContext(connection) as queries:
        assert staff_client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    "name", ["goals_goal", "goals_metric", "feedback_coursecorrection", "teams_team", "feedback_scoresnapshot"]
)
def test_list_pages_do_not_query_per_row(staff_client, org, name):
    url = reverse(f"admin:{name}_changelist")

    def grow(n):
        for i in range(n):
            team = TeamFactory(organization=org, lead=UserFactory())
            goal = GoalFactory(organization=org, team=team, parent=GoalFactory(organization=org))
            MetricFactory(organization=org, goal=goal)
            correction(org, goal if i % 2 else team, "goal" if i % 2 else "team", team=team)

    grow(3)
    few = list_queries(staff_client, url)
    grow(40)
    assert list_queries(staff_client, url) == few
