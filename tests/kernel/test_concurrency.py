"""Writes beside the workers, on PostgreSQL: concurrent clients post check-ins, readings,
batches, feedback, assessments and goal changes while a rescore loop runs on the same
organization. No answer is a 5xx, every accepted write is stored, and PostgreSQL reports no
deadlock at all (the server's retry would hide one from the clients, so the database's own
counter is the proof)."""

import random
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from alignment_service.access import Role
from alignment_service.outbox import services as outbox
from alignment_service.outbox.models import OutboxMessage
from feedback import engine
from feedback.models import Assessment, CheckIn, Feedback
from goals.models import Reading
from teams import services as team_services
from tests.conftest import bearer_client
from tests.factories import GoalFactory, MembershipFactory, MetricFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLIENTS = 6
WRITES_PER_CLIENT = 12


def _deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.fixture
def busy_org(org):
    lead = UserFactory()
    MembershipFactory(organization=org, user=lead, role=Role.ADMIN)
    teams = [TeamFactory(organization=org, lead=lead) for _ in range(3)]
    goals = [GoalFactory(organization=org, team=teams[i % 3]) for i in range(6)]
    metrics = [MetricFactory(goal=goal) for goal in goals for _ in range(2)]
    return org, lead, teams, goals, metrics


def _client(org, role=Role.ADMIN):
    user = UserFactory()
    MembershipFactory(organization=org, user=user, role=role)
    _, secret = team_services.auth_token_create(user=user)
    return bearer_client(secret)


def _writes(org, teams, goals, metrics, client_no):
    """A shuffled mix of the writes that owe a rescore, each with its expected status."""
    base = f"/api/v1/orgs/{org.slug}/"
    start = timezone.now() - timedelta(days=60)
    writes = []
    for n in range(WRITES_PER_CLIENT):
        goal, metric = random.choice(goals), random.choice(metrics)
        at = (start + timedelta(minutes=client_no * 1000 + n)).isoformat()
        batch = [
            {"metric": m.key, "value": random.uniform(0, 100), "observed_at": at} for m in random.sample(metrics, 6)
        ]
        writes += [
            ("post", base + "check-ins/", {"goal": str(goal.pk), "summary": "Steady", "confidence": n % 11}),
            ("post", base + f"metrics/{metric.pk}/readings/", {"value": random.uniform(0, 100), "observed_at": at}),
            ("post", base + "readings/batch/", {"readings": batch}),
            ("post", base + "feedback/", {"target_type": "goal", "target_id": str(goal.pk), "kind": "concern",
                                          "body": "Slipping?"}),
            ("post", base + "assessments/", {"team": str(random.choice(teams).pk), "alignment": 1 + n % 5,
                                             "confidence": 1 + (n * 3) % 5}),
            ("patch", base + f"goals/{goal.pk}/", {"description": f"Take {client_no}.{n}"}),
        ]  # fmt: skip
    random.shuffle(writes)
    return writes


def _run_client(client, writes, statuses, errors):
    try:
        for method, url, body in writes:
            response = getattr(client, method)(url, body, format="json")
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                errors.append((url, response.status_code, response.content[:300]))
    finally:
        connections.close_all()


def _rescore_loop(org, stop, runs, errors):
    try:
        while not stop.is_set():
            try:
                engine.rescore_org(org=org)
                runs.append(1)
            except engine.RescoreBusy:
                time.sleep(0.01)
    except Exception as exc:  # the test fails on any other error of the rescore
        errors.append(("rescore", repr(exc)))
    finally:
        connections.close_all()


def test_writes_beside_a_rescore_loop_never_deadlock_nor_fail(busy_org):
    org, _, teams, goals, metrics = busy_org
    deadlocks_before = _deadlocks()
    clients = [_client(org) for _ in range(CLIENTS)]
    statuses: Counter[int] = Counter()
    errors: list = []
    stop, runs = threading.Event(), []
    rescorer = threading.Thread(target=_rescore_loop, args=(org, stop, runs, errors))
    rescorer.start()
    threads = [
        threading.Thread(target=_run_client, args=(client, _writes(org, teams, goals, metrics, i), statuses, errors))
        for i, client in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    stop.set()
    rescorer.join(timeout=60)

    assert errors == []
    assert set(statuses) <= {200, 201}, statuses
    assert sum(statuses.values()) == CLIENTS * WRITES_PER_CLIENT * 6
    assert runs, "the rescore ran beside the writes"
    per_kind = CLIENTS * WRITES_PER_CLIENT
    assert CheckIn.objects.filter(organization=org).count() == per_kind
    assert Feedback.objects.filter(organization=org).count() == per_kind
    assert Assessment.objects.filter(organization=org).count() == per_kind
    assert Reading.objects.filter(organization=org).count() >= per_kind
    time.sleep(1.5)  # backends report their statistics at most once a second
    assert _deadlocks() == deadlocks_before


def test_writers_owing_the_same_work_in_opposite_orders_do_not_wait_for_each_other(org):
    """Two transactions that owe the same two coalesced jobs, in opposite orders, both commit
    at once: owing work is a plain insert, with nothing to conflict on."""
    other = type(org).objects.create(name="Other", slug="other-org")
    keys = [(org, "rescore"), (other, "email")]
    barrier = threading.Barrier(2)
    finished: list[float] = []

    def owe(order):
        started = time.monotonic()
        try:
            with transaction.atomic():
                for owner, task in order:
                    outbox.outbox_enqueue(org=owner, task_name=task, kwargs={}, dedupe_key=f"{task}:{owner.pk}")
                    barrier.wait(timeout=5)
            finished.append(time.monotonic() - started)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=owe, args=(order,)) for order in (keys, keys[::-1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(finished) == 2
    assert max(finished) < 1.0
    assert OutboxMessage.objects.count() == 4
