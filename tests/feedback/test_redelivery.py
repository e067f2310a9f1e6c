"""Tasks are idempotent: a redelivered or concurrent rescore adds no snapshot, correction,
notification or webhook delivery, and a run that dies mid-way leaves nothing half-written."""

import pytest
from django.db import transaction

from alignment_service.access import Access, Role
from alignment_service.notifications.models import Notification, WebhookDelivery
from alignment_service.notifications.webhook_endpoints import webhook_endpoint_create
from feedback import engine, tasks
from feedback.models import CourseCorrection, ScoreSnapshot
from teams.demo import DEMO_ORG_SLUG
from teams.models import Organization


@pytest.fixture
def demo(db, settings):
    from django.core.management import call_command

    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    call_command("load_demo")
    org = Organization.objects.get(slug=DEMO_ORG_SLUG)
    owner = org.memberships.get(role=Role.OWNER).user
    webhook_endpoint_create(access=Access(org=org, user=owner, role=Role.OWNER), url="http://127.0.0.1:9/hook")
    return org


def counts(org):
    return (
        ScoreSnapshot.objects.filter(organization=org).count(),
        CourseCorrection.objects.filter(organization=org).count(),
        Notification.objects.filter(organization=org).count(),
        WebhookDelivery.objects.filter(organization=org).count(),
    )


def test_a_redelivered_rescore_changes_nothing(demo):
    assert tasks.rescore_org(org_id=str(demo.pk)) is True
    first = counts(demo)
    assert all(first), first
    assert tasks.rescore_org(org_id=str(demo.pk)) is True
    assert counts(demo) == first


def test_a_rescore_of_a_deleted_org_returns_early(db):
    assert tasks.rescore_org(org_id="00000000-0000-0000-0000-000000000000") is False


def test_a_run_killed_mid_way_writes_nothing_and_the_retry_does_it_all(demo, monkeypatch):
    before = counts(demo)

    def die(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(engine, "_new_correction", die)
    with pytest.raises(SystemExit):
        tasks.rescore_org(org_id=str(demo.pk))
    assert counts(demo) == before
    monkeypatch.undo()
    tasks.rescore_org(org_id=str(demo.pk))
    assert CourseCorrection.objects.filter(organization=demo).count() > 0


def test_snapshots_cannot_be_written_twice_for_the_same_instant(demo):
    from django.utils import timezone

    now = timezone.now()
    engine.rescore_org(org=demo, now=now)
    written = ScoreSnapshot.objects.filter(organization=demo).count()
    with transaction.atomic():
        # As if a second worker saw stale state: this run's snapshots look outdated to it.
        ScoreSnapshot.objects.filter(computed_at=now).update(components={})
    engine.rescore_org(org=demo, now=now)
    assert ScoreSnapshot.objects.filter(organization=demo).count() == written
