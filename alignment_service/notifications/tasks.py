from celery import shared_task

from alignment_service.notifications import email
from alignment_service.notifications.dispatch import webhook_deliveries_purge, webhooks_deliver_due
from alignment_service.notifications.services import notifications_purge
from alignment_service.outbox.services import owed_task


@shared_task(name="notifications.purge", ignore_result=True)
def purge() -> int:
    return notifications_purge()


# Webhook delivery drains every organization's due deliveries (like `outbox.drain`), so it takes
# no `org_id`; what is due is read from the database each run, which makes a redelivered or
# overlapping run harmless.
@owed_task(name="webhooks.deliver_due")
def webhooks_deliver() -> int:
    return webhooks_deliver_due()


@shared_task(name="webhooks.purge", ignore_result=True)
def webhooks_purge() -> int:
    return webhook_deliveries_purge()


@owed_task(name="notifications.email_pending", retry_on=(OSError,))
def email_pending(*, org_id: str) -> int:
    from django.apps import apps

    org = apps.get_model("teams", "Organization").objects.filter(pk=org_id).first()
    return 0 if org is None else email.email_pending(org=org)
