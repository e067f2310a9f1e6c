"""The teams app's services (and the selectors and task they lean on), against the database."""

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone

from alignment_service.access import Access, Role, Scope
from alignment_service.errors import Conflict, PermissionDenied, ValidationFailed
from alignment_service.outbox.models import OutboxMessage
from alignment_service.outbox.services import outbox_kick
from teams import selectors, services, tasks
from teams.models import ApiKey, AuthToken, Membership, Organization, Team, TeamKind, TeamMember, User
from teams.services import memberships
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

pytestmark = pytest.mark.django_db

MemberOf = Callable[..., User]

STRONG_PASSWORD = "a-very-long-passphrase-77"


def access_of(org: Organization, user: User) -> Access:
    role = Membership.objects.get(organization=org, user=user).role
    return Access(org=org, user=user, role=Role(role))


def membership(org: Organization, user: User) -> Membership:
    return Membership.objects.get(organization=org, user=user)


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


# --- Memberships ------------------------------------------------------------------------------


def test_member_add_owes_a_welcome_email_in_the_same_transaction(
    org: Organization, admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    user = UserFactory()

    with django_capture_on_commit_callbacks() as callbacks:
        added = services.member_add(access=access_of(org, admin), user=user, role=Role.MEMBER)
        assert OutboxMessage.objects.filter(task_name="teams.send_welcome_email").count() == 1

    assert (added.organization_id, added.user_id, added.role) == (org.pk, user.pk, Role.MEMBER)
    message = OutboxMessage.objects.get(task_name="teams.send_welcome_email")
    assert message.organization_id == org.pk
    assert message.task_name == "teams.send_welcome_email"
    assert message.kwargs == {"org_id": str(org.pk), "membership_id": str(added.pk)}
    assert message.dispatched_at is None
    assert outbox_kick in callbacks


def test_member_add_writes_nothing_when_the_outbox_write_fails(
    org: Organization, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = UserFactory()

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("outbox down")

    monkeypatch.setattr(memberships, "outbox_enqueue", broken)

    with pytest.raises(RuntimeError):
        services.member_add(access=access_of(org, admin), user=user, role=Role.MEMBER)

    assert not Membership.objects.filter(user=user).exists()


def test_member_add_refuses_an_existing_member_and_owes_nothing(org: Organization, admin: User, member: User) -> None:
    with pytest.raises(ValidationFailed) as raised:
        services.member_add(access=access_of(org, admin), user=member, role=Role.VIEWER)

    assert (raised.value.code, raised.value.attr) == ("already_member", "user")
    assert membership(org, member).role == Role.MEMBER
    assert not OutboxMessage.objects.exists()


def test_member_add_as_owner_needs_an_owner(org: Organization, owner: User, admin: User) -> None:
    user = UserFactory()

    with pytest.raises(PermissionDenied):
        services.member_add(access=access_of(org, admin), user=user, role=Role.OWNER)
    assert not Membership.objects.filter(user=user).exists()

    services.member_add(access=access_of(org, owner), user=user, role=Role.OWNER)
    assert membership(org, user).role == Role.OWNER


def test_welcome_email_task_sends_once(org: Organization, admin: User, django_assert_num_queries: Any) -> None:
    user = UserFactory(username="linus", email="linus@example.com")
    added = services.member_add(access=access_of(org, admin), user=user, role=Role.VIEWER)
    kwargs = OutboxMessage.objects.get(task_name="teams.send_welcome_email").kwargs

    first = tasks.send_welcome_email(**kwargs)
    with django_assert_num_queries(1):  # a redelivery loads, sees the work done, and returns
        second = tasks.send_welcome_email(org_id=str(org.pk), membership_id=str(added.pk))

    assert (first, second) == (True, False)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["linus@example.com"]
    assert org.name in mail.outbox[0].subject
    assert "viewer" in mail.outbox[0].body
    added.refresh_from_db()
    assert added.welcomed_at is not None


def test_welcome_email_task_is_scoped_to_its_org(org: Organization, other_org: Organization, admin: User) -> None:
    added = services.member_add(access=access_of(org, admin), user=UserFactory(), role=Role.MEMBER)

    assert tasks.send_welcome_email(org_id=str(other_org.pk), membership_id=str(added.pk)) is False

    assert mail.outbox == []
    added.refresh_from_db()
    assert added.welcomed_at is None


def test_welcome_email_task_after_the_member_left(org: Organization, admin: User) -> None:
    added = services.member_add(access=access_of(org, admin), user=UserFactory(), role=Role.MEMBER)
    kwargs = OutboxMessage.objects.get(task_name="teams.send_welcome_email").kwargs
    added.delete()

    assert tasks.send_welcome_email(**kwargs) is False
    assert mail.outbox == []


def test_welcome_email_can_be_retried_after_a_mail_failure(
    org: Organization, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = services.member_add(access=access_of(org, admin), user=UserFactory(), role=Role.MEMBER)
    kwargs = OutboxMessage.objects.get(task_name="teams.send_welcome_email").kwargs

    def smtp_down(*args: Any, **kwargs: Any) -> None:
        raise OSError("connection refused")

    with monkeypatch.context() as patched:
        patched.setattr("django.core.mail.send_mail", smtp_down)
        with pytest.raises(OSError, match="connection refused"):
            tasks.send_welcome_email(**kwargs)
    added.refresh_from_db()
    assert added.welcomed_at is None

    assert tasks.send_welcome_email(**kwargs) is True
    assert len(mail.outbox) == 1


def test_member_change_role(org: Organization, admin: User, member: User) -> None:
    changed = services.member_change_role(
        access=access_of(org, admin), membership=membership(org, member), role=Role.VIEWER
    )

    assert changed.role == Role.VIEWER
    assert membership(org, member).role == Role.VIEWER


def test_the_last_owner_cannot_be_demoted(org: Organization, owner: User) -> None:
    with pytest.raises(Conflict) as raised:
        services.member_change_role(access=access_of(org, owner), membership=membership(org, owner), role=Role.ADMIN)

    assert raised.value.code == "last_owner"
    assert membership(org, owner).role == Role.OWNER


def test_an_owner_can_be_demoted_while_another_remains(org: Organization, owner: User, member_of: MemberOf) -> None:
    second = member_of(org, Role.OWNER)

    services.member_change_role(access=access_of(org, owner), membership=membership(org, owner), role=Role.MEMBER)

    assert membership(org, owner).role == Role.MEMBER
    with pytest.raises(Conflict):
        services.member_change_role(access=access_of(org, second), membership=membership(org, second), role=Role.MEMBER)


def test_owners_of_another_org_do_not_count(org: Organization, other_org: Organization, owner: User) -> None:
    MembershipFactory(organization=other_org, role=Role.OWNER)
    MembershipFactory(organization=other_org, user=owner, role=Role.OWNER)

    with pytest.raises(Conflict):
        services.member_remove(access=access_of(org, owner), membership=membership(org, owner))


def test_an_admin_cannot_change_or_remove_an_owner(org: Organization, owner: User, admin: User) -> None:
    with pytest.raises(PermissionDenied):
        services.member_change_role(access=access_of(org, admin), membership=membership(org, owner), role=Role.VIEWER)
    with pytest.raises(PermissionDenied):
        services.member_remove(access=access_of(org, admin), membership=membership(org, owner))
    with pytest.raises(PermissionDenied):
        services.member_change_role(access=access_of(org, admin), membership=membership(org, admin), role=Role.OWNER)

    assert membership(org, owner).role == Role.OWNER
    assert membership(org, admin).role == Role.ADMIN


def test_the_last_owner_cannot_leave(org: Organization, owner: User) -> None:
    with pytest.raises(Conflict) as raised:
        services.member_remove(access=access_of(org, owner), membership=membership(org, owner))

    assert raised.value.code == "last_owner"
    assert Membership.objects.filter(organization=org, user=owner).exists()


def test_a_member_can_leave_but_not_remove_others(org: Organization, member: User, viewer: User) -> None:
    with pytest.raises(PermissionDenied):
        services.member_remove(access=access_of(org, member), membership=membership(org, viewer))
    assert Membership.objects.filter(organization=org, user=viewer).exists()

    services.member_remove(access=access_of(org, member), membership=membership(org, member))
    assert not Membership.objects.filter(organization=org, user=member).exists()


def test_member_remove_clears_team_roles_in_that_org_only(
    org: Organization, other_org: Organization, admin: User, member: User
) -> None:
    MembershipFactory(organization=other_org, user=member)
    led_here = TeamFactory(organization=org, lead=member)
    joined_here = TeamFactory(organization=org)
    TeamMember.objects.create(organization=org, team=joined_here, user=member)
    TeamMember.objects.create(organization=org, team=joined_here, user=admin)
    led_there = TeamFactory(organization=other_org, lead=member)
    TeamMember.objects.create(organization=other_org, team=led_there, user=member)

    services.member_remove(access=access_of(org, admin), membership=membership(org, member))

    led_here.refresh_from_db()
    led_there.refresh_from_db()
    assert led_here.lead_id is None
    assert list(joined_here.members.values_list("pk", flat=True)) == [admin.pk]
    assert led_there.lead_id == member.pk
    assert list(led_there.members.values_list("pk", flat=True)) == [member.pk]
    assert User.objects.filter(pk=member.pk).exists()
    assert Membership.objects.filter(organization=other_org, user=member).exists()


# --- Teams ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "slugs"),
    [
        (["Platform", "Platform", "Platform"], ["platform", "platform-2", "platform-3"]),
        (["Data & ML", "data ml"], ["data-ml", "data-ml-2"]),
        (["!!!", "???"], ["team", "team-2"]),
        (["x" * 80], ["x" * 50]),
    ],
)
def test_team_create_derives_a_free_slug(org: Organization, admin: User, names: list[str], slugs: list[str]) -> None:
    created = [services.team_create(access=access_of(org, admin), name=name) for name in names]

    assert [team.slug for team in created] == slugs
    assert all(team.kind == TeamKind.TEAM for team in created)


def test_team_slugs_are_derived_per_org(org: Organization, other_org: Organization, admin: User) -> None:
    TeamFactory(organization=other_org, slug="platform")

    team = services.team_create(access=access_of(org, admin), name="Platform")

    assert team.slug == "platform"


def test_team_create_refuses_a_taken_slug(org: Organization, admin: User) -> None:
    TeamFactory(organization=org, slug="core")

    with pytest.raises(ValidationFailed) as raised:
        services.team_create(access=access_of(org, admin), name="Core", slug="core")

    assert (raised.value.code, raised.value.attr) == ("unique", "slug")
    assert Team.objects.filter(organization=org).count() == 1


def test_team_create_sets_members(org: Organization, admin: User, member: User, viewer: User) -> None:
    team = services.team_create(
        access=access_of(org, admin),
        name="Core",
        kind=TeamKind.STEERING_GROUP,
        lead=member,
        members=[member, viewer],
    )

    team.refresh_from_db()
    assert (team.organization_id, team.kind, team.lead_id) == (org.pk, TeamKind.STEERING_GROUP, member.pk)
    assert set(TeamMember.objects.filter(team=team).values_list("organization_id", "user_id")) == {
        (org.pk, member.pk),
        (org.pk, viewer.pk),
    }


@pytest.mark.parametrize("depth", [0, 1, 4])
def test_team_update_refuses_a_cycle(org: Organization, admin: User, depth: int) -> None:
    top = TeamFactory(organization=org)
    bottom = top
    for _ in range(depth):
        bottom = TeamFactory(organization=org, parent=bottom)

    with pytest.raises(ValidationFailed) as raised:
        services.team_update(access=access_of(org, admin), team=top, parent=bottom)

    assert (raised.value.code, raised.value.attr) == ("cycle", "parent")
    top.refresh_from_db()
    assert top.parent_id is None


def test_team_update_moves_a_subtree(org: Organization, admin: User) -> None:
    a, b = TeamFactory(organization=org), TeamFactory(organization=org)
    child = TeamFactory(organization=org, parent=a)

    services.team_update(access=access_of(org, admin), team=a, parent=b)

    a.refresh_from_db()
    assert a.parent_id == b.pk
    assert Team.objects.get(pk=child.pk).parent_id == a.pk


def test_team_update_replaces_members_only_when_given(
    org: Organization, admin: User, member: User, viewer: User
) -> None:
    team = TeamFactory(organization=org)
    TeamMember.objects.create(organization=org, team=team, user=member)

    services.team_update(access=access_of(org, admin), team=team, name="Renamed")
    assert list(team.members.values_list("pk", flat=True)) == [member.pk]

    services.team_update(access=access_of(org, admin), team=team, members=[viewer, admin])
    assert set(team.members.values_list("pk", flat=True)) == {viewer.pk, admin.pk}

    services.team_update(access=access_of(org, admin), team=team, members=[])
    assert not team.members.exists()


def test_team_update_refuses_a_taken_slug_but_keeps_its_own(org: Organization, admin: User) -> None:
    TeamFactory(organization=org, slug="core")
    team = TeamFactory(organization=org, slug="edge")

    services.team_update(access=access_of(org, admin), team=team, slug="edge", name="Edge")
    with pytest.raises(ValidationFailed):
        services.team_update(access=access_of(org, admin), team=team, slug="core")

    team.refresh_from_db()
    assert (team.slug, team.name) == ("edge", "Edge")


def test_team_update_cannot_reach_another_org(org: Organization, other_org: Organization, admin: User) -> None:
    foreign = TeamFactory(organization=other_org, name="Theirs")

    with pytest.raises(Team.DoesNotExist):
        services.team_update(access=access_of(org, admin), team=foreign, name="Mine")

    foreign.refresh_from_db()
    assert foreign.name == "Theirs"


def test_team_delete_refuses_a_team_with_children(org: Organization, admin: User) -> None:
    parent = TeamFactory(organization=org)
    TeamFactory(organization=org, parent=parent)

    with pytest.raises(Conflict) as raised:
        services.team_delete(access=access_of(org, admin), team=parent)

    assert raised.value.code == "team_has_children"
    assert Team.objects.filter(pk=parent.pk).exists()


def test_team_delete_of_a_leaf_drops_its_memberships(org: Organization, admin: User, member: User) -> None:
    parent = TeamFactory(organization=org)
    leaf = TeamFactory(organization=org, parent=parent, lead=member)
    TeamMember.objects.create(organization=org, team=leaf, user=member)

    services.team_delete(access=access_of(org, admin), team=leaf)

    assert list(Team.objects.values_list("pk", flat=True)) == [parent.pk]
    assert not TeamMember.objects.exists()
    assert Membership.objects.filter(organization=org, user=member).exists()


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
