"""Every figure of the benchmark, each beside its hand-written reference (see `bench.references`)."""

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks import Webhook

from alignment_service.access import Access, Role
from alignment_service.notifications.models import Notification, WebhookEndpoint
from alignment_service.notifications.webhook_endpoints import webhook_endpoint_create
from alignment_service.outbox.models import OutboxMessage
from bench import references, seed
from bench.harness import (
    Client,
    Figure,
    Receiver,
    celery_worker,
    children,
    compare,
    free_port,
    gunicorn,
    memory_kib,
    verdict,
)
from feedback.engine import rescore_org
from feedback.models import CourseCorrection, RescoreState, ScoreSnapshot
from goals import ingest, services
from goals.models import Goal, GoalScore, Metric
from teams.models import Organization, User
from teams.services import auth_token_create

GROUPS = ("ingest", "reads", "rescore", "latency")
ORG_PATH = f"/api/v1/orgs/{seed.ORG_SLUG}"
REF_PATH = f"/bench/orgs/{seed.ORG_SLUG}"
DAILY_PUSH = 1_000
BACKFILL = 10_000
LATENCY_TARGET_SECONDS = 0.5


def run(*, size_name: str, rounds: int, reuse: bool, groups: set[str], env: dict[str, str]) -> list[Figure]:
    call_command("migrate", verbosity=0)
    size = seed.SIZES[size_name]
    seeded = _existing(size) if reuse else None
    if seeded is None:
        started = time.monotonic()
        seeded = seed.seed(size)
        print(f"seeded {size} in {time.monotonic() - started:.0f} s")
    figures: list[Figure] = []
    if groups & {"ingest", "reads"}:
        port = free_port()
        with gunicorn(env, port):
            client = Client(port, seeded.token)
            if "ingest" in groups:
                figures += ingest_figures(client, seeded, rounds)
            if "reads" in groups:
                figures += read_figures(client, rounds)
    if "ingest" in groups:
        figures.append(ingest_query_figure(seeded))
    if "rescore" in groups:
        figures += rescore_figures(seeded, rounds)
    if "latency" in groups:
        figures += latency_figures(seeded, env, rounds)
    return figures


def _existing(size: seed.Size) -> seed.Seeded | None:
    org = Organization.objects.filter(slug=seed.ORG_SLUG).first()
    if org is None or Goal.objects.filter(organization=org).count() != size.goals:
        return None
    owner = User.objects.get(username=seed.OWNER)
    _, token = auth_token_create(user=owner)
    team_goals = Goal.objects.filter(organization=org, team__isnull=False).order_by("id")
    team_goal_ids = list(team_goals.values_list("id", flat=True))
    keys = list(Metric.objects.filter(organization=org).order_by("key").values_list("key", flat=True))
    return seed.Seeded(org, owner, token, team_goal_ids, keys)


# --- Ingest -----------------------------------------------------------------------------------


class Instants:
    """Fresh, increasing observation times (one per call), so every push inserts new readings."""

    def __init__(self) -> None:
        self.base = timezone.now().replace(microsecond=0) - timedelta(hours=6)
        self.calls = 0

    def next(self) -> datetime:
        self.calls += 1
        return self.base + timedelta(seconds=self.calls)


def _daily_push(keys: list[str], instants: Instants, n: int) -> dict[str, Any]:
    count = min(DAILY_PUSH, len(keys))
    chosen = [keys[(n * count + i) % len(keys)] for i in range(count)]
    at = instants.next().isoformat()
    return {"readings": [{"metric": k, "value": 40.0 + i % 50, "observed_at": at} for i, k in enumerate(chosen)]}


