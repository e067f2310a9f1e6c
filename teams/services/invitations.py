"""Invitations: inviting by email or username, answering, revoking, and the invitation email."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alignment_service.access import Access, Role
from alignment_service.activity.services import activity_record
from alignment_service.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from alignment_service.notifications.email import email_send
from alignment_service.outbox.services import outbox_enqueue
from teams import selectors
from teams.models import (
    Invitation,
    InvitationStatus,
    Membership,
    Organization,
    User,
)
from teams.services.memberships import membership_create


@transaction.atomic
def invitation_create(*, access: Access, role: Role, email: str = "", username: str = "") -> Invitation:
    """Invite a person by email address or username (or both) to take `role`.

    The result and its side effects are the same whether or not an account exists for that
    name or address, and whether or not it is a member already: the email is owed either way
    and the worker decides whom it reaches.
    """
    if role == Role.OWNER and not access.has_role(Role.OWNER):
        raise PermissionDenied("Only an owner can invite an owner.")
    if not email and not username:
        raise ValidationFailed("Give an email address or a username.", code="email_or_user_required", attr="email")
    _refuse_a_second_pending_invitation(access.org, email=email, username=username)
    invitee = selectors.active_user_by_username(username=username) if username else None
    invitation = Invitation.objects.create(
        organization=access.org, email=email, username=username, invitee=invitee, role=role,
        invited_by=access.user, expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )  # fmt: skip
    outbox_enqueue(
        org=access.org,
        task_name="teams.send_invitation_email",
        kwargs={"org_id": str(access.org.pk), "invitation_id": str(invitation.pk)},
    )
    # The feed is read by every member: it names the role, never the invitee's address.
    activity_record(
        access=access, verb="invitation.created", subject_type="invitation", subject_id=invitation.pk,
        summary=f"invited someone as {role}", data={"role": role},
    )  # fmt: skip
    return invitation


def _refuse_a_second_pending_invitation(org: Organization, *, email: str, username: str) -> None:
    """Compares what admins typed only, never accounts, so the refusal reveals nothing new."""
    same = Q()
    if email:
        same |= Q(email__iexact=email)
    if username:
        same |= Q(username__iexact=username)
    pending = selectors.invitations_filter_status(selectors.invitation_list(org=org), InvitationStatus.PENDING)
    if pending.filter(same).exists():
        raise Conflict("A pending invitation for this address or username already exists.", code="already_invited")


@transaction.atomic
def invitation_revoke(*, access: Access, invitation: Invitation) -> Invitation:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk, organization=access.org)
    if invitation.status == InvitationStatus.REVOKED:
        return invitation
    if invitation.status != InvitationStatus.PENDING:
        raise Conflict(f"This invitation was already {invitation.status}.", code="invitation_not_pending")
    invitation.status = InvitationStatus.REVOKED
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "responded_at"])
    activity_record(
        access=access, verb="invitation.revoked", subject_type="invitation", subject_id=invitation.pk,
        summary="revoked an invitation", data={"role": invitation.role},
    )  # fmt: skip
    return invitation


def _lock_open_invitation(user: User, invitation: Invitation) -> Invitation:
    """The invitation, locked, if it is addressed to `user` and can still be answered."""
    locked = selectors.invitations_for_user(user=user).select_for_update(of=("self",)).filter(pk=invitation.pk)
    found = locked.first()
    if found is None:
        raise NotFound("Not found.")
    status = found.effective_status()
    if status == InvitationStatus.EXPIRED:
        raise Conflict("This invitation has expired; ask for a new one.", code="invitation_expired")
    if status != InvitationStatus.PENDING:
        raise Conflict(f"This invitation was already {status}.", code="invitation_not_pending")
    return found


@transaction.atomic
def invitation_accept(*, user: User, invitation: Invitation) -> Invitation:
    """The invitee joins the organization with the invited role (409 if already a member)."""
    invitation = _lock_open_invitation(user, invitation)
    org = invitation.organization
    if Membership.objects.filter(organization=org, user=user).exists():
        raise Conflict("You are already a member of this organization.", code="already_member")
    membership_create(
        access=Access(org=org, user=user, role=Role(invitation.role)), user=user, role=invitation.role,
        summary=f"joined as {invitation.role}, by invitation", data={"invitation": str(invitation.pk)},
    )  # fmt: skip
    return _answer(invitation, user, InvitationStatus.ACCEPTED)


@transaction.atomic
def invitation_decline(*, user: User, invitation: Invitation) -> Invitation:
    invitation = _lock_open_invitation(user, invitation)
    # No actor: the feed of an organization shows none of a person outside it.
    activity_record(
        access=Access(org=invitation.organization), verb="invitation.declined", subject_type="invitation",
        subject_id=invitation.pk, summary="an invitation was declined", data={"role": invitation.role},
    )  # fmt: skip
    return _answer(invitation, user, InvitationStatus.DECLINED)


def _answer(invitation: Invitation, user: User, status: InvitationStatus) -> Invitation:
    invitation.status = status
    invitation.invitee = user
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "invitee", "responded_at"])
    return invitation


def invitation_email_recipient(invitation: Invitation) -> str:
    if invitation.email:
        return invitation.email
    return invitation.invitee.email if invitation.invitee is not None else ""


def invitation_email_send(*, invitation: Invitation) -> bool:
    """Email the invitee; False when already emailed, no longer open or nobody to write to.
    At least once, like the welcome email."""
    recipient = invitation_email_recipient(invitation)
    open_ = invitation.effective_status() == InvitationStatus.PENDING
    if invitation.emailed_at is not None or not open_ or not recipient:
        return False
    org = invitation.organization
    email_send(
        to=recipient,
        subject=f"You are invited to join {org.name}",
        body=(
            f"You are invited to join {org.name} ({org.slug}) as {invitation.role}.\n\n"
            f"Sign in with the account that holds this address and accept it with\n"
            f"POST /api/v1/invitations/{invitation.pk}/accept/ (or decline it with /decline/).\n"
            f"It expires at {invitation.expires_at.isoformat()}. If you do not know {org.name}, ignore this message."
        ),
    )
    Invitation.objects.filter(pk=invitation.pk).update(emailed_at=timezone.now())
    return True


def invitations_purge(*, now: datetime | None = None) -> int:
    """Delete invitations that expired more than `INVITATION_RETENTION_DAYS` ago, whatever their status."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.INVITATION_RETENTION_DAYS)
    deleted, _ = Invitation.objects.filter(expires_at__lt=cutoff).delete()
    return deleted
