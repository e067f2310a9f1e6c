"""The invitation services, their email task and purge job, against the database."""

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.utils import timezone

from alignment_service.access import Access, Role
from alignment_service.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from alignment_service.outbox.models import OutboxMessage
from teams import selectors, services, tasks
from teams.models import Invitation, InvitationStatus, Membership, Organization, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def as_role(org: Organization, user: User, role: Role = Role.OWNER) -> Access:
    return Access(org=org, user=user, role=role)


def owed_email(invitation: Invitation) -> dict[str, Any]:
    return OutboxMessage.objects.get(
        task_name="teams.send_invitation_email", kwargs__invitation_id=str(invitation.pk)
    ).kwargs


def test_create_owes_the_email_in_the_same_transaction(org: Organization, owner: User) -> None:
    invitation = services.invitation_create(access=as_role(org, owner), email="ada@example.com", role=Role.MEMBER)

    assert owed_email(invitation) == {"org_id": str(org.pk), "invitation_id": str(invitation.pk)}
    assert (invitation.status, invitation.invited_by, invitation.invitee) == (InvitationStatus.PENDING, owner, None)
    assert abs(invitation.expires_at - timezone.now() - timedelta(days=settings.INVITATION_TTL_DAYS)) < timedelta(
        minutes=1
    )


def test_create_remembers_the_account_a_username_named(org: Organization, owner: User) -> None:
    ada = UserFactory(username="ada")

    invitation = services.invitation_create(access=as_role(org, owner), username="ada", role=Role.VIEWER)

    assert invitation.invitee == ada
    assert list(selectors.pending_invitations_for_user(user=ada)) == [invitation]


def test_an_account_made_after_a_username_invitation_does_not_inherit_it(org: Organization, owner: User) -> None:
    invitation = services.invitation_create(access=as_role(org, owner), username="ada", role=Role.ADMIN)
    squatter = UserFactory(username="ada")

    assert invitation.invitee is None
    assert not selectors.invitations_for_user(user=squatter).exists()


def test_create_refuses_what_it_must(org: Organization, owner: User, admin: User) -> None:
    with pytest.raises(PermissionDenied):
        services.invitation_create(access=as_role(org, admin, Role.ADMIN), email="a@example.com", role=Role.OWNER)
    with pytest.raises(ValidationFailed) as missing:
        services.invitation_create(access=as_role(org, owner), role=Role.MEMBER)
    assert missing.value.code == "email_or_user_required"
    assert not Invitation.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_accept_makes_the_membership_through_the_membership_service(org: Organization, owner: User) -> None:
    ada = UserFactory(email="ada@example.com")
    invitation = services.invitation_create(access=as_role(org, owner), email="ADA@example.com", role=Role.ADMIN)

    accepted = services.invitation_accept(user=ada, invitation=invitation)

    assert (accepted.status, accepted.invitee, accepted.responded_at is not None) == ("accepted", ada, True)
    assert Membership.objects.get(organization=org, user=ada).role == Role.ADMIN
    assert OutboxMessage.objects.filter(task_name="teams.send_welcome_email").count() == 1


def test_accept_and_decline_refuse_others_and_closed_invitations(org: Organization, owner: User) -> None:
    ada, eve = UserFactory(email="ada@example.com"), UserFactory(email="eve@example.com")
    invitation = services.invitation_create(access=as_role(org, owner), email="ada@example.com", role=Role.MEMBER)

    with pytest.raises(NotFound):
        services.invitation_accept(user=eve, invitation=invitation)
    services.invitation_decline(user=ada, invitation=invitation)
    with pytest.raises(Conflict) as closed:
        services.invitation_accept(user=ada, invitation=invitation)
    assert closed.value.code == "invitation_not_pending"
    assert not Membership.objects.filter(user__in=[ada, eve]).exists()


def test_an_expired_invitation_cannot_be_accepted(org: Organization, owner: User) -> None:
    ada = UserFactory(username="ada")
    invitation = services.invitation_create(access=as_role(org, owner), username="ada", role=Role.MEMBER)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(Conflict) as expired:
        services.invitation_accept(user=ada, invitation=invitation)

    assert expired.value.code == "invitation_expired"
    assert not Membership.objects.filter(user=ada).exists()


def test_revoke_is_scoped_to_its_org(org: Organization, other_org: Organization, owner: User, outsider: User) -> None:
    invitation = services.invitation_create(access=as_role(org, owner), email="ada@example.com", role=Role.MEMBER)

    with pytest.raises(Invitation.DoesNotExist):
        services.invitation_revoke(access=as_role(other_org, outsider), invitation=invitation)
    assert services.invitation_revoke(access=as_role(org, owner), invitation=invitation).status == "revoked"


