"""Memberships: adding members, changing roles and removing them; an organization always keeps an owner."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from alignment_service.access import Access, Role
from alignment_service.activity.services import activity_record
from alignment_service.db import (
    DERIVED_VALUES_LOCK,
    lock_org,
)
from alignment_service.errors import Conflict, PermissionDenied, ValidationFailed
from alignment_service.outbox.services import outbox_enqueue
from alignment_service.types import JSONObject
from teams import hooks
from teams.models import (
    Invitation,
    Membership,
    Organization,
    Team,
    TeamMember,
    User,
)


def _require_owner_to_touch_owners(access: Access, *roles: str) -> None:
    if Role.OWNER in roles and not access.has_role(Role.OWNER):
        raise PermissionDenied("Only an owner can grant, change or remove the owner role.")


def _lock_owners(org: Organization) -> list[Membership]:
    return list(Membership.objects.select_for_update(no_key=True).filter(organization=org, role=Role.OWNER))


@transaction.atomic
def member_add(*, access: Access, user: User, role: Role) -> Membership:
    """Make `user` a member at once, without asking them: for the demo, fixtures and operators.
    No API route calls this; people join through `invitation_accept`."""
    _require_owner_to_touch_owners(access, role)
    if Membership.objects.filter(organization=access.org, user=user).exists():
        raise ValidationFailed("This user is already a member.", code="already_member", attr="user")
    return membership_create(access=access, user=user, role=role, summary=f"added {user.username} as {role}", data={})


def membership_create(*, access: Access, user: User, role: Role | str, summary: str, data: JSONObject) -> Membership:
    try:
        with transaction.atomic():
            membership = Membership.objects.create(organization=access.org, user=user, role=role)
    except IntegrityError:
        raise Conflict("This user is already a member.", code="already_member") from None
    outbox_enqueue(
        org=access.org,
        task_name="teams.send_welcome_email",
        kwargs={"org_id": str(access.org.pk), "membership_id": str(membership.pk)},
    )
    activity_record(
        access=access, verb="member.added", subject_type="member", subject_id=membership.pk,
        summary=summary, data={"user": user.pk, "role": role, **data},
    )  # fmt: skip
    return membership


@transaction.atomic
def member_change_role(*, access: Access, membership: Membership, role: Role) -> Membership:
    _require_owner_to_touch_owners(access, role, membership.role)
    owners = _lock_owners(access.org)
    if membership.role == Role.OWNER and role != Role.OWNER and len(owners) == 1:
        raise Conflict("The last owner cannot be demoted.", code="last_owner")
    old_role = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    activity_record(
        access=access, verb="member.role_changed", subject_type="member", subject_id=membership.pk,
        summary=f"changed {membership.user.username}'s role from {old_role} to {role}",
        data={"user": membership.user_id, "old": old_role, "new": role},
    )  # fmt: skip
    return membership


@transaction.atomic
def member_remove(*, access: Access, membership: Membership) -> None:
    """Remove a member; their history stays, teams they lead are left without a lead."""
    lock_org(DERIVED_VALUES_LOCK, access.org.pk)  # their goals are left unowned
    leaving_by_themselves = access.user is not None and membership.user_id == access.user.pk
    if not leaving_by_themselves and not access.is_admin:
        raise PermissionDenied("Only an admin can remove other members.")
    if not leaving_by_themselves:
        _require_owner_to_touch_owners(access, membership.role)
    owners = _lock_owners(access.org)
    if membership.role == Role.OWNER and len(owners) == 1:
        raise Conflict("The last owner cannot be removed.", code="last_owner")
    Team.objects.filter(organization=access.org, lead_id=membership.user_id).update(lead=None)
    TeamMember.objects.filter(organization=access.org, user_id=membership.user_id).delete()
    Invitation.objects.filter(organization=access.org, invited_by_id=membership.user_id).update(invited_by=None)
    for handler in hooks.member_departed:
        handler(org=access.org, user_id=membership.user_id)
    activity_record(
        access=access, verb="member.removed", subject_type="member", subject_id=membership.pk,
        summary="left the organization" if leaving_by_themselves else f"removed {membership.user.username}",
        data={"user": membership.user_id},
    )  # fmt: skip
    membership.delete()


def member_welcome(*, membership: Membership) -> bool:
    """Email a new member; False when already welcomed. At least once: a worker that dies
    between sending and recording sends again on redelivery rather than never."""
    from django.core.mail import send_mail

    if membership.welcomed_at is not None or not membership.user.email:
        return False
    org_name = membership.organization.name
    send_mail(
        subject=f"You have joined {org_name}",
        message=f"Hello {membership.user.username},\n\nYou are now a {membership.role} of {org_name}.",
        from_email=None,
        recipient_list=[membership.user.email],
    )
    Membership.objects.filter(pk=membership.pk).update(welcomed_at=timezone.now())
    return True
