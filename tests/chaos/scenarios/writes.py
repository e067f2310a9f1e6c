"""The writes the scenarios make while a fault lasts: a mix of writes that owe a rescore
(check-ins, readings, batches, feedback, assessments, goal edits, recomputes), run by concurrent
clients, and the check that every accepted one was stored."""

import random
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.chaos.checks import Result
from tests.chaos.client import Api, Org, Tally, iso
from tests.chaos.servers import Stack

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
