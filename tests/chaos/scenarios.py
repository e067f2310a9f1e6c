"""The fault scenarios of issue 8 and its "Done when" load, each against the private stack."""

import contextlib
import itertools
import json
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from tests.chaos import checks
from tests.chaos.checks import Result
from tests.chaos.client import Api, Org, Tally, iso, make_org
from tests.chaos.receivers import Receiver
from tests.chaos.servers import Stack, wait_until

OWED_DONE_WITHIN = 60.0


# --- Writes ---------------------------------------------------------------------------------


class Writer:
    """Writes that owe a rescore, with distinct reading instants so every accepted one is a new
    row; counts what was accepted so the rows can be counted afterwards."""

    def __init__(self, org: Org, recompute_every: int = 0) -> None:
        self.org = org
        self.recompute_every = recompute_every
        self.start = datetime.now(UTC) - timedelta(days=20)
        self.accepted: Counter[str] = Counter()
        self.readings_accepted = 0
        self.seconds: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    def mix(self, client_no: int, count: int, kinds: tuple[str, ...] = ("checkin", "reading")) -> list[tuple]:
        writes = []
        for n in range(count):
            kind = kinds[n % len(kinds)]
            if self.recompute_every and n % self.recompute_every == self.recompute_every - 1:
                kind = "recompute"
            writes.append(self.write(kind, client_no, n))
        return writes

    def write(self, kind: str, client_no: int, n: int) -> tuple[str, str, str, Any]:
        org, rng = self.org, random.Random(client_no * 100_000 + n)
        goal, metric = rng.choice(org.goals), rng.choice(org.metrics)
        at = self.start + timedelta(minutes=client_no * 300 + n * 2)  # distinct, and all in the past
        if kind == "checkin":
            return kind, "POST", org.path("check-ins/"), {"goal": goal, "summary": "Steady", "confidence": n % 11}
        if kind == "reading":
            return (
                kind,
                "POST",
                org.path(f"metrics/{metric['id']}/readings/"),
                {"value": rng.uniform(0, 100), "observed_at": iso(at)},
            )
        if kind == "batch":
            batch = [
                {"metric": m["key"], "value": rng.uniform(0, 100), "observed_at": iso(at + timedelta(minutes=1))}
                for m in rng.sample(org.metrics, min(6, len(org.metrics)))
            ]
            return kind, "POST", org.path("readings/batch/"), {"readings": batch}
        if kind == "feedback":
            return (
                kind,
                "POST",
                org.path("feedback/"),
                {"target_type": "goal", "target_id": goal, "kind": "concern", "body": "Slipping?"},
            )
        if kind == "assessment":
            return (
                kind,
                "POST",
                org.path("assessments/"),
                {"team": org.team, "alignment": 1 + n % 5, "confidence": 1 + (n * 3) % 5},
            )
        if kind == "goal":
            return kind, "PATCH", org.path(f"goals/{goal}/"), {"description": f"Take {client_no}.{n}"}
        return "recompute", "POST", org.path("scores/recompute/"), None

    def run(self, api: Api, writes: list[tuple], tally: Tally, on_each: Callable[[], None] | None = None) -> None:
        for kind, method, path, body in writes:
            answer = api.call(method, path, body)
            tally.add(f"{method} {path}", answer)
            with self.lock:
                self.seconds.setdefault(kind, []).append(answer.seconds)
            if 200 <= answer.status < 300:
                with self.lock:
                    self.accepted[kind] += 1
                    if kind == "reading":
                        self.readings_accepted += 1
                    elif kind == "batch":
                        self.readings_accepted += len(body["readings"])
            if on_each is not None:
                on_each()
        api.close()

    def p95_by_kind(self) -> dict[str, int]:
        return {kind: round(sorted(s)[int(0.95 * (len(s) - 1))] * 1000) for kind, s in self.seconds.items()}

    def stored(self, stack: Stack, org: str) -> dict[str, tuple[int, int]]:
        """(accepted, stored) per kind of row."""
        with stack.db() as db:

            def count(table: str) -> int:
                return int(db.execute(f"SELECT count(*) FROM {table} WHERE organization_id = %s", [org]).fetchone()[0])  # noqa: S608

            rows = {
                "checkin": (self.accepted["checkin"], count("feedback_checkin")),
                "feedback": (self.accepted["feedback"], count("feedback_feedback")),
                "assessment": (self.accepted["assessment"], count("feedback_assessment")),
                "reading": (self.readings_accepted, count("goals_reading")),
                "recompute": (self.accepted["recompute"], count("feedback_scorejob")),
            }
        return {kind: pair for kind, pair in rows.items() if pair[0] or pair[1]}


