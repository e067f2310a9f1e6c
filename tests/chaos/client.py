"""A small HTTP client for the API under test, and the organization each scenario works in."""

import http.client
import json
import socket
import statistics
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

PASSWORD = "chaos-passphrase-not-secret-9"  # a throwaway account on a private database


@dataclass
class Answer:
    status: int  # 0: no answer (connection refused or reset, timeout)
    body: Any
    content_type: str
    seconds: float
    error: str = ""

    @property
    def is_json(self) -> bool:
        return self.content_type.startswith("application/json") and isinstance(self.body, dict | list)


class Api:
    """JSON over one keep-alive connection per client (reconnects when the server closes it)."""

    def __init__(self, base_url: str, token: str = "", timeout: float = 30.0) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.host, self.port, self.token, self.timeout = host, int(port), token, timeout
        self._conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        payload = None if body is None else json.dumps(body).encode()
        all_headers = {"Accept": "application/json", **(headers or {})}
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        started = time.monotonic()
        for attempt in range(2):  # a kept-alive connection the server closed meanwhile: reconnect once
            try:
                conn = self._connection()
                conn.request(method, path, body=payload, headers=all_headers)
                response = conn.getresponse()
                raw = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if attempt == 1:
                    return Answer(0, None, "", time.monotonic() - started, repr(exc))
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                return Answer(0, None, "", time.monotonic() - started, repr(exc))
        seconds = time.monotonic() - started
        content_type = response.getheader("Content-Type", "")
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw[:200]
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return Answer(response.status, parsed, content_type, seconds)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._conn.connect()
            self._conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def ok(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201, 202)) -> Any:
        answer = self.call(method, path, body)
        if answer.status not in expect:
            raise RuntimeError(f"{method} {path} answered {answer.status}: {answer.body!r} {answer.error}")
        return answer.body


@dataclass
class Org:
    """An organization with an owner, a team, active goals with metrics, and readings."""

    base_url: str
    slug: str
    owner_token: str
    team: str
    goals: list[str]
    metrics: list[dict[str, Any]]

    def api(self, timeout: float = 30.0) -> Api:
        return Api(self.base_url, self.owner_token, timeout)

    def path(self, rest: str) -> str:
        return f"/api/v1/orgs/{self.slug}/{rest}"


def make_org(base_url: str, *, goals: int = 3, metrics_per_goal: int = 2, label: str = "chaos") -> Org:
    """Sign up an owner and build the organization through the API, as a user would."""
    anonymous = Api(base_url)
    name = f"{label}-{uuid.uuid4().hex[:8]}"
    anonymous.ok(
        "POST", "/api/v1/auth/signup/", {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    )
    token = anonymous.ok("POST", "/api/v1/auth/token/", {"username": name, "password": PASSWORD})["token"]
    api = Api(base_url, token)
    api.ok("POST", "/api/v1/orgs/", {"name": name, "slug": name})
    me = api.ok("GET", "/api/v1/me/")
    base = f"/api/v1/orgs/{name}/"
    team = api.ok("POST", base + "teams/", {"name": "Growth", "slug": "growth", "lead": me["id"]})["id"]
    today = date.today()
    goal_ids, metric_rows = [], []
    for g in range(goals):
        goal = api.ok(
            "POST",
            base + "goals/",
            {
                "title": f"Goal {g}",
                "team": team,
                "starts_on": str(today - timedelta(days=60)),
                "due_on": str(today + timedelta(days=40)),
                "hypothesis": "If we try, it works.",
            },
        )
        api.ok("PATCH", base + f"goals/{goal['id']}/", {"status": "active"})
        goal_ids.append(goal["id"])
        for m in range(metrics_per_goal):
            metric = api.ok(
                "POST",
                base + "metrics/",
                {"goal": goal["id"], "name": f"M {g}.{m}", "key": f"m-{g}-{m}", "baseline": 0, "target": 100},
            )
            metric_rows.append(metric)
    return Org(base_url, name, token, team, goal_ids, metric_rows)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@dataclass
class Tally:
    """Answers of a run: status counts, latencies, and every 5xx or non-JSON error kept."""

    statuses: Counter[int] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, what: str, answer: Answer) -> None:
        with self.lock:
            self.statuses[answer.status] += 1
            self.seconds.append(answer.seconds)
            if answer.status >= 500 or answer.status == 0:
                self.bad.append(f"{what} → {answer.status} {str(answer.body)[:160]} {answer.error}")

    @property
    def count(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500 or status == 0)

    def percentile(self, share: float) -> float:
        if not self.seconds:
            return 0.0
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def summary(self) -> str:
        if not self.seconds:
            return "no requests"
        return (
            f"requests={self.count} 5xx={self.server_errors} p50={self.percentile(0.5) * 1000:.0f}ms "
            f"p95={self.percentile(0.95) * 1000:.0f}ms max={max(self.seconds) * 1000:.0f}ms "
            f"mean={statistics.fmean(self.seconds) * 1000:.0f}ms statuses={dict(sorted(self.statuses.items()))}"
        )
