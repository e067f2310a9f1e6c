"""The teams app's services for accounts, organizations and API keys, and its selectors,
against the database."""

import hashlib
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone

from alignment_service.access import Scope
from alignment_service.errors import PermissionDenied
from teams import selectors, services, tasks
from teams.models import ApiKey, AuthToken, Membership, Organization, Team, TeamMember, User
from tests.factories import (
    CycleFactory,
    GoalFactory,
    MembershipFactory,
    MetricFactory,
    OrganizationFactory,
    PillarFactory,
    TeamFactory,
    UserFactory,
)
from tests.teams.support import STRONG_PASSWORD, access_of

pytestmark = pytest.mark.django_db


# --- Accounts ---------------------------------------------------------------------------------


def test_user_signup_stores_a_hashed_password() -> None:
    user = services.user_signup(username="ada", email="ada@example.com", password=STRONG_PASSWORD)

    user.refresh_from_db()
    assert (user.username, user.email, user.is_active) == ("ada", "ada@example.com", True)
    assert user.password != STRONG_PASSWORD
    assert user.check_password(STRONG_PASSWORD)


def test_user_signup_refuses_a_weak_password_by_field() -> None:
    with pytest.raises(DjangoValidationError) as raised:
        services.user_signup(username="ada", email="ada@example.com", password="ada")

    assert set(raised.value.message_dict) == {"password"}
    assert not User.objects.filter(username="ada").exists()


def test_user_signup_refuses_an_email_in_use_in_any_case() -> None:
    UserFactory(email="ada@example.com")

    with pytest.raises(DjangoValidationError):
        services.user_signup(username="ada2", email="ADA@Example.com", password=STRONG_PASSWORD)

    assert not User.objects.filter(username="ada2").exists()


def test_user_signup_when_disabled(settings: Any) -> None:
    settings.SIGNUP_ENABLED = False

    with pytest.raises(PermissionDenied) as raised:
        services.user_signup(username="ada", email="ada@example.com", password=STRONG_PASSWORD)

    assert raised.value.code == "signup_disabled"
    assert not User.objects.filter(username="ada").exists()


def test_auth_token_create_keeps_only_a_digest() -> None:
    user = UserFactory()

    with time_machine.travel(timezone.now(), tick=False):
        token, secret = services.auth_token_create(user=user)
        expected_expiry = timezone.now() + timedelta(hours=django_settings.AUTH_TOKEN_TTL_HOURS)

    token.refresh_from_db()
    assert token.user_id == user.pk
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith(token.prefix)
    assert len(token.prefix) < len(secret) // 2
    assert token.expires_at == expected_expiry
    assert services.auth_token_create(user=user)[1] != secret


def test_auth_token_revoke_deletes_only_that_token() -> None:
    user = UserFactory()
    token, _ = services.auth_token_create(user=user)
    kept, _ = services.auth_token_create(user=user)

    services.auth_token_revoke(token=token)

    assert list(AuthToken.objects.values_list("pk", flat=True)) == [kept.pk]


def test_auth_tokens_purge_expired() -> None:
    user = UserFactory()
    expired, _ = services.auth_token_create(user=user)
    live, _ = services.auth_token_create(user=user)
    AuthToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert tasks.purge_expired_tokens() == 1

    assert list(AuthToken.objects.values_list("pk", flat=True)) == [live.pk]


# --- Organizations ----------------------------------------------------------------------------


def test_org_create_makes_the_creator_its_only_owner() -> None:
    user = UserFactory()

    org = services.org_create(user=user, name="Acme", slug="acme")

    assert list(Membership.objects.filter(organization=org).values_list("user_id", "role")) == [(user.pk, "owner")]
    assert (org.timezone, org.settings) == ("UTC", {})
    assert not Team.objects.filter(organization=org).exists()


def test_org_create_writes_nothing_on_a_bad_slug() -> None:
    with pytest.raises(DjangoValidationError) as raised:
        services.org_create(user=UserFactory(), name="Acme", slug="not a slug")

    assert "slug" in raised.value.message_dict
    assert not Organization.objects.exists()
    assert not Membership.objects.exists()


def test_org_update_merges_setting_overrides(org: Organization, admin: User) -> None:
    Organization.objects.filter(pk=org.pk).update(settings={"score_threshold": 40, "drift_days": 20})

    updated = services.org_update(access=access_of(org, admin), settings={"drift_days": 10})

    assert updated.settings == {"score_threshold": 40, "drift_days": 10}
    org.refresh_from_db()
    assert org.settings == {"score_threshold": 40, "drift_days": 10}
    assert org.effective_settings["checkin_interval_days"] == 7


def test_org_update_leaves_what_it_is_not_given(org: Organization, admin: User) -> None:
    Organization.objects.filter(pk=org.pk).update(timezone="Asia/Tokyo", settings={"score_threshold": 40})

    services.org_update(access=access_of(org, admin), name="Renamed")

    org.refresh_from_db()
    assert (org.name, org.timezone, org.settings) == ("Renamed", "Asia/Tokyo", {"score_threshold": 40})


def test_org_update_refuses_an_unknown_timezone(org: Organization, admin: User) -> None:
    name = org.name

    with pytest.raises(DjangoValidationError) as raised:
        services.org_update(access=access_of(org, admin), name="Renamed", timezone_name="Mars/Base")

    assert set(raised.value.message_dict) == {"timezone"}
    org.refresh_from_db()
    assert (org.name, org.timezone) == (name, "UTC")