def run_clients(
    org: Org,
    writer: Writer,
    batches: list[list[tuple]],
    tally: Tally,
    on_each: Callable[[], None] | None = None,
    timeout: float = 30.0,
) -> None:
    threads = [
        threading.Thread(target=writer.run, args=(org.api(timeout), batch, tally, on_each), daemon=True)
        for batch in batches
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)


def expect_all_stored(result: Result, writer: Writer, stack: Stack, org: str) -> None:
    stored = writer.stored(stack, org)
    result.figures["stored"] = {kind: f"{s}/{a}" for kind, (a, s) in stored.items()}
    for kind, (accepted, count) in stored.items():
        result.expect(count == accepted, f"{kind}: {accepted} accepted, {count} stored")


# --- Redis stopped / frozen ---------------------------------------------------------------


def _redis_outage(stack: Stack, result: Result, *, freeze: bool) -> None:
    org = make_org(stack.base_url)
    oid = checks.org_id(stack, org.slug)
    writer = Writer(org, recompute_every=20)
    batches = [writer.mix(client_no, 100) for client_no in range(2)]
    done = Counter[str]()
    lock = threading.Lock()
    state = {"down_at": 0.0, "back_at": 0.0}
    phases = {"before": Tally(), "during": Tally(), "after": Tally()}

    class PhasedTally(Tally):
        def add(self, what: str, answer: Any) -> None:
            super().add(what, answer)
            phase = "before" if not state["down_at"] else "during" if not state["back_at"] else "after"
            phases[phase].add(what, answer)

    tally = PhasedTally()

    def fault_in_the_middle() -> None:
        with lock:
            done["writes"] += 1
            n = done["writes"]
            if n == 50 and not state["down_at"]:
                state["down_at"] = time.monotonic()
                stack.redis.freeze() if freeze else stack.redis.stop()
            elif n == 150 and not state["back_at"]:
                time.sleep(max(0.0, 5.0 - (time.monotonic() - state["down_at"])))  # at least 5 s down
                stack.redis.thaw() if freeze else stack.redis.start()
                state["back_at"] = time.monotonic()

    try:
        run_clients(org, writer, batches, tally, fault_in_the_middle)
    finally:
        if freeze:
            stack.redis.thaw()
        elif not stack.redis.process.alive():
            stack.redis.start()
    back_at = state["back_at"] or time.monotonic()
    waited_from = time.monotonic()
    settled = checks.wait_owed_done(stack, oid, OWED_DONE_WITHIN + 30)
    owed_after = None if settled is None else waited_from + settled - back_at
    result.figures.update(
        writes=tally.count,
        accepted=sum(writer.accepted.values()),
        fivexx=tally.server_errors,
        p50_ms=round(tally.percentile(0.5) * 1000),
        p95_ms=round(tally.percentile(0.95) * 1000),
        max_ms=round(max(tally.seconds) * 1000),
        outage_s=round(back_at - state["down_at"], 1),
        owed_done_after_return_s=None if settled is None else round(owed_after, 1),
        jobs=checks.job_statuses(stack, oid),
        restarts=dict(stack.restarts),
        **{f"p95_{name}_ms": round(phase.percentile(0.95) * 1000) for name, phase in phases.items()},
    )
    result.expect(
        tally.count == 200 and sum(writer.accepted.values()) == 200,
        f"{200 - sum(writer.accepted.values())} of 200 writes refused: {tally.bad[:3]}",
    )
    # The bar is 300 ms. On a machine slower than that with no fault at all (p95 of the writes
    # before the outage ≥ 300 ms), the bar is 1.25 times that pace instead, and `bar_ms` says so:
    # what is proved then is that the outage costs the writes nothing, not the absolute figure.
    during, before = phases["during"].percentile(0.95), phases["before"].percentile(0.95)
    bar = 0.3 if before < 0.3 else before * 1.25
    result.figures["bar_ms"] = round(bar * 1000)
    result.expect(during < bar, f"p95 while Redis was away {during * 1000:.0f} ms ≥ {bar * 1000:.0f} ms")
    result.expect(tally.percentile(0.95) < bar, f"p95 {tally.percentile(0.95) * 1000:.0f} ms ≥ {bar * 1000:.0f} ms")
    result.expect(
        settled is not None and owed_after is not None and owed_after <= OWED_DONE_WITHIN,
        f"owed work not done within {OWED_DONE_WITHIN:.0f} s of Redis's return "
        f"(owed rows {checks.owed(stack, oid)}, jobs {checks.job_statuses(stack, oid)})",
    )
    expect_all_stored(result, writer, stack, oid)


