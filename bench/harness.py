"""Processes and measurement: gunicorn, a Celery worker, a webhook receiver, alternating rounds."""

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: A reference whose rounds spread more than this (interquartile range ÷ median) is too noisy
#: for a verdict.
MAX_REFERENCE_SPREAD = 0.25


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    reference: str
    reference_value: float
    ratio: float
    target: str
    verdict: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def spread(samples: Sequence[float]) -> float:
    if len(samples) < 4:
        return (max(samples) - min(samples)) / statistics.median(samples)
    q1, _, q3 = statistics.quantiles(samples, n=4)
    return (q3 - q1) / statistics.median(samples)


def verdict(ratio: float, target: str, reference_samples: Sequence[float] | None) -> str:
    if reference_samples is not None and spread(reference_samples) > MAX_REFERENCE_SPREAD:
        return "inconclusive"
    op, bound = target.split(" ")
    bound_value = float(bound.rstrip("×"))
    ok = ratio >= bound_value if op == "≥" else ratio <= bound_value
    return "pass" if ok else "fail"


def compare(
    name: str,
    unit: str,
    reference: str,
    target: str,
    ours: Callable[[int], float],
    theirs: Callable[[int], float],
    *,
    rounds: int,
) -> Figure:
    """Run `ours` and `theirs` in alternating rounds (each returns its figure for round `n`);
    the ratio is the median of the per-round ratios ours ÷ reference."""
    mine, refs, ratios = [], [], []
    for n in range(rounds):
        first, second = (ours, theirs) if n % 2 == 0 else (theirs, ours)
        a = first(n)
        b = second(n)
        value, ref = (a, b) if n % 2 == 0 else (b, a)
        mine.append(value)
        refs.append(ref)
        ratios.append(value / ref)
    ratio = statistics.median(ratios)
    return Figure(
        name, round(statistics.median(mine), 4), unit, reference, round(statistics.median(refs), 4),
        round(ratio, 3), target, verdict(ratio, target, refs),
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Client:
    """A keep-alive HTTP client for one loopback server."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Host": "127.0.0.1"}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        sent = {**self.headers, **({"Content-Type": "application/json"} if data else {}), **(headers or {})}
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=data, headers=sent)
                response = self.connection.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                if attempt:
                    raise
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {payload[:500]!r}")
        return json.loads(payload) if payload else None

    def timed(self, method: str, path: str, body: Any = None, *, repeat: int = 1) -> float:
        """Median seconds of `repeat` requests."""
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            self.request(method, path, body)
            times.append(time.perf_counter() - start)
        return statistics.median(times)


def child_env(settings_env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **settings_env, "PYTHONPATH": str(ROOT)}


@contextmanager
def gunicorn(settings_env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """The app under gunicorn with the production image's flags, on loopback."""
    command = [
        sys.executable, "-m", "gunicorn", "alignment_service.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", "2", "--worker-class", "gthread", "--threads", "4", "--timeout", "300",
        "--keep-alive", "5", "--error-logfile", "-", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=child_env(settings_env), cwd=ROOT)  # noqa: S603 (our own arguments)
    try:
        _wait_for_port(port, process)
        yield process
    finally:
        _stop(process)


@contextmanager
def celery_worker(settings_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A real prefork worker (one child) on the benchmark's Redis database, consuming every queue."""
    command = [
        sys.executable, "-m", "celery", "-A", "alignment_service", "worker", "--concurrency", "1",
        "-Q", "celery,outbox,webhooks", "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=child_env(settings_env), cwd=ROOT)  # noqa: S603 (our own arguments)
    try:
        yield process
    finally:
        _stop(process)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def memory_kib(pid: int, field: str) -> int:
    """`VmRSS` (now) or `VmHWM` (peak) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


class Receiver:
    """A loopback webhook receiver that records when each verified delivery arrived."""

    def __init__(self, verify: Callable[[bytes, dict[str, str]], dict[str, Any]]) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.condition = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                arrived = time.perf_counter()
                event = verify(body, {k.lower(): v for k, v in self.headers.items()})
                with receiver.condition:
                    receiver.received.append((arrived, event))
                    receiver.condition.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], *, since: int, timeout: float) -> float | None:
        """The arrival time of the first delivery after index `since` matching `predicate`."""
        deadline = time.perf_counter() + timeout
        with self.condition:
            while True:
                for arrived, event in self.received[since:]:
                    if predicate(event):
                        return arrived
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    return None
                self.condition.wait(remaining)