def test_org_delete_cascades_through_a_team_tree(org: Organization, other_org: Organization, owner: User) -> None:
    top = TeamFactory(organization=org, lead=owner)
    middle = TeamFactory(organization=org, parent=top)
    TeamFactory(organization=org, parent=middle)
    TeamMember.objects.create(organization=org, team=middle, user=owner)
    services.api_key_create(org=org, created_by=owner, name="k", scopes=[Scope.READ])
    kept = TeamFactory(organization=other_org)

    services.org_delete(access=access_of(org, owner))

    assert not Organization.objects.filter(pk=org.pk).exists()
    assert list(Team.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not TeamMember.objects.exists()
    assert not ApiKey.objects.exists()
    assert not Membership.objects.filter(organization_id=org.pk).exists()
    assert User.objects.filter(pk=owner.pk).exists()


def test_org_delete_cascades_through_the_goal_graph(org: Organization, other_org: Organization, owner: User) -> None:
    """Teams, pillars and goals refer to each other with RESTRICT; deleting the whole org must still work."""
    from goals.models import Goal, Reading, StrategyPillar

    top = TeamFactory(organization=org)
    sub = TeamFactory(organization=org, parent=top)
    pillar = PillarFactory(organization=org)
    PillarFactory(organization=org, team=sub, parent=pillar)
    cycle = CycleFactory(organization=org)
    company = GoalFactory(organization=org, cycle=cycle, owner=owner)
    team_goal = GoalFactory(organization=org, team=sub, parent=company, cycle=cycle)
    team_goal.strategies.through.objects.create(organization=org, goal=team_goal, pillar=pillar)
    metric = MetricFactory(goal=team_goal)
    Reading.objects.create(organization=org, metric=metric, observed_at=timezone.now(), value=1.0)
    kept = GoalFactory(organization=other_org)

    services.org_delete(access=access_of(org, owner))

    assert not Organization.objects.filter(pk=org.pk).exists()
    assert list(Goal.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not StrategyPillar.objects.exists()
    assert not Team.objects.exists()
    assert not Reading.objects.exists()


# --- API keys ---------------------------------------------------------------------------------


def test_api_key_create_keeps_only_a_digest(org: Organization, admin: User) -> None:
    key, secret = services.api_key_create(
        org=org, created_by=admin, name="CI", scopes=[Scope.READINGS_WRITE, Scope.READ, Scope.READ]
    )

    key.refresh_from_db()
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith(key.prefix)
    assert secret not in {key.key_hash, key.prefix}
    assert key.scopes == ["read", "readings:write"]
    assert (key.organization_id, key.created_by_id, key.revoked_at) == (org.pk, admin.pk, None)
    assert key.is_usable()


def test_api_key_revoke_is_immediate_and_org_scoped(org: Organization, other_org: Organization, admin: User) -> None:
    key, _ = services.api_key_create(org=org, created_by=admin, name="CI", scopes=[Scope.READ])
    foreign, _ = services.api_key_create(org=other_org, created_by=None, name="Theirs", scopes=[Scope.READ])

    services.api_key_revoke(access=access_of(org, admin), api_key=key)
    services.api_key_revoke(access=access_of(org, admin), api_key=foreign)

    key.refresh_from_db()
    foreign.refresh_from_db()
    assert key.revoked_at is not None
    assert not key.is_usable()
    assert foreign.revoked_at is None
    assert list(selectors.api_key_list(org=org)) == []
    assert list(selectors.api_key_list(org=other_org)) == [foreign]


def test_api_key_expiry(org: Organization) -> None:
    key, _ = services.api_key_create(
        org=org, created_by=None, name="CI", scopes=[Scope.READ], expires_at=timezone.now() + timedelta(hours=1)
    )

    assert key.is_usable()
    assert not key.is_usable(timezone.now() + timedelta(hours=1))


# --- Selectors --------------------------------------------------------------------------------


def test_user_lookup_by_username_or_email() -> None:
    user = UserFactory(username="grace", email="Grace@Example.com")
    UserFactory(username="gone", email="gone@example.com", is_active=False)

    assert selectors.user_by_username_or_email(identifier="grace") == user
    assert selectors.user_by_username_or_email(identifier="grace@example.COM") == user
    assert selectors.user_by_username_or_email(identifier="GRACE") == user  # usernames ignore case
    assert selectors.user_by_username_or_email(identifier="gone") is None
    assert selectors.user_by_username_or_email(identifier="gone@example.com") is None


def test_lists_are_scoped_to_the_org(org: Organization, other_org: Organization, member: User, outsider: User) -> None:
    mine = TeamFactory(organization=org)
    TeamFactory(organization=other_org)

    assert list(selectors.team_list(org=org)) == [mine]
    assert [m.user_id for m in selectors.member_list(org=org)] == [member.pk]
    assert list(selectors.org_members_as_users(org=org)) == [member]
    assert list(selectors.orgs_for_user(user=member)) == [org]


def test_orgs_for_user_in_name_order() -> None:
    user = UserFactory()
    for name in ("Zeta", "Alpha", "Mid"):
        MembershipFactory(user=user, organization=OrganizationFactory(name=name))

    assert [o.name for o in selectors.orgs_for_user(user=user)] == ["Alpha", "Mid", "Zeta"]


def test_an_unknown_field_is_a_type_error_not_silently_dropped(org: Organization, admin: User) -> None:
    team = services.team_create(access=access_of(org, admin), name="Core")
    with pytest.raises(TypeError):
        services.team_create(access=access_of(org, admin), nam="Typo")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        services.team_update(access=access_of(org, admin), team=team, nam="Typo")  # type: ignore[call-arg]
    assert list(Team.objects.filter(organization=org).values_list("name", flat=True)) == ["Core"]