def redis_stopped(stack: Stack, result: Result) -> None:
    """Redis stopped (and started again, empty) in the middle of 200 writes."""
    _redis_outage(stack, result, freeze=False)


def redis_frozen(stack: Stack, result: Result) -> None:
    """Redis frozen with SIGSTOP (connections accepted, nothing answered) in the middle of 200 writes."""
    _redis_outage(stack, result, freeze=True)


# --- Redis restarted empty -------------------------------------------------------------------


def redis_restarted_empty(stack: Stack, result: Result) -> None:
    """Work published to Redis and lost with it: the worker is paused while writes and recompute
    requests are published, Redis restarts empty, the worker resumes."""
    org = make_org(stack.base_url)
    oid = checks.org_id(stack, org.slug)
    writer = Writer(org, recompute_every=5)
    tally = Tally()
    stack.worker.signal_group(signal.SIGSTOP)
    try:
        run_clients(org, writer, [writer.mix(0, 30)], tally)
        with stack.db() as db:

            def all_published() -> bool:
                return (
                    db.execute(
                        "SELECT count(*) FROM outbox_outboxmessage WHERE organization_id = %s AND completed_at IS NULL "
                        "AND dispatched_at IS NULL",
                        [oid],
                    ).fetchone()[0]
                    == 0
                )

            # Rows of a group in flight wait for it: one published row per group is what matters.
            wait_until(all_published, 3, 0.2)
            lost = db.execute(
                "SELECT count(*) FROM outbox_outboxmessage WHERE organization_id = %s AND completed_at IS NULL "
                "AND dispatched_at IS NOT NULL",
                [oid],
            ).fetchone()[0]
        stack.redis.stop()
        stack.redis.start()
        restarted_at = time.monotonic()
    finally:
        stack.worker.signal_group(signal.SIGCONT)
        if not stack.redis.process.alive():
            stack.redis.start()
    settled = checks.wait_owed_done(stack, oid, 120)
    jobs = checks.job_statuses(stack, oid)
    result.figures.update(
        writes=tally.count,
        fivexx=tally.server_errors,
        owed_rows_lost_with_redis=lost,
        done_after_restart_s=None if settled is None else round(time.monotonic() - restarted_at, 1),
        jobs=jobs,
        restarts=dict(stack.restarts),
    )
    result.expect(lost > 0, "nothing was in flight when Redis restarted (the scenario proved nothing)")
    result.expect(tally.server_errors == 0, f"5xx answers: {tally.bad[:3]}")
    result.expect(
        settled is not None,
        f"owed work not done 120 s after the restart: {checks.owed(stack, oid)} rows owed, jobs {jobs}",
    )
    result.expect(set(jobs) <= {"succeeded"}, f"score jobs {jobs}")


