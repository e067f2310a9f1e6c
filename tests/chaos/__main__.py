"""`python -m tests.chaos [scenario …]`: run the fault scenarios against a private stack
(PostgreSQL, Redis, gunicorn, a Celery worker and beat, all started here and stopped at the
end). Prints one PASS or FAIL line per scenario with its figures; exits 1 if any failed."""

import argparse
import sys
import time
import traceback

from tests.chaos.checks import Result
from tests.chaos.scenarios import SCENARIOS
from tests.chaos.servers import stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument(
        "scenarios",
        nargs="*",
        choices=[[], *SCENARIOS],
        metavar="scenario",
        help=f"any of: {', '.join(SCENARIOS)} (default: all)",
    )
    names = parser.parse_args(argv).scenarios or list(SCENARIOS)
    results: list[Result] = []
    started = time.monotonic()
    with stack() as the_stack:
        print(
            f"private stack up in {time.monotonic() - started:.0f}s: {the_stack.base_url}, "
            f"PostgreSQL :{the_stack.postgres.port}, Redis :{the_stack.redis.port}",
            flush=True,
        )
        for name in names:
            result = Result(name)
            began = time.monotonic()
            try:
                SCENARIOS[name](the_stack, result)
            except Exception as exc:
                result.failures.append(f"crashed: {exc!r}\n{traceback.format_exc(limit=4)}")
            result.seconds = time.monotonic() - began
            results.append(result)
            print(result.line(), flush=True)
    failed = [r.name for r in results if not r.passed]
    print(
        f"chaos: {len(results) - len(failed)} passed, {len(failed)} failed"
        f"{' (' + ', '.join(failed) + ')' if failed else ''} in {time.monotonic() - started:.0f}s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
