"""The "Done when" load: concurrent and sequential writers and a recompute loop at once; no 5xx,
p95 under a second, every accepted write stored, no deadlock."""

import threading
import time

from tests.chaos import checks
from tests.chaos.checks import Result
from tests.chaos.client import Tally, make_org
from tests.chaos.scenarios.writes import Writer, expect_all_stored, run_clients
from tests.chaos.servers import Stack

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