# --- Worker killed ---------------------------------------------------------------------------


def worker_killed(stack: Stack, result: Result, rounds: int = 10) -> None:
    """Ten kills: the whole worker (parent and pool) or only its pool children, in the middle of
    a rescore or of a webhook delivery. Nothing is done twice, nothing is stranded."""
    org = make_org(stack.base_url, goals=30, metrics_per_goal=2)
    oid = checks.org_id(stack, org.slug)
    slow = Receiver("slow", delay=1.5).start()
    api = org.api()
    endpoint = api.ok(
        "POST",
        org.path("webhooks/"),
        {"url": slow.url, "events": ["checkin.created", "course_correction.opened", "course_correction.resolved"]},
    )
    kills: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    longest_running = 0.0
    try:
        with stack.db() as db:
            for n in range(rounds):
                whole = n % 2 == 0
                during = "rescore" if n % 4 < 2 else "delivery"
                value = 5.0 if n % 2 == 0 else 70.0  # off track, then back on pace: corrections open and resolve
                now = datetime.now(UTC)
                readings = [
                    {"metric": m["key"], "value": value + i, "observed_at": iso(now - timedelta(hours=3 - i))}
                    for m in org.metrics
                    for i in range(3)
                ]
                api.ok("POST", org.path("readings/batch/"), {"readings": readings})
                api.ok(
                    "POST",
                    org.path("check-ins/"),
                    {"goal": org.goals[n % len(org.goals)], "summary": f"Round {n}", "confidence": 2 + n % 5},
                )
                api.ok("POST", org.path("scores/recompute/"))
                if during == "rescore":
                    caught = wait_until(lambda: checks.rescore_running(db, oid), 20, 0.005)
                else:
                    caught = wait_until(lambda: slow.in_progress > 0, 20, 0.01)
                if not caught:
                    missed[during] += 1
                    continue
                if whole:
                    stack.worker.signal_group(signal.SIGKILL)
                else:
                    for child in stack.worker.children():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(child, signal.SIGKILL)
                kills[f"{'worker' if whole else 'children'}-mid-{during}"] += 1
                stack.worker_ready(60)
                longest_running = max(longest_running, _running_for(db, oid))
        deadline = time.monotonic() + 150
        settled = False
        while time.monotonic() < deadline:
            with stack.db() as db:
                longest_running = max(longest_running, _running_for(db, oid))
                busy = db.execute(
                    "SELECT count(*) FROM notifications_webhookdelivery WHERE organization_id = %s "
                    "AND status IN ('pending', 'delivering')",
                    [oid],
                ).fetchone()[0]
            if busy == 0 and checks.owed(stack, oid) == 0 and checks.active_jobs(stack, oid) == 0:
                settled = True
                break
            time.sleep(0.5)
        _expect_nothing_twice(stack, result, oid, endpoint["id"], slow)
        result.figures.update(
            kills=dict(kills),
            missed=dict(missed),
            longest_running_job_s=round(longest_running, 1),
            longest_job_s=round(checks.longest_job_seconds(stack, oid), 1),
            jobs=checks.job_statuses(stack, oid),
            worker_starts=stack.worker.starts,
        )
        result.expect(
            sum(kills.values()) == rounds, f"only {sum(kills.values())} of {rounds} kills landed: missed {dict(missed)}"
        )
        result.expect(settled, "owed work, score jobs or deliveries still pending 150 s after the last kill")
        result.expect(longest_running <= 60, f"a score job stayed running {longest_running:.0f} s")
        result.expect(
            set(checks.job_statuses(stack, oid)) <= {"succeeded"}, f"score jobs {checks.job_statuses(stack, oid)}"
        )
    finally:
        slow.stop()


