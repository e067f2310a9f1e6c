"""The Celery worker (or only its pool children) killed in the middle of a rescore or a webhook
delivery: nothing is done twice, nothing is stranded."""

import contextlib
import itertools
import os
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.chaos import checks
from tests.chaos.checks import Result
from tests.chaos.client import iso, make_org
from tests.chaos.receivers import Receiver
from tests.chaos.servers import Stack, wait_until

#: An attempt's lease (`WEBHOOK_TIMEOUT_SECONDS` + `LEASE_GRACE_SECONDS`) and some margin.
DELIVERY_WAIT_SECONDS = 45

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
                    # after a kill mid-delivery, the endpoint's slots free when the dead attempts' leases expire
                    caught = wait_until(lambda: slow.in_progress > 0, DELIVERY_WAIT_SECONDS, 0.01)
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
