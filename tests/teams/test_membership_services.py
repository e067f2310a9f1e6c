"""The membership services against the database: adding a member (and the welcome email it
owes through the outbox), role changes, leaving and removal, and the owners who must remain."""

from typing import Any

import pytest
from django.core import mail

from alignment_service.access import Role
from alignment_service.errors import Conflict, PermissionDenied, ValidationFailed
from alignment_service.outbox.models import OutboxMessage
from alignment_service.outbox.services import outbox_kick
from teams import services, tasks
from teams.models import Membership, Organization, TeamMember, User
from teams.services import memberships
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.teams.support import MemberOf, access_of, membership

pytestmark = pytest.mark.django_db


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
