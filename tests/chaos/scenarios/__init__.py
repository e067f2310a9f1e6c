"""The fault scenarios of issue 8 and its "Done when" load, each against the private stack;
`SCENARIOS` names them for `python -m tests.chaos`, one module per fault."""

from collections.abc import Callable

from tests.chaos.checks import Result
from tests.chaos.scenarios.load import load
from tests.chaos.scenarios.postgres_restarted import postgres_restarted
from tests.chaos.scenarios.redis_outages import redis_frozen, redis_restarted_empty, redis_stopped
from tests.chaos.scenarios.webhook_receivers import webhook_receivers
from tests.chaos.scenarios.worker_killed import worker_killed
from tests.chaos.servers import Stack

SCENARIOS: dict[str, Callable[[Stack, Result], None]] = {
    "redis-stopped": redis_stopped,
    "redis-frozen": redis_frozen,
    "redis-restarted-empty": redis_restarted_empty,
    "worker-killed": worker_killed,
    "postgres-restarted": postgres_restarted,
    "webhook-receivers": webhook_receivers,
    "load": load,
}