def _backfill(keys: list[str], n: int, end: datetime) -> dict[str, Any]:
    key = keys[(len(keys) // 2 + n) % len(keys)]
    return {
        "readings": [
            {"metric": key, "value": 50.0 + (i % 40) / 4, "observed_at": (end - timedelta(minutes=i + 1)).isoformat()}
            for i in range(BACKFILL)
        ]
    }


def ingest_figures(client: Client, seeded: seed.Seeded, rounds: int) -> list[Figure]:
    instants = Instants()
    keys = seeded.metric_keys
    ours_path = f"{ORG_PATH}/readings/batch/"
    sql_path, copy_path = f"{REF_PATH}/readings/sql/", f"{REF_PATH}/readings/binary-copy/"

    def push(path: str) -> Callable[[int], float]:
        def measure(n: int) -> float:
            body = _daily_push(keys, instants, n)
            return len(body["readings"]) / client.timed("POST", path, body)

        return measure

    for path in (ours_path, sql_path, copy_path):  # warm both servers' code paths and caches
        push(path)(0)
    figures = [
        compare(
            "daily push (1,000 metrics × 1 reading)", "readings/s", "COPY + upsert + set-based update", "≥ 0.5×",
            push(ours_path), push(sql_path), rounds=rounds,
        ),
        compare(
            "daily push vs binary COPY", "readings/s", "binary COPY + upsert, no derived values", "≥ 0×",
            push(ours_path), push(copy_path), rounds=rounds,
        ),
    ]  # fmt: skip
    end = instants.base

    def backfill(path: str, offset: int) -> Callable[[int], float]:
        return lambda n: BACKFILL / client.timed("POST", path, _backfill(keys, 2 * n + offset, end))

    figures.append(
        compare(
            "backfill (1 metric × 10,000 readings)",
            "readings/s",
            "COPY + upsert + set-based update",
            "≥ 0.7×",
            backfill(ours_path, 0),
            backfill(sql_path, 1),
            rounds=rounds,
        )
    )
    return figures


def ingest_query_figure(seeded: seed.Seeded) -> Figure:
    """Queries of one batch through validation and the service, for 1,000 metrics and for 10."""
    access = Access(org=seeded.org, user=seeded.owner, role=Role.OWNER)
    instants = Instants()

    def queries(metrics: int) -> int:
        payload = _daily_push(seeded.metric_keys[:metrics], instants, 0)
        with _rolled_back(), CaptureQueriesContext(connection) as captured:
            services.readings_ingest(access=access, readings=ingest.parse_batch(org=seeded.org, payload=payload))
        return len(captured)

    big, small = queries(min(DAILY_PUSH, len(seeded.metric_keys))), queries(10)
    return Figure(
        "queries per batch (1,000 metrics)", big, "queries", "the same for 10 metrics", small, round(big / small, 3),
        "≤ 1×", verdict(big / small, "≤ 1×", None),
    )  # fmt: skip


# --- Reads ------------------------------------------------------------------------------------


def read_figures(client: Client, rounds: int) -> list[Figure]:
    def rate(path: str, repeat: int) -> Callable[[int], float]:
        return lambda n: 1 / client.timed("GET", path, repeat=repeat)

    def millis(path: str, repeat: int) -> Callable[[int], float]:
        return lambda n: 1000 * client.timed("GET", path, repeat=repeat)

    pairs = [
        ("goals list (50 a page)", "requests/s", ".values() + JsonResponse, same queries", "≥ 0.8×",
         "/goals/?limit=50&offset=100", rate, 20),
        ("dashboard", "ms", "GROUP BYs and DISTINCT ONs, same body", "≤ 3×", "/dashboard/", millis, 5),
        ("alignment tree", "ms", "one recursive CTE, same body", "≤ 3×", "/alignment-tree/", millis, 3),
        ("GET /orgs/{org}/ with a token", "requests/s", "plain Django view, same middleware", "≥ 0.6×",
         "/", rate, 40),
    ]  # fmt: skip
    figures = []
    for name, unit, reference, target, suffix, measure, repeat in pairs:
        ours_path, ref_path = ORG_PATH + suffix, REF_PATH + suffix
        client.request("GET", ours_path)
        client.request("GET", ref_path)
        figures.append(
            compare(
                name,
                unit,
                reference,
                target,
                measure(ours_path, repeat),
                measure(ref_path, repeat),
                rounds=rounds,
            )
        )
    return figures


# --- Rescore ----------------------------------------------------------------------------------


class _Rollback(Exception):
    pass


@contextmanager
def _rolled_back() -> Iterator[None]:
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


#: What a rescore or its reference writes. Each round is rolled back, which leaves its row
#: versions dead: without a vacuum each round would read more of them than the one before
#: (the reference's statement ran 2 to 3 times slower by the sixth round).
WRITTEN: tuple[type[Model], ...] = (
    Metric,
    Goal,
    GoalScore,
    ScoreSnapshot,
    CourseCorrection,
    RescoreState,
    Notification,
)


def _vacuum_written() -> None:
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in WRITTEN)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM " + tables)


def _timed_rolled_back(work: Callable[[], Any], prepare: Callable[[], Any] | None = None) -> float:
    """The time of `work` in a transaction rolled back after it, starting from tables vacuumed."""
    _vacuum_written()
    with _rolled_back():
        if prepare is not None:
            prepare()
        start = time.perf_counter()
        work()
        return time.perf_counter() - start


def rescore_figures(seeded: seed.Seeded, rounds: int) -> list[Figure]:
    org = seeded.org
    now = timezone.now()
    WebhookEndpoint.objects.filter(organization=org).delete()  # as seeded: the references send no events

    def full(n: int) -> float:
        return _timed_rolled_back(lambda: rescore_org(org=org, now=now + timedelta(days=n + 1)))

    def unchanged(n: int) -> float:
        at = now + timedelta(days=n + 1)
        return _timed_rolled_back(lambda: rescore_org(org=org, now=at), prepare=lambda: rescore_org(org=org, now=at))

    def statement(n: int) -> float:
        return _timed_rolled_back(lambda: references.rescore_statement(org))

    figures = [
        compare("full rescore", "s", "one SQL statement writing every progress", "≤ 2×", full, statement,
                rounds=rounds),
        compare("rescore, nothing changed", "s", "one SQL statement writing every progress", "≤ 0.5×", unchanged,
                statement, rounds=rounds),
    ]  # fmt: skip
    figures.append(_rescore_query_figure(seeded, now))
    return figures


def _rescore_query_figure(seeded: seed.Seeded, now: datetime) -> Figure:
    """Both organizations alike: one webhook endpoint each, so that the events a rescore
    sends are counted on both sides."""

    def queries(target: seed.Seeded) -> int:
        with _rolled_back():
            WebhookEndpoint.objects.filter(organization=target.org).delete()
            webhook_endpoint_create(
                access=Access(org=target.org, user=target.owner, role=Role.OWNER), url="http://127.0.0.1:9/hook",
                events=["course_correction.opened", "course_correction.resolved"],
            )  # fmt: skip
            with CaptureQueriesContext(connection) as captured:
                rescore_org(org=target.org, now=now + timedelta(days=1))
        return len(captured)

    big = queries(seeded)
    with _rolled_back():
        small = queries(seed.seed(seed.SIZES["tiny"], slug="bench-tiny"))
    return Figure(
        "queries per rescore", big, "queries", "the same for a 20-goal organization", small,
        round(big / small, 3), "≤ 1×", verdict(big / small, "≤ 1×", None),
    )  # fmt: skip


# --- Latency and worker memory ----------------------------------------------------------------


def latency_figures(seeded: seed.Seeded, env: dict[str, str], rounds: int) -> list[Figure]:
    """Reading → course correction → signed webhook received on loopback, through a real worker."""
    org = seeded.org
    goal_id = seeded.team_goal_ids[0]
    metrics = list(Metric.objects.filter(goal_id=goal_id).values_list("key", "baseline", "target"))
    OutboxMessage.objects.filter(organization=org).delete()
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    WebhookEndpoint.objects.filter(organization=org).delete()
    access = Access(org=org, user=seeded.owner, role=Role.OWNER)
    port = free_port()
    samples: list[float] = []
    with Receiver(lambda body, headers: dict(Webhook(secret).verify(body, headers))) as receiver:
        endpoint = webhook_endpoint_create(
            access=access, url=f"http://127.0.0.1:{receiver.port}/hook",
            events=["course_correction.opened", "course_correction.resolved"],
        )  # fmt: skip
        secret = endpoint.secret
        with gunicorn(env, port), celery_worker(env) as worker:
            client = Client(port, seeded.token)

            def push(on_track: bool) -> tuple[float, float | None]:
                at = timezone.now().astimezone(UTC).isoformat()
                body = [{"metric": k, "value": t if on_track else b, "observed_at": at} for k, b, t in metrics]
                event = "course_correction.resolved" if on_track else "course_correction.opened"
                since = len(receiver.received)
                start = time.perf_counter()
                client.request("POST", f"{ORG_PATH}/readings/batch/", {"readings": body})
                arrived = receiver.wait_for(
                    lambda e: e["type"] == event and e["data"]["subject_id"] == str(goal_id), since=since, timeout=60
                )
                return start, arrived

            push(True)  # settle: resolve a correction left open by the seed, and warm the worker
            _wait_idle(org)
            child = children(worker.pid)[0]
            idle = memory_kib(child, "VmRSS")
            for n in range(max(4 * rounds, 20)):
                start, arrived = push(n % 2 == 1)
                if arrived is None:
                    raise RuntimeError("no webhook within 60 s")
                samples.append(arrived - start)
                time.sleep(0.2)
            peak = memory_kib(child, "VmHWM")
    print("latency samples (s):", " ".join(f"{sample:.2f}" for sample in samples))
    p95 = statistics.quantiles(samples, n=20, method="inclusive")[-1] if len(samples) >= 2 else samples[0]
    ratio = p95 / LATENCY_TARGET_SECONDS
    return [
        Figure(
            "reading → correction → webhook (p95)", round(p95, 3), "s", "the target", LATENCY_TARGET_SECONDS,
            round(ratio, 3), "≤ 1×", verdict(ratio, "≤ 1×", None),
        ),
        Figure(
            "worker peak memory", round(peak / 1024, 1), "MiB", "its idle size", round(idle / 1024, 1),
            round(peak / idle, 3), "≤ 1.5×", verdict(peak / idle, "≤ 1.5×", None),
        ),
    ]  # fmt: skip


def _wait_idle(org: Organization, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while OutboxMessage.objects.filter(organization=org, completed_at__isnull=True).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not finish its owed work")
        time.sleep(0.5)
