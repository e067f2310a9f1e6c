"""What the scenarios read from the private database, and how they report."""

import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from tests.chaos.servers import Stack


@dataclass
class Result:
    name: str
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures

    def expect(self, condition: bool, failure: str) -> bool:
        if not condition:
            self.failures.append(failure)
        return condition

    def line(self) -> str:
        figures = " ".join(f"{key}={_fmt(value)}" for key, value in self.figures.items())
        verdict = "PASS" if self.passed else "FAIL"
        text = f"{verdict} {self.name} ({self.seconds:.0f}s): {figures}"
        for failure in self.failures:
            text += f"\n     - {failure}"
        return text


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value).replace(" ", "")


def org_id(stack: Stack, slug: str) -> str:
    with stack.db() as db:
        return str(db.execute("SELECT id FROM teams_organization WHERE slug = %s", [slug]).fetchone()[0])


def owed(stack: Stack, org: str) -> int:
    with stack.db() as db:
        return int(
            db.execute(
                "SELECT count(*) FROM outbox_outboxmessage WHERE organization_id = %s AND completed_at IS NULL", [org]
            ).fetchone()[0]
        )


def active_jobs(stack: Stack, org: str) -> int:
    with stack.db() as db:
        return int(
            db.execute(
                "SELECT count(*) FROM feedback_scorejob WHERE organization_id = %s AND status IN ('queued', 'running')",
                [org],
            ).fetchone()[0]
        )


def job_statuses(stack: Stack, org: str) -> dict[str, int]:
    with stack.db() as db:
        rows = db.execute(
            "SELECT status, count(*) FROM feedback_scorejob WHERE organization_id = %s GROUP BY status", [org]
        ).fetchall()
    return dict(rows)


def longest_job_seconds(stack: Stack, org: str) -> float:
    """The longest a score job of `org` took from its first start to its end (or to now)."""
    with stack.db() as db:
        value = db.execute(
            "SELECT max(extract(epoch FROM coalesce(finished_at, now()) - coalesce(started_at, created_at))) "
            "FROM feedback_scorejob WHERE organization_id = %s",
            [org],
        ).fetchone()[0]
    return float(value or 0.0)


def wait_owed_done(stack: Stack, org: str, timeout: float) -> float | None:
    """Seconds until `org` owes nothing and has no score job waiting, or None on timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if owed(stack, org) == 0 and active_jobs(stack, org) == 0:
                return time.monotonic() - started
        except Exception:  # noqa: S110 - the database may be restarting; keep polling
            pass
        time.sleep(0.25)
    return None


def deadlocks(stack: Stack) -> int:
    with stack.db() as db:
        db.execute("SELECT pg_stat_clear_snapshot()")
        return int(
            db.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()").fetchone()[0]
        )


def advisory_key(purpose: str, value: str) -> tuple[int, int]:
    """How `pg_locks` shows `alignment_service.db`'s two-key advisory lock (as unsigned oids)."""
    first, second = (zlib.crc32(text.encode()) - 2**31 for text in (purpose, value))
    return first % 2**32, second % 2**32


def rescore_running(db: Any, org: str) -> bool:
    classid, objid = advisory_key("rescore", org)
    row = db.execute(
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s AND objsubid = 2 "
        "AND granted",
        [classid, objid],
    ).fetchone()
    return row is not None
