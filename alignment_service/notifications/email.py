"""Email for what deserves more than the inbox, sent by a worker after commit.

At least once: a notification is marked emailed after its message is handed to the email
backend, so a worker that dies in between sends it again rather than never.
"""

from datetime import timedelta
from typing import TYPE_CHECKING

from django.core.mail import send_mail
from django.utils import timezone

from alignment_service.notifications.models import Notification

if TYPE_CHECKING:
    from teams.models import Organization

DIGEST_KIND = "course_correction.digest"
EMAIL_KINDS = (
    "course_correction.opened", "course_correction.resolved", DIGEST_KIND, "feedback.created", "webhook.disabled",
)  # fmt: skip
EMAIL_WINDOW = timedelta(days=1)


def email_send(*, to: str, subject: str, body: str) -> None:
    """Send one plain-text message from `DEFAULT_FROM_EMAIL`; call it from a worker, never inside
    a transaction."""
    send_mail(subject=subject, message=body, from_email=None, recipient_list=[to])


def email_pending(*, org: "Organization") -> int:
    """Email every recent notification of these kinds that has not been emailed yet."""
    pending = Notification.objects.filter(
        organization=org, kind__in=EMAIL_KINDS, emailed_at__isnull=True,
        created_at__gte=timezone.now() - EMAIL_WINDOW,
    ).select_related("recipient", "organization")  # fmt: skip
    sent = 0
    for notification in pending:
        if notification.recipient.email:
            send_mail(
                subject=f"[{notification.organization.name}] {notification.title}",
                message=notification.body,
                from_email=None,
                recipient_list=[notification.recipient.email],
            )
            sent += 1
        Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())
    return sent
