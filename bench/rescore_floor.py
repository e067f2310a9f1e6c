"""Where a full rescore's time goes, beside its reference, in the same run.

For each round, from tables vacuumed and in a transaction rolled back (as `make bench` does):

- the reference: one SQL statement computing and writing every metric's and goal's progress;
- the rescore (`feedback.engine.rescore_org`, a day later than the last one);
- its SQL alone: the statements that rescore sent, replayed verbatim in the same order, each
  result fetched as plain tuples (what the database and the driver cost, with no Python of
  ours);
- its scoring and rules alone: `score_world` and `rules.find_all` over the world it loaded,
  in memory (the Python the product is made of, with no database).

The two floors added up are what any rescore built on these statements and this scoring
costs; the rest is the Python that turns rows into inputs and results into rows.

    python -m bench.rescore_floor [--rounds 7]     (after `make bench` has seeded bench_seed)
"""

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from bench.__main__ import settings_env


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rescore_floor", description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    os.environ.update(settings_env())
    import django

    django.setup()
    _report(_measure(args.rounds))


def _measure(rounds: int) -> dict[str, list[float]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from alignment_service.notifications.models import WebhookEndpoint
    from bench import references, seed
    from bench.run import _rolled_back, _timed_rolled_back
    from feedback import engine
    from feedback.world import load_world
    from teams.models import Organization

    org = Organization.objects.get(slug=seed.ORG_SLUG)
    WebhookEndpoint.objects.filter(organization=org).delete()  # as seeded: the reference sends no events
    now = timezone.now()
    samples: dict[str, list[float]] = {name: [] for name in PARTS}
    for n in range(rounds):
        at = now + timedelta(days=n + 1)
        samples["reference statement"].append(_timed_rolled_back(lambda: references.rescore_statement(org)))
        samples["rescore"].append(_timed_rolled_back(partial(engine.rescore_org, org=org, now=at)))
        with _rolled_back(), CaptureQueriesContext(connection) as captured:  # the same rescore, to record it
            engine.rescore_org(org=org, now=at)
        statements = [query["sql"] for query in captured.captured_queries if not _is_transaction_control(query["sql"])]
        samples["its SQL alone"].append(_timed_rolled_back(partial(_replay, connection, statements)))
        with _rolled_back():
            world = load_world(org, at).world
            samples["its scoring and rules alone"].append(_timed(partial(_score_and_steer, world, org)))
    return samples


PARTS = ("reference statement", "rescore", "its SQL alone", "its scoring and rules alone")


def _is_transaction_control(sql: str) -> bool:
    return sql.split(" ", 1)[0].upper() in {"SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT"}


def _replay(connection: Any, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor: no Django wrapper, no converters
        for sql in statements:
            raw.execute(sql.encode())
            if raw.description is not None:
                raw.fetchall()


def _score_and_steer(world: Any, org: Any) -> None:
    from feedback import engine, rules, scoring

    points = engine.score_world(world, org)
    world.scores = {key: scoring.total(value) for key, value in points.items()}
    rules.find_all(world)


def _timed(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _report(samples: dict[str, list[float]]) -> None:
    medians = {name: statistics.median(values) for name, values in samples.items()}
    reference = medians["reference statement"]
    floor = medians["its SQL alone"] + medians["its scoring and rules alone"]
    rows = [
        *((name, medians[name]) for name in PARTS),
        ("floor: its SQL + its scoring and rules", floor),
        ("the rest: rows into inputs, results into rows", medians["rescore"] - floor),
    ]
    print(f"{'part':48s} {'seconds':>8s} {'÷ reference':>12s}")
    for name, seconds in rows:
        print(f"{name:48s} {seconds:8.3f} {seconds / reference:11.2f}×")
    print(f"{len(samples['rescore'])} rounds; the range of each part:")
    for name, values in samples.items():
        print(f"  {name}: {min(values):.3f} to {max(values):.3f} s")


if __name__ == "__main__":
    main()
