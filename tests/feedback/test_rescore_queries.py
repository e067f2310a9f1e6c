"""A full rescore costs the same number of queries whatever the size of the organization:
every write is one statement however many rows it carries (snapshots, goal scores, course
corrections opened, closed and relinked, webhook deliveries, notifications), and the events of
one rescore go out in one insert."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alignment_service.notifications.models import WebhookDelivery, WebhookEndpoint
from bench import rescore_floor, seed
from feedback.engine import rescore_org
from feedback.models import CorrectionStatus, CourseCorrection, ScoreSnapshot
from goals.models import Goal, GoalStatus

pytestmark = pytest.mark.postgres

SMALL = seed.SIZES["tiny"]
#: Enough goals for more than a thousand webhook deliveries in one rescore.
LARGE = seed.Size(goals=1_400, metrics=1_400, readings=7_000)


def rescore_queries(size, slug):
    """Seed, then leave the corrections of two goals (cancelled: they expire) and no other, so
    that the rescore opens, closes and relinks corrections and owes their events."""
    org = seed.seed(size, slug=slug).org
    cancelled = list(Goal.objects.filter(organization=org, team__isnull=False).order_by("id")[:2])
    Goal.objects.filter(pk__in=[g.pk for g in cancelled]).update(status=GoalStatus.CANCELLED)
    CourseCorrection.objects.filter(organization=org).exclude(subject_id__in=[str(g.pk) for g in cancelled]).delete()
    WebhookEndpoint.objects.create(organization=org, url=f"https://hooks.example.com/{slug}", secret="s")
    with CaptureQueriesContext(connection) as captured:
        rescore_org(org=org, now=timezone.now() + timedelta(days=1))
    return org, len(captured)


@pytest.mark.django_db(transaction=False)
def test_a_full_rescore_costs_the_same_queries_for_a_small_and_a_large_organization():
    small_org, small = rescore_queries(SMALL, "rescore-small")
    large_org, large = rescore_queries(LARGE, "rescore-large")

    assert WebhookDelivery.objects.filter(organization=large_org).count() > 1_000, "past any insert batch"
    for org in (small_org, large_org):
        corrections = CourseCorrection.objects.filter(organization=org)
        assert corrections.filter(status=CorrectionStatus.EXPIRED).exists()
        assert corrections.exclude(caused_by=None).exists()
        assert WebhookDelivery.objects.filter(organization=org).exists()
    assert large == small


def _written(org):
    return (
        sorted(ScoreSnapshot.objects.filter(organization=org).values_list("subject_id", "score", "computed_at")),
        sorted(CourseCorrection.objects.filter(organization=org).values_list("id", "status", "caused_by_id")),
    )


@pytest.mark.django_db(transaction=False)
def test_the_floor_benchmark_replays_a_rescore_s_statements_to_the_same_rows():
    """`bench.rescore_floor` times a rescore's SQL alone by replaying what it sent: the replay
    must do the same work."""
    org = seed.seed(SMALL, slug="rescore-replay").org
    at = timezone.now() + timedelta(days=1)
    with transaction.atomic():
        with CaptureQueriesContext(connection) as captured:
            rescore_org(org=org, now=at)
        rescored = _written(org)
        transaction.set_rollback(True)
    before = _written(org)
    statements = [q["sql"] for q in captured.captured_queries if not rescore_floor._is_transaction_control(q["sql"])]
    with transaction.atomic():
        rescore_floor._replay(connection, statements)
        assert _written(org) == rescored != before
        transaction.set_rollback(True)
