"""Gunicorn settings for every way the API is served: the image (`web` in docker-compose.yml)
and `make run`. Each value can be overridden from the environment or the command line.

Connections: a worker process serves requests on a fixed pool of `threads` threads, and each
thread holds at most one database connection (reused for `DATABASE_CONN_MAX_AGE` seconds),
so one server never holds more than `workers * threads` PostgreSQL connections, however many
clients call it. Size PostgreSQL's `max_connections` for that plus the Celery workers.
"""

import os
from pathlib import Path

import environ

_dotenv = Path(__file__).resolve().parent / ".env"
if _dotenv.exists():  # as the settings do; a variable already set in the environment wins
    environ.Env.read_env(_dotenv)

_on_sqlite = os.environ.get("DATABASE_URL", "sqlite").startswith("sqlite")


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
# SQLite has one writer at a time: one process whose threads queue on the busy timeout.
workers = _int("WEB_CONCURRENCY", 1 if _on_sqlite else 2)
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)
timeout = 30
graceful_timeout = 30
keepalive = 5
# Recycle processes now and then (with jitter so they do not all restart together).
max_requests = 2000
max_requests_jitter = 200
# The workers' heartbeat files, in memory: a container's disk may stall them.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# `make run` sets GUNICORN_RELOAD=true: workers restart when the code changes.
reload = os.environ.get("GUNICORN_RELOAD", "false").lower() in ("1", "true", "yes")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'
errorlog = "-"
# Gunicorn's runtime control socket (`gunicornc`) is not used; without this every server on a
# machine would share one socket path in the home directory.
control_socket_disable = True