def test_the_email_goes_to_the_address_given(org: Organization, owner: User, django_assert_num_queries: Any) -> None:
    invitation = services.invitation_create(access=as_role(org, owner), email="ada@example.com", role=Role.VIEWER)

    kwargs = owed_email(invitation)
    first = tasks.send_invitation_email(**kwargs)
    with django_assert_num_queries(1):  # a redelivery loads, sees the work done, and returns
        second = tasks.send_invitation_email(**kwargs)

    assert (first, second) == (True, False)
    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert org.name in message.subject
    assert f"/api/v1/invitations/{invitation.pk}/accept/" in message.body
    assert "viewer" in message.body


def test_a_username_invitation_emails_the_account_and_an_unknown_one_emails_no_one(
    org: Organization, owner: User
) -> None:
    UserFactory(username="ada", email="ada@example.com")
    known = services.invitation_create(access=as_role(org, owner), username="ada", role=Role.MEMBER)
    unknown = services.invitation_create(access=as_role(org, owner), username="nobody", role=Role.MEMBER)

    sent = (tasks.send_invitation_email(**owed_email(known)), tasks.send_invitation_email(**owed_email(unknown)))

    assert sent == (True, False)
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]


def test_no_email_for_an_invitation_revoked_before_the_worker_ran(org: Organization, owner: User) -> None:
    invitation = services.invitation_create(access=as_role(org, owner), email="ada@example.com", role=Role.MEMBER)
    services.invitation_revoke(access=as_role(org, owner), invitation=invitation)

    assert tasks.send_invitation_email(**owed_email(invitation)) is False
    assert mail.outbox == []


def test_the_email_task_is_scoped_to_its_org(org: Organization, other_org: Organization, owner: User) -> None:
    invitation = services.invitation_create(access=as_role(org, owner), email="ada@example.com", role=Role.MEMBER)

    assert tasks.send_invitation_email(org_id=str(other_org.pk), invitation_id=str(invitation.pk)) is False
    assert mail.outbox == []


def test_purge_deletes_only_long_expired_invitations(org: Organization, owner: User) -> None:
    access = as_role(org, owner)
    fresh = services.invitation_create(access=access, email="fresh@example.com", role=Role.MEMBER)
    old = services.invitation_create(access=access, email="old@example.com", role=Role.MEMBER)
    just_expired = services.invitation_create(access=access, email="recent@example.com", role=Role.MEMBER)
    now = timezone.now()
    Invitation.objects.filter(pk=old.pk).update(
        expires_at=now - timedelta(days=settings.INVITATION_RETENTION_DAYS, seconds=1)
    )
    Invitation.objects.filter(pk=just_expired.pk).update(expires_at=now - timedelta(days=1))

    assert tasks.purge_invitations() == 1
    assert set(Invitation.objects.values_list("pk", flat=True)) == {fresh.pk, just_expired.pk}


def test_the_purge_job_is_declared_with_the_other_periodic_jobs() -> None:
    from alignment_service.celery import app

    app.loader.import_default_modules()
    assert app.conf.beat_schedule["invitations-purge"]["task"] == "teams.purge_invitations"


def test_a_departing_inviter_is_no_longer_named(org: Organization, owner: User, admin: User) -> None:
    invitation = services.invitation_create(
        access=as_role(org, admin, Role.ADMIN), email="ada@example.com", role=Role.MEMBER
    )

    services.member_remove(access=as_role(org, owner), membership=Membership.objects.get(organization=org, user=admin))

    invitation.refresh_from_db()
    assert invitation.invited_by is None
    assert invitation.status == InvitationStatus.PENDING


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_invitations_accepted_at_once_make_one_membership(org: Organization, owner: User) -> None:
    ada = UserFactory(username="ada", email="ada@example.com")
    invitations = [
        services.invitation_create(access=as_role(org, owner), email="ada@example.com", role=Role.MEMBER),
        services.invitation_create(access=as_role(org, owner), username="ada", role=Role.ADMIN),
    ]
    barrier = threading.Barrier(len(invitations))
    outcomes: list[str] = [""] * len(invitations)

    def accept(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            services.invitation_accept(user=ada, invitation=invitations[index])
            outcomes[index] = "accepted"
        except Conflict as exc:
            outcomes[index] = exc.code
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(n,)) for n in range(len(invitations))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["accepted", "already_member"]
    assert Membership.objects.filter(organization=org, user=ada).count() == 1
