"""`make bench`: seed, serve, measure every figure beside its reference, write the results.

python -m bench [--quick | --size {quick,full,large}] [--rounds N] [--reuse]
"""

import argparse
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_seed"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"
ORG_PATH = "/api/v1/orgs/bench"
REF_PATH = "/bench/orgs/bench"


def settings_env() -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        "DJANGO_SECRET_KEY": "bench-only-secret-key-not-for-production-use-0123456789",
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "EMAIL_URL": "dummymail://",
        # The benchmark sends thousands of requests a minute with one token.
        "THROTTLE_USER_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
        "OUTBOX_DRAIN_INTERVAL_SECONDS": "1",
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_const", const="quick", dest="size", help="a small organization")
    parser.add_argument("--size", choices=["quick", "full", "large"])
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds per figure (7; quick: 5)")
    parser.add_argument("--reuse", action="store_true", help="keep an organization seeded by an earlier run")
    parser.add_argument("--only", default="", help="comma-separated figure groups: ingest,reads,rescore,latency")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    parser.set_defaults(size="full")
    args = parser.parse_args()
    os.environ.update(settings_env())
    _ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from bench import run

    rounds = args.rounds or (5 if args.size == "quick" else 7)
    groups = set(filter(None, args.only.split(","))) or set(run.GROUPS)
    started = time.monotonic()
    figures = run.run(size_name=args.size, rounds=rounds, reuse=args.reuse, groups=groups, env=settings_env())
    _print_table(figures)
    meta = {"size": args.size, "rounds": rounds, "seconds": round(time.monotonic() - started, 1)}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps([f.as_dict() for f in figures], indent=2) + "\n")
    print(f"\nwrote {args.output} ({json.dumps(meta)}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")


def _ensure_database(url: str) -> None:
    import psycopg
    from django.db.backends.postgresql.psycopg_any import sql

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _print_table(figures: list[Any]) -> None:
    header = ("figure", "ours", "reference", "ratio", "target", "verdict")
    rows = [
        (f.name, f"{_fmt(f.value)} {f.unit}", f"{_fmt(f.reference_value)} ({f.reference})", f"{f.ratio:g}×",
         f.target, f.verdict)
        for f in figures
    ]  # fmt: skip
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


if __name__ == "__main__":
    main()