def _running_for(db: Any, org: str) -> float:
    value = db.execute(
        "SELECT max(extract(epoch FROM now() - started_at)) FROM feedback_scorejob "
        "WHERE organization_id = %s AND status = 'running'",
        [org],
    ).fetchone()[0]
    return float(value or 0.0)


def _expect_nothing_twice(stack: Stack, result: Result, org: str, endpoint: str, receiver: Receiver) -> None:
    with stack.db() as db:
        snapshots = db.execute(
            "SELECT subject_type, subject_id, score, components::text FROM feedback_scoresnapshot "
            "WHERE organization_id = %s ORDER BY subject_type, subject_id, computed_at, id",
            [org],
        ).fetchall()
        repeated = sum(1 for a, b in itertools.pairwise(snapshots) if a == b)
        active_twice = db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM feedback_coursecorrection WHERE organization_id = %s "
            "AND status IN ('open', 'acknowledged') GROUP BY subject_type, subject_id, trigger HAVING count(*) > 1) t",
            [org],
        ).fetchone()[0]
        corrections = db.execute(
            "SELECT count(*) FROM feedback_coursecorrection WHERE organization_id = %s", [org]
        ).fetchone()[0]
        notified_twice = db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM notifications_notification WHERE organization_id = %s "
            "GROUP BY recipient_id, kind, subject_id HAVING count(*) > 1 AND kind = 'course_correction.opened') t",
            [org],
        ).fetchone()[0]
        deliveries = db.execute(
            "SELECT event_id, status, attempts FROM notifications_webhookdelivery WHERE endpoint_id = %s", [endpoint]
        ).fetchall()
    received = Counter(receiver.ids())
    bodies: dict[str, set[bytes]] = {}
    for receipt in receiver.received:
        bodies.setdefault(receipt.webhook_id, set()).add(receipt.body)
    events = {event_id for event_id, _, _ in deliveries}
    succeeded = {event_id for event_id, status, _ in deliveries if status == "succeeded"}
    redelivered = sorted(event_id for event_id, n in received.items() if n > 1)
    result.figures.update(
        snapshots=len(snapshots),
        repeated_snapshots=repeated,
        corrections=corrections,
        deliveries=len(deliveries),
        succeeded=len(succeeded),
        received=sum(received.values()),
        redelivered_ids=len(redelivered),
    )
    result.expect(repeated == 0, f"{repeated} snapshots repeat the one before (written twice)")
    result.expect(active_twice == 0, f"{active_twice} subjects have two active corrections for one trigger")
    result.expect(notified_twice == 0, f"{notified_twice} people were told twice of one correction")
    result.expect(set(received) <= events, "the receiver got a webhook-id that is not one of the endpoint's events")
    result.expect(
        set(received) == succeeded,
        f"{len(succeeded - set(received))} succeeded deliveries never arrived, "
        f"{len(set(received) - succeeded)} arrived but are not succeeded",
    )
    changed = [event_id for event_id in redelivered if len(bodies[event_id]) > 1]
    result.expect(not changed, f"{len(changed)} redeliveries carried another body under the same webhook-id")


# --- PostgreSQL restarted under load ------------------------------------------------------------


