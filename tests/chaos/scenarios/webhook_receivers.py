"""A healthy webhook receiver's latency and a recompute's, alone and then beside receivers that
hang, answer 500, redirect, answer 410, reset, cut the body short or trickle bytes."""

import json
import time
from typing import Any
from urllib.parse import urlsplit

from tests.chaos import checks
from tests.chaos.checks import Result
from tests.chaos.client import Org, make_org
from tests.chaos.receivers import Receiver
from tests.chaos.servers import Stack, wait_until

# --- Hostile webhook receivers ---------------------------------------------------------------


HOSTILE = ("hang", "hang", "hang", "error", "redirect", "gone", "reset", "short", "trickle", "trickle", "trickle")


def webhook_receivers(stack: Stack, result: Result) -> None:
    """A healthy receiver's latency and a recompute's, first alone, then beside receivers that
    hang, answer 500, redirect, answer 410, reset, cut the body short or trickle bytes."""
    org = make_org(stack.base_url)
    oid = checks.org_id(stack, org.slug)
    api = org.api()
    healthy = Receiver("ok").start()
    hostile = [Receiver(behaviour).start() for behaviour in HOSTILE]
    events = ["checkin.created"]
    try:
        api.ok("POST", org.path("webhooks/"), {"url": healthy.url, "events": events})
        alone = _latencies(stack, org, oid, healthy, rounds=8)
        endpoints = {
            receiver.behaviour + str(i): api.ok("POST", org.path("webhooks/"), {"url": receiver.url, "events": events})
            for i, receiver in enumerate(hostile)
        }
        beside = _latencies(stack, org, oid, healthy, rounds=8)
        time.sleep(8)  # let every hostile attempt finish or time out
        with stack.db() as db:
            outcome = {
                name: db.execute(
                    "SELECT e.active, d.status, d.response_status, left(d.last_error, 60) FROM "
                    "notifications_webhookendpoint e JOIN notifications_webhookdelivery d ON d.endpoint_id = e.id "
                    "WHERE e.id = %s ORDER BY d.created_at LIMIT 1",
                    [endpoint["id"]],
                ).fetchone()
                for name, endpoint in endpoints.items()
            }
    finally:
        for receiver in [healthy, *hostile]:
            receiver.stop()
    result.figures.update(
        healthy_alone_p95_s=alone["delivery_p95"],
        healthy_beside_p95_s=beside["delivery_p95"],
        healthy_beside_max_s=beside["delivery_max"],
        recompute_alone_s=alone["recompute_max"],
        recompute_beside_s=beside["recompute_max"],
        lost=beside["lost"],
        short_body=outcome["short7"][1],
        gone_endpoint_active=outcome["gone5"][0],
        redirect=outcome["redirect4"][1],
    )
    result.figures["outcomes"] = {name: f"{row[1]}/{row[2]}" for name, row in outcome.items() if row}
    limit = max(1.0, alone["delivery_p95"] * 2)
    result.expect(beside["lost"] == 0, f"{beside['lost']} events never reached the healthy receiver")
    result.expect(
        beside["delivery_p95"] <= limit,
        f"slow receivers delayed the healthy one: p95 {alone['delivery_p95']:.2f} s alone, "
        f"{beside['delivery_p95']:.2f} s beside them",
    )
    result.expect(
        beside["recompute_max"] <= max(3.0, alone["recompute_max"] * 2),
        f"slow receivers delayed the scoring: a recompute took {alone['recompute_max']:.2f} s alone, "
        f"{beside['recompute_max']:.2f} s beside them",
    )
    result.expect(outcome["short7"][1] != "succeeded", "a 200 whose body was cut short counted as delivered")
    result.expect(outcome["gone5"][0] is False, "a 410 Gone did not switch its endpoint off")
    result.expect(outcome["redirect4"][1] != "succeeded", "a redirect counted as delivered")


def _latencies(stack: Stack, org: Org, oid: str, healthy: Receiver, rounds: int) -> dict[str, Any]:
    """Post check-ins one by one; for each, how long until the healthy receiver had its event,
    and how long a recompute requested with it took."""
    api = org.api()
    delivery, recompute, lost = [], [], 0
    for n in range(rounds):
        posted = time.time()
        check_in = api.ok("POST", org.path("check-ins/"), {"goal": org.goals[0], "summary": f"r{n}", "confidence": 5})
        job = api.ok("POST", org.path("scores/recompute/"))
        job_started = time.monotonic()

        def arrived(check_in: dict[str, Any] = check_in) -> bool:
            return any(json.loads(r.body)["data"]["id"] == check_in["id"] for r in list(healthy.received))

        def job_done(job: dict[str, Any] = job) -> bool:
            return api.ok("GET", urlsplit(job["url"]).path)["status"] in ("succeeded", "failed")

        if wait_until(job_done, 30, 0.05):
            recompute.append(time.monotonic() - job_started)
        else:
            recompute.append(30.0)
        if wait_until(arrived, 30, 0.05):
            receipt = next(r for r in list(healthy.received) if json.loads(r.body)["data"]["id"] == check_in["id"])
            delivery.append(receipt.at - posted)
        else:
            lost += 1
        time.sleep(0.3)
    delivery.sort()
    return {
        "delivery_p95": round(delivery[min(len(delivery) - 1, int(0.95 * len(delivery)))], 2) if delivery else 99.0,
        "delivery_max": round(max(delivery), 2) if delivery else 99.0,
        "recompute_max": round(max(recompute), 2),
        "lost": lost,
    }
