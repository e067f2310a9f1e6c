"""Private servers and service processes for the fault scenarios.

Everything here listens on loopback only and is a child of this process: a PostgreSQL cluster
initialised in a temporary directory (run as the `postgres` OS user), a Redis that keeps
nothing on disk, gunicorn, a Celery worker and Celery beat. The machine's shared PostgreSQL
and Redis are never touched. Each process runs in its own session, so that a signal can reach
a whole tree (a worker and its pool children) and nothing else.
"""

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("CHAOS_PG_BIN", "/usr/lib/postgresql/15/bin"))
PYTHON = sys.executable


def free_port(preferred: int = 0) -> int:
    """`preferred` if nothing listens on it, else any free loopback port."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port")


def wait_until(predicate, timeout: float, interval: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return True
        time.sleep(interval)
    return False


@dataclass
class Process:
    """A child process in its own session, its output in a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    user: str | None = None
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(  # noqa: S603 - our own binaries and arguments
                self.argv,
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=self.user,
            )
        self.starts += 1

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, sig)

    def children(self) -> list[int]:
        """Pids of the direct children (a prefork worker's pool processes)."""
        popen = self.popen
        if popen is None:
            return []
        path = Path(f"/proc/{popen.pid}/task/{popen.pid}/children")
        with contextlib.suppress(OSError):
            return [int(pid) for pid in path.read_text().split()]
        return []

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.signal_group(signal.SIGCONT)
            self.signal_group(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.popen.wait(timeout=10)
        self.signal_group(signal.SIGKILL)  # anything of the tree left behind
        self.popen = None

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on loopback with trust authentication."""

    def __init__(self, root: Path, port: int) -> None:
        self.port = port
        self.data = root / "pgdata"
        self.socket_dir = root / "pgsock"
        user = pwd.getpwnam("postgres")
        for path in (self.data, self.socket_dir):
            path.mkdir()
            os.chown(path, user.pw_uid, user.pw_gid)
        self.process = Process("postgres", [], {}, root / "postgres.log", user="postgres")
        os.chown(root, user.pw_uid, user.pw_gid)

    def init(self) -> None:
        subprocess.run(  # noqa: S603
            [str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
            check=True,
            capture_output=True,
            user="postgres",
            cwd="/",
        )

    def start(self) -> None:
        self.process.argv = [
            str(PG_BIN / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-k",
            str(self.socket_dir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=128MB",
        ]
        self.process.env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        self.process.start()
        if not wait_until(self.ready, 30):
            raise RuntimeError(f"private PostgreSQL did not start:\n{self.process.tail()}")

    def ready(self) -> bool:
        with psycopg.connect(self.url("postgres"), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True

    def stop(self, fast: bool = True) -> None:
        # SIGINT is PostgreSQL's fast shutdown: open sessions are cut, as in a real restart.
        self.process.stop(signal.SIGINT if fast else signal.SIGTERM, timeout=30)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')


class PrivateRedis:
    """A Redis on loopback that keeps nothing on disk: a restart starts it empty."""

    def __init__(self, root: Path, port: int) -> None:
        self.port = port
        self.dir = root / "redis"
        self.dir.mkdir()
        argv = [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.dir),
            "--protected-mode",
            "yes",
        ]
        self.process = Process("redis", argv, {"PATH": "/usr/bin:/bin"}, root / "redis.log")

    def start(self) -> None:
        self.process.start()
        if not wait_until(self.ready, 15):
            raise RuntimeError(f"private Redis did not start:\n{self.process.tail()}")

    def ready(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        self.process.stop(signal.SIGTERM)

    def freeze(self) -> None:
        self.process.signal_group(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.signal_group(signal.SIGCONT)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


#: Short intervals so that scenarios finish in minutes; everything else is production's.
FAST_SETTINGS = {
    "OUTBOX_DRAIN_INTERVAL_SECONDS": "1",
    "OUTBOX_LEASE_SECONDS": "5",
    "WEBHOOK_DELIVER_INTERVAL_SECONDS": "2",
    "WEBHOOK_TIMEOUT_SECONDS": "3",
    "RESCORE_INTERVAL_SECONDS": "3600",
}


@dataclass
class Stack:
    """PostgreSQL, Redis, gunicorn, a Celery worker and Celery beat, all private."""

    root: Path
    postgres: PrivatePostgres
    redis: PrivateRedis
    web_port: int
    env: dict[str, str]
    web: Process = field(init=False)
    worker: Process = field(init=False)
    beat: Process = field(init=False)

    def __post_init__(self) -> None:
        self.web = Process(
            "web",
            [
                PYTHON,
                "-m",
                "gunicorn",
                "alignment_service.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--worker-class",
                "gthread",
                "--workers",
                "3",
                "--threads",
                "4",
                "--timeout",
                "30",
                "--graceful-timeout",
                "5",
                "--keep-alive",
                "5",
                "--no-control-socket",
                "--error-logfile",
                "-",
            ],
            self.env,
            self.root / "web.log",
        )
        self.worker = Process(
            "worker",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "alignment_service",
                "worker",
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=WARNING",
                f"--hostname=chaos-{os.getpid()}@%h",
            ],
            self.env,
            self.root / "worker.log",
        )
        self.beat = Process(
            "beat",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "alignment_service",
                "beat",
                "--loglevel=WARNING",
                f"--schedule={self.root / 'celerybeat-schedule'}",
            ],
            self.env,
            self.root / "beat.log",
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def db(self) -> psycopg.Connection:
        return psycopg.connect(self.env["DATABASE_URL"], autocommit=True, connect_timeout=3)

    def start_services(self) -> None:
        self.web.start()
        self.worker.start()
        self.beat.start()
        if not wait_until(self._web_ready, 60, 0.25):
            raise RuntimeError(f"gunicorn did not start:\n{self.web.tail()}")
        if not wait_until(lambda: len(self.worker.children()) >= 2, 60, 0.25):
            raise RuntimeError(f"the worker did not start:\n{self.worker.tail()}")

    def _web_ready(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.web_port), timeout=1) as sock:
            sock.sendall(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            return b" 200 " in sock.recv(64)

    def supervise(self) -> None:
        """Start the worker or beat again when it exits, as a process manager would
        (compose's `restart: unless-stopped`); `restarts` counts it."""

        def loop() -> None:
            while not self._stopping.wait(0.5):
                for process in (self.worker, self.beat):
                    if not process.alive() and not self._stopping.is_set():
                        with contextlib.suppress(Exception):
                            process.stop(signal.SIGKILL)
                        time.sleep(1.0)
                        process.start()
                        self.restarts[process.name] = self.restarts.get(process.name, 0) + 1

        self._stopping = threading.Event()
        self.restarts: dict[str, int] = {}
        self._supervisor = threading.Thread(target=loop, daemon=True, name="supervisor")
        self._supervisor.start()

    def worker_ready(self, timeout: float = 60.0) -> bool:
        return wait_until(lambda: self.worker.alive() and len(self.worker.children()) >= 2, timeout, 0.2)

    def stop_services(self) -> None:
        if hasattr(self, "_stopping"):
            self._stopping.set()
            self._supervisor.join(timeout=5)
        for process in (self.beat, self.worker, self.web):
            process.stop()


@contextlib.contextmanager
def stack(**settings: str) -> Iterator[Stack]:
    """A private stack, migrated and running; every process stopped and the directory removed
    afterwards, whatever happens."""
    root = Path(tempfile.mkdtemp(prefix="chaos-"))
    postgres = PrivatePostgres(root, free_port(int(os.environ.get("CHAOS_PG_PORT", "5440"))))
    redis = PrivateRedis(root, free_port(int(os.environ.get("CHAOS_REDIS_PORT", "6390"))))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO),
        "DJANGO_SETTINGS_MODULE": "alignment_service.settings",
        "DJANGO_SECRET_KEY": "chaos-" + os.urandom(16).hex(),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": postgres.url("chaos"),
        "REDIS_URL": redis.url(0),
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "THROTTLE_USER_RATE": "100000/min",
        "EMAIL_URL": "dummymail://",
        "LOG_LEVEL": "WARNING",
        **FAST_SETTINGS,
        **settings,
    }
    the_stack = Stack(root, postgres, redis, free_port(), env)
    try:
        postgres.init()
        postgres.start()
        postgres.create_database("chaos")
        redis.start()
        subprocess.run(  # noqa: S603
            [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
            env=env,
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        the_stack.start_services()
        the_stack.supervise()
        yield the_stack
    finally:
        the_stack.stop_services()
        redis.stop()
        postgres.stop()
        if os.environ.get("CHAOS_KEEP"):
            print(f"logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