def postgres_restarted(stack: Stack, result: Result) -> None:
    """PostgreSQL's fast shutdown (sessions cut) under load, 6 s down, then up again: clean JSON
    errors meanwhile, and the same web and worker processes serve again afterwards."""
    org = make_org(stack.base_url)
    oid = checks.org_id(stack, org.slug)
    writer = Writer(org)
    web_pid, worker_pid, worker_starts = stack.web.pid, stack.worker.pid, stack.worker.starts
    stop = threading.Event()
    answers: list[tuple[float, str, Any]] = []
    lock = threading.Lock()
    phase = {"now": "before"}

    def client(client_no: int) -> None:
        api = org.api(timeout=15)
        n = 0
        while not stop.is_set():
            if n % 3 == 2:
                method, path, body = "GET", org.path("goals/"), None
            else:
                _, method, path, body = writer.write(("checkin", "reading")[n % 3], client_no, n)
            answer = api.call(method, path, body)
            with lock:
                answers.append((time.monotonic(), phase["now"], answer))
            n += 1
            time.sleep(0.05)
        api.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(3)
        phase["now"] = "down"
        stack.postgres.stop(fast=True)
        time.sleep(6)
        stack.postgres.start()
        phase["now"] = "recovering"
        up_at = time.monotonic()
        time.sleep(5)
        phase["now"] = "after"
        time.sleep(5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        if not stack.postgres.process.alive():
            stack.postgres.start()
    down = [a for _, p, a in answers if p == "down"]
    after = [a for _, p, a in answers if p == "after"]
    first_ok = next((t - up_at for t, p, a in answers if p in ("recovering", "after") and 200 <= a.status < 300), None)
    not_json = [a for a in down if a.status >= 400 and not (a.is_json and "type" in a.body)]
    hung = [a for a in down if a.seconds > 5 or a.status == 0]
    statuses_down = Counter(a.status for a in down)
    job = org.api().ok("POST", org.path("scores/recompute/"))
    job_done = wait_until(lambda: checks.job_statuses(stack, oid).get("succeeded", 0) >= 1, 30, 0.25)
    settled = checks.wait_owed_done(stack, oid, 60)
    result.figures.update(
        requests=len(answers),
        while_down=dict(statuses_down),
        not_json=len(not_json),
        hung=len(hung),
        max_down_ms=round(max((a.seconds for a in down), default=0) * 1000),
        first_success_after_up_s=None if first_ok is None else round(first_ok, 1),
        after=dict(Counter(a.status for a in after)),
        job=job["status"],
        web_restarted=stack.web.pid != web_pid,
        worker_restarted=stack.worker.pid != worker_pid or stack.worker.starts != worker_starts,
    )
    result.expect(len(down) > 0, "no request was made while PostgreSQL was down")
    result.expect(
        not not_json,
        f"{len(not_json)} answers while down were not the JSON error shape: "
        f"{[(a.status, a.content_type, str(a.body)[:80]) for a in not_json[:2]]}",
    )
    result.expect(not hung, f"{len(hung)} requests hung or got no answer while down")
    result.expect(all(a.status >= 500 or a.status < 300 for a in down), f"4xx while down: {dict(statuses_down)}")
    result.expect(500 not in statuses_down, "answered 500 (a bug) instead of 503 while the database was down")
    result.expect(
        bool(after) and all(200 <= a.status < 300 for a in after),
        f"after the restart: {dict(Counter(a.status for a in after))}",
    )
    result.expect(stack.web.pid == web_pid and stack.web.alive(), "gunicorn had to be restarted")
    result.expect(
        stack.worker.pid == worker_pid and stack.worker.starts == worker_starts, "the worker had to be restarted"
    )
    result.expect(
        job_done and settled is not None,
        f"after the restart owed work was not done: {checks.owed(stack, oid)} rows, {checks.job_statuses(stack, oid)}",
    )


# --- Hostile webhook receivers ---------------------------------------------------------------


HOSTILE = ("hang", "hang", "hang", "error", "redirect", "gone", "reset", "short", "trickle", "trickle", "trickle")


def webhook_receivers(stack: Stack, result: Result) -> None:
    """A healthy receiver's latency and a recompute's, first alone, then beside receivers that
    hang, answer 500, redirect, answer 410, reset, cut the body short or trickle bytes."""
    org = make_org(stack.base_url)
    oid = checks.org_id(stack, org.slug)
    api = org.api()
    healthy = Receiver("ok").start()
    hostile = [Receiver(behaviour).start() for behaviour in HOSTILE]
    events = ["checkin.created"]
    try:
        api.ok("POST", org.path("webhooks/"), {"url": healthy.url, "events": events})
        alone = _latencies(stack, org, oid, healthy, rounds=8)
        endpoints = {
            receiver.behaviour + str(i): api.ok("POST", org.path("webhooks/"), {"url": receiver.url, "events": events})
            for i, receiver in enumerate(hostile)
        }
        beside = _latencies(stack, org, oid, healthy, rounds=8)
        time.sleep(8)  # let every hostile attempt finish or time out
        with stack.db() as db:
            outcome = {
                name: db.execute(
                    "SELECT e.active, d.status, d.response_status, left(d.last_error, 60) FROM "
                    "notifications_webhookendpoint e JOIN notifications_webhookdelivery d ON d.endpoint_id = e.id "
                    "WHERE e.id = %s ORDER BY d.created_at LIMIT 1",
                    [endpoint["id"]],
                ).fetchone()
                for name, endpoint in endpoints.items()
            }
    finally:
        for receiver in [healthy, *hostile]:
            receiver.stop()
    result.figures.update(
        healthy_alone_p95_s=alone["delivery_p95"],
        healthy_beside_p95_s=beside["delivery_p95"],
        healthy_beside_max_s=beside["delivery_max"],
        recompute_alone_s=alone["recompute_max"],
        recompute_beside_s=beside["recompute_max"],
        lost=beside["lost"],
        short_body=outcome["short7"][1],
        gone_endpoint_active=outcome["gone5"][0],
        redirect=outcome["redirect4"][1],
    )
    result.figures["outcomes"] = {name: f"{row[1]}/{row[2]}" for name, row in outcome.items() if row}
    limit = max(1.0, alone["delivery_p95"] * 2)
    result.expect(beside["lost"] == 0, f"{beside['lost']} events never reached the healthy receiver")
    result.expect(
        beside["delivery_p95"] <= limit,
        f"slow receivers delayed the healthy one: p95 {alone['delivery_p95']:.2f} s alone, "
        f"{beside['delivery_p95']:.2f} s beside them",
    )
    result.expect(
        beside["recompute_max"] <= max(3.0, alone["recompute_max"] * 2),
        f"slow receivers delayed the scoring: a recompute took {alone['recompute_max']:.2f} s alone, "
        f"{beside['recompute_max']:.2f} s beside them",
    )
    result.expect(outcome["short7"][1] != "succeeded", "a 200 whose body was cut short counted as delivered")
    result.expect(outcome["gone5"][0] is False, "a 410 Gone did not switch its endpoint off")
    result.expect(outcome["redirect4"][1] != "succeeded", "a redirect counted as delivered")


def _latencies(stack: Stack, org: Org, oid: str, healthy: Receiver, rounds: int) -> dict[str, Any]:
    """Post check-ins one by one; for each, how long until the healthy receiver had its event,
    and how long a recompute requested with it took."""
    api = org.api()
    delivery, recompute, lost = [], [], 0
    for n in range(rounds):
        posted = time.time()
        check_in = api.ok("POST", org.path("check-ins/"), {"goal": org.goals[0], "summary": f"r{n}", "confidence": 5})
        job = api.ok("POST", org.path("scores/recompute/"))
        job_started = time.monotonic()

        def arrived(check_in: dict[str, Any] = check_in) -> bool:
            return any(json.loads(r.body)["data"]["id"] == check_in["id"] for r in list(healthy.received))

        def job_done(job: dict[str, Any] = job) -> bool:
            return api.ok("GET", urlsplit(job["url"]).path)["status"] in ("succeeded", "failed")

        if wait_until(job_done, 30, 0.05):
            recompute.append(time.monotonic() - job_started)
        else:
            recompute.append(30.0)
        if wait_until(arrived, 30, 0.05):
            receipt = next(r for r in list(healthy.received) if json.loads(r.body)["data"]["id"] == check_in["id"])
            delivery.append(receipt.at - posted)
        else:
            lost += 1
        time.sleep(0.3)
    delivery.sort()
    return {
        "delivery_p95": round(delivery[min(len(delivery) - 1, int(0.95 * len(delivery)))], 2) if delivery else 99.0,
        "delivery_max": round(max(delivery), 2) if delivery else 99.0,
        "recompute_max": round(max(recompute), 2),
        "lost": lost,
    }


# --- The "Done when" load --------------------------------------------------------------------


LOAD_KINDS = ("checkin", "reading", "batch", "feedback", "assessment", "goal")


def load(stack: Stack, result: Result) -> None:
    """300 writes from 20 concurrent clients, 100 from one sequential client, and a recompute
    loop, all at once: no 5xx, p95 under a second, every accepted write stored, no deadlock."""
    org = make_org(stack.base_url, goals=6, metrics_per_goal=2)
    oid = checks.org_id(stack, org.slug)
    writer = Writer(org)
    deadlocks_before = checks.deadlocks(stack)
    concurrent = [writer.mix(client_no, 15, LOAD_KINDS) for client_no in range(20)]
    sequential = writer.mix(20, 100, ("checkin", "reading"))
    tally, recompute_tally = Tally(), Tally()
    stop = threading.Event()

    def recompute_loop() -> None:
        api = org.api()
        while not stop.is_set():
            answer = api.call("POST", org.path("scores/recompute/"))
            recompute_tally.add("recompute", answer)
            if answer.status == 202:
                with writer.lock:
                    writer.accepted["recompute"] += 1
            time.sleep(0.2)
        api.close()

    looper = threading.Thread(target=recompute_loop, daemon=True)
    looper.start()
    started = time.monotonic()
    run_clients(org, writer, [*concurrent, sequential], tally)
    elapsed = time.monotonic() - started
    stop.set()
    looper.join(timeout=30)
    settled = checks.wait_owed_done(stack, oid, 120)
    time.sleep(1.5)  # backends report their statistics at most once a second
    deadlocks_after = checks.deadlocks(stack)
    with stack.db() as db:
        connections = db.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = 'chaos'").fetchone()[0]
    result.figures.update(
        writes=tally.count,
        fivexx=tally.server_errors,
        p50_ms=round(tally.percentile(0.5) * 1000),
        p95_ms=round(tally.percentile(0.95) * 1000),
        max_ms=round(max(tally.seconds) * 1000),
        writes_per_s=round(tally.count / elapsed, 1),
        statuses=dict(tally.statuses),
        recomputes=recompute_tally.count,
        recompute_5xx=recompute_tally.server_errors,
        jobs=checks.job_statuses(stack, oid),
        owed_done_s=None if settled is None else round(settled, 1),
        deadlocks=f"{deadlocks_before}->{deadlocks_after}",
        db_connections_after=connections,
        p95_ms_by_kind=writer.p95_by_kind(),
    )
    result.expect(tally.count == 400, f"{tally.count} of 400 writes answered")
    result.expect(tally.server_errors == 0, f"{tally.server_errors} answers of 5xx: {tally.bad[:3]}")
    result.expect(set(tally.statuses) <= {200, 201}, f"statuses {dict(tally.statuses)}")
    result.expect(recompute_tally.server_errors == 0, f"recompute 5xx: {recompute_tally.bad[:3]}")
    result.expect(tally.percentile(0.95) < 1.0, f"p95 {tally.percentile(0.95):.2f} s ≥ 1 s")
    result.expect(
        deadlocks_after == deadlocks_before, f"PostgreSQL counted {deadlocks_after - deadlocks_before} deadlocks"
    )
    result.expect(settled is not None, "owed work not done within 120 s of the load")
    result.expect(set(checks.job_statuses(stack, oid)) <= {"succeeded"}, f"jobs {checks.job_statuses(stack, oid)}")
    expect_all_stored(result, writer, stack, oid)


SCENARIOS: dict[str, Callable[[Stack, Result], None]] = {
    "redis-stopped": redis_stopped,
    "redis-frozen": redis_frozen,
    "redis-restarted-empty": redis_restarted_empty,
    "worker-killed": worker_killed,
    "postgres-restarted": postgres_restarted,
    "webhook-receivers": webhook_receivers,
    "load": load,
}
