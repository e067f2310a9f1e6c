"""A deterministic organization for the benchmark, written with COPY.

The shape (per size): company goals without metrics under five pillars, team goals with
metrics beneath them, one team per twenty goals under a product group and a steering group,
one lead per team, and daily readings for every metric up to yesterday. Random values come
from a fixed seed and dates are relative to today (UTC), so the same size seeded on the same
day is the same organization. Derived values and a short score history are then computed by
the service's own code, as the API would have.
"""

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from alignment_service.access import Role
from alignment_service.outbox.models import OutboxMessage
from feedback.engine import rescore_org
from goals import formulas
from goals.models import GoalStatus, GoalStrategy, StrategyPillar
from goals.services import goals_refresh_progress, metrics_refresh
from teams.models import Membership, Organization, Team, TeamKind, TeamMember, User
from teams.services import auth_token_create

ORG_SLUG = "bench"
OWNER = "bench-owner"
RANDOM_SEED = 14
GOAL_STARTED_DAYS_AGO, GOAL_DUE_IN_DAYS = 150, 60
#: Rescores at these days before now give the dashboard a score history (and a trend).
HISTORY_DAYS = (14, 7, 1)


@dataclass(frozen=True)
class Size:
    goals: int
    metrics: int
    readings: int

    @property
    def teams(self) -> int:
        return max(5, self.goals // 20)

    @property
    def company_goals(self) -> int:
        return max(5, self.goals // 40)


SIZES = {
    "tiny": Size(goals=20, metrics=60, readings=600),
    "quick": Size(goals=200, metrics=600, readings=60_000),
    "full": Size(goals=2_000, metrics=6_000, readings=1_000_000),
    "large": Size(goals=20_000, metrics=60_000, readings=10_000_000),
}


@dataclass(frozen=True)
class Seeded:
    org: Organization
    owner: User
    token: str
    team_goal_ids: list[uuid.UUID]
    metric_keys: list[str]


def seed(size: Size, *, slug: str = ORG_SLUG, today: date | None = None) -> Seeded:
    """Replace the organization `slug` (and its users) with a fresh one of `size`."""
    today = today or timezone.now().astimezone(UTC).date()
    rng = random.Random(RANDOM_SEED)
    Organization.objects.filter(slug=slug).delete()
    with transaction.atomic():
        org, owner, teams = _people(size, slug)
        goal_rows, team_goal_ids = _goal_rows(org, teams, owner, size, today)
        _copy("goals_goal", goal_rows)
        pillars = [StrategyPillar.objects.create(organization=org, title=f"Pillar {n}", owner=owner) for n in range(5)]
        company = [row["id"] for row in goal_rows if row["team_id"] is None]
        GoalStrategy.objects.bulk_create(
            [GoalStrategy(organization=org, goal_id=gid, pillar=pillars[n % 5]) for n, gid in enumerate(company)]
        )
        metric_rows = list(_metric_rows(org, team_goal_ids, size, today, rng))
        _copy("goals_metric", metric_rows)
        _copy("goals_reading", _reading_rows(org, metric_rows, size, today, rng), count=size.readings)
    with transaction.atomic():
        metrics_refresh(org=org, metric_ids=[row["id"] for row in metric_rows])
        goals_refresh_progress(org=org)
    now = timezone.now()
    for days in HISTORY_DAYS:
        rescore_org(org=org, now=now - timedelta(days=days))
    OutboxMessage.objects.filter(organization=org).delete()
    _, secret = auth_token_create(user=owner)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return Seeded(org, owner, secret, team_goal_ids, [row["key"] for row in metric_rows])


def _people(size: Size, slug: str) -> tuple[Organization, User, list[Team]]:
    org = Organization.objects.create(name=slug.title(), slug=slug)
    owner = _user(OWNER if slug == ORG_SLUG else f"{slug}-owner")
    Membership.objects.create(organization=org, user=owner, role=Role.OWNER)
    steering = Team.objects.create(organization=org, name="Steering", slug="steering", kind=TeamKind.STEERING_GROUP)
    TeamMember.objects.create(organization=org, team=steering, user=owner)
    product = Team.objects.create(organization=org, name="Product", slug="product", parent=steering, lead=owner)
    leads = [_user(f"{slug}-lead-{n}") for n in range(size.teams)]
    Membership.objects.bulk_create([Membership(organization=org, user=u, role=Role.MEMBER) for u in leads])
    teams = Team.objects.bulk_create(
        [
            Team(organization=org, name=f"Team {n:04d}", slug=f"team-{n:04d}", parent=product, lead=lead)
            for n, lead in enumerate(leads)
        ]
    )
    return org, owner, teams


def _user(username: str) -> User:
    User.objects.filter(username=username).delete()
    # A fixed unusable password: nobody signs in as these users, the benchmark uses a token.
    return User.objects.create(username=username, email=f"{username}@bench.example", password="!")


def _goal_rows(
    org: Organization, teams: list[Team], owner: User, size: Size, today: date
) -> tuple[list[dict[str, Any]], list[uuid.UUID]]:
    starts_on, due_on = today - timedelta(days=GOAL_STARTED_DAYS_AGO), today + timedelta(days=GOAL_DUE_IN_DAYS)
    start_ts, end_ts = formulas.window_bounds_ts(starts_on, due_on, org.timezone)
    ids = [_uuid(org, "goal", n) for n in range(size.goals)]
    now = timezone.now()
    rows = []
    for n, goal_id in enumerate(ids):
        company = n < size.company_goals
        team = None if company else teams[n % len(teams)]
        rows.append(
            {
                "id": goal_id, "organization_id": org.pk, "title": f"Goal {n:05d}", "description": "",
                "team_id": team.pk if team else None, "owner_id": team.lead_id if team else owner.pk,
                "parent_id": None if company else ids[n % size.company_goals], "cycle_id": None,
                "starts_on": starts_on, "due_on": due_on, "weight": 1.0 + n % 3, "hypothesis": "",
                "status": GoalStatus.ACTIVE, "progress": None, "window_start_ts": start_ts,
                "window_end_ts": end_ts, "version": 1, "created_at": now, "updated_at": now,
            }
        )  # fmt: skip
    return rows, ids[size.company_goals :]


def _metric_rows(
    org: Organization, goal_ids: list[uuid.UUID], size: Size, today: date, rng: random.Random
) -> Iterator[dict[str, Any]]:
    starts_on, due_on = today - timedelta(days=GOAL_STARTED_DAYS_AGO), today + timedelta(days=GOAL_DUE_IN_DAYS)
    start_ts, end_ts = formulas.window_bounds_ts(starts_on, due_on, org.timezone)
    now = timezone.now()
    for n in range(size.metrics):
        increase = n % 4 != 3
        baseline, target = (0.0, 100.0) if increase else (100.0, 20.0)
        yield {
            "id": _uuid(org, "metric", n), "organization_id": org.pk,
            "goal_id": goal_ids[n % len(goal_ids)], "name": f"Metric {n:06d}", "key": f"m-{n:06d}", "unit": "",
            "direction": "increase" if increase else "decrease", "baseline": baseline, "target": target,
            "weight": 1.0, "starts_on": None, "due_on": None, "stale_after_days": 7 if n % 5 == 0 else None,
            "current": None, "last_reading_at": None, "last_reading_ts": None, "forecast": None, "progress": None,
            "window_start_ts": start_ts, "window_end_ts": end_ts, "reading_count": 0, "version": 1, "created_at": now,
            "updated_at": now, "role": "key_result", "threshold": None, "_pace": rng.uniform(0.4, 1.3),
        }  # fmt: skip


def _reading_rows(
    org: Organization, metrics: list[dict[str, Any]], size: Size, today: date, rng: random.Random
) -> Iterator[dict[str, Any]]:
    per_metric = max(1, size.readings // len(metrics))
    now = timezone.now()
    first_day = today - timedelta(days=per_metric)
    window_days = GOAL_STARTED_DAYS_AGO + GOAL_DUE_IN_DAYS
    for metric in metrics:
        span = metric["target"] - metric["baseline"]
        for day in range(per_metric):
            observed = datetime.combine(first_day + timedelta(days=day), time(9), tzinfo=UTC)
            elapsed = (per_metric - day) / window_days
            share = max(0.0, (GOAL_STARTED_DAYS_AGO / window_days - elapsed) * metric["_pace"])
            value = metric["baseline"] + span * share + rng.uniform(-1.0, 1.0)
            yield {
                "organization_id": org.pk, "metric_id": metric["id"], "observed_at": observed, "value": value,
                "source": "seed", "note": "", "created_at": now, "updated_at": now,
            }  # fmt: skip


def _uuid(org: Organization, kind: str, n: int) -> uuid.UUID:
    """The same ids for the same organization slug, run after run."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"bench:{org.slug}:{kind}:{n}")


def _copy(table: str, rows: Any, *, count: int | None = None) -> None:
    """COPY `rows` (dicts; keys starting with `_` are not columns) into `table`."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    columns = [name for name in first if not name.startswith("_")]
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy:
            copy.write_row([first[c] for c in columns])
            for row in rows:
                copy.write_row([row[c] for c in columns])
