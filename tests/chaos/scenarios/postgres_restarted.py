"""PostgreSQL's fast shutdown under load: clean JSON errors while it is down, and the same web
and worker processes serve again afterwards."""

import threading
import time
from collections import Counter
from typing import Any

from tests.chaos import checks
from tests.chaos.checks import Result
from tests.chaos.client import make_org
from tests.chaos.scenarios.writes import Writer
from tests.chaos.servers import Stack, wait_until

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
