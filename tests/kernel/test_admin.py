"""The admin renders every registered model, and creating an API key there shows it once."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import transaction
from django.urls import reverse

from alignment_service.access import Scope
from alignment_service.idempotency.models import IdempotencyRecord
from alignment_service.outbox.services import outbox_enqueue
from teams import credentials, services
from teams.models import ApiKey
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.routes import populate

MODELS = list(admin.site._registry)


@pytest.fixture
def staff_client(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def populated(org, owner):
    TeamFactory(organization=org, lead=owner)
    MembershipFactory(organization=org)
    ApiKey.objects.create(organization=org, name="k", scopes=[Scope.READ], prefix="alk_x", key_hash="0" * 64)
    populate(org, owner)
    services.auth_token_create(user=owner)
    Group.objects.create(name="Support")
    with transaction.atomic():
        outbox_enqueue(org=org, task_name="teams.send_welcome_email", kwargs={})
    IdempotencyRecord.objects.create(
        organization=org, credential="user:1", key="k", request_hash="0" * 64, response_status=200, response_body={}
    )


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_changelist_and_search_render(staff_client, populated, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert staff_client.get(url).status_code == 200
    assert staff_client.get(url, {"q": "a"}).status_code == 200


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_change_page_renders(staff_client, populated, model):
    obj = model._default_manager.first()
    assert obj is not None, f"the fixture should hold a {model._meta.label}"
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
    assert staff_client.get(url).status_code == 200


def test_creating_an_api_key_shows_the_secret_once_and_stores_its_digest(staff_client, org):
    url = reverse("admin:teams_apikey_add")
    assert staff_client.get(url).status_code == 200
    response = staff_client.post(
        url, {"organization": org.pk, "name": "Warehouse sync", "scopes": [Scope.READINGS_WRITE]}, follow=True
    )
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    secret = next(m.split(": ")[-1] for m in messages if "will not be shown again" in m)
    key = ApiKey.objects.get(name="Warehouse sync")
    assert key.scopes == [Scope.READINGS_WRITE]
    assert key.key_hash == credentials.digest(secret)
    assert secret.startswith(key.prefix)
    change_page = staff_client.get(reverse("admin:teams_apikey_change", args=[key.pk])).content.decode()
    assert secret not in change_page


def test_goals_filter_by_health_as_the_api_computes_it(staff_client, org):
    from datetime import date

    from goals.models import Goal
    from tests.factories import GoalFactory

    year_2020 = {"starts_on": date(2020, 1, 1), "due_on": date(2020, 12, 31)}
    behind = GoalFactory(organization=org, title="Behind", **year_2020)
    GoalFactory(organization=org, title="Unmeasured", **year_2020)
    Goal.objects.filter(pk=behind.pk).update(progress=0.1)
    url = reverse("admin:goals_goal_changelist")
    off_track = staff_client.get(url, {"health": "off_track"}).content.decode()
    no_data = staff_client.get(url, {"health": "no_data"}).content.decode()
    assert "Behind" in off_track
    assert "Unmeasured" not in off_track
    assert "Unmeasured" in no_data


def test_invitations_are_read_only_in_the_admin_but_can_be_revoked(staff_client, org, owner):
    from alignment_service.access import Access, Role
    from alignment_service.activity.models import Activity

    invitation = services.invitation_create(
        access=Access(org=org, user=owner, role=Role.OWNER), email="ada@example.com", role=Role.MEMBER
    )
    change = reverse("admin:teams_invitation_change", args=[invitation.pk])
    assert staff_client.get(reverse("admin:teams_invitation_add")).status_code == 403
    assert staff_client.post(change, {"role": "owner"}).status_code == 403

    response = staff_client.post(
        reverse("admin:teams_invitation_changelist"),
        {"action": "revoke", "_selected_action": [str(invitation.pk)]},
        follow=True,
    )

    assert response.status_code == 200
    invitation.refresh_from_db()
    assert (invitation.status, invitation.role) == ("revoked", "member")
    entry = Activity.objects.filter(organization=org).latest("id")
    assert (entry.verb, entry.actor_user_id) == ("invitation.revoked", None)
