from celery import shared_task

from alignment_service.outbox.services import owed_task
from teams import services
from teams.models import Invitation, Membership


@owed_task(name="teams.send_welcome_email", retry_on=(OSError,))
def send_welcome_email(*, org_id: str, membership_id: str) -> bool:
    membership = (
        Membership.objects.select_related("user", "organization")
        .filter(organization_id=org_id, pk=membership_id, welcomed_at__isnull=True)
        .first()
    )
    if membership is None:
        return False
    return services.member_welcome(membership=membership)


@shared_task(name="teams.purge_expired_tokens", ignore_result=True)
def purge_expired_tokens() -> int:
    return services.auth_tokens_purge_expired()


@owed_task(name="teams.send_invitation_email", retry_on=(OSError,))
def send_invitation_email(*, org_id: str, invitation_id: str) -> bool:
    invitation = (
        Invitation.objects.select_related("organization", "invitee")
        .filter(organization_id=org_id, pk=invitation_id, emailed_at__isnull=True)
        .first()
    )
    if invitation is None:
        return False
    return services.invitation_email_send(invitation=invitation)


@shared_task(name="teams.purge_invitations", ignore_result=True)
def purge_invitations() -> int:
    return services.invitations_purge()
