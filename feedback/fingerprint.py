"""Whether a rescore has anything to do: a digest of every input of scoring and of the rules.

On PostgreSQL every row version carries the transaction that wrote it (`xmin`) and the command
inside that transaction (`cmin`), so a digest of `(id, xmin, cmin)` over the organization's
inputs changes with any insert, update or delete of them, even two in one transaction.
It is taken before the rescore reads anything, so a write that commits meanwhile makes the
next digest differ (and the next rescore run). The active corrections, which the rescore
itself writes, are digested by content instead: the last full rescore's digest is of the
corrections as it left them. Scores and snapshots are the engine's own output.

Elsewhere (SQLite) there is no digest and every rescore runs, with the same results.
"""

import hashlib
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import BigIntegerField, Count, Func, Model, Sum, TextField, Value
from django.db.models.functions import Cast, Coalesce

from feedback import selectors
from feedback.models import Assessment, CheckIn, Feedback, RescoreState, SteeringDecision
from goals.models import Divergence, Goal, GoalStrategy, Metric
from teams.models import Organization, Team

INPUTS: tuple[type[Model], ...] = (
    Team, Goal, GoalStrategy, Metric, CheckIn, Assessment, Feedback, Divergence, SteeringDecision,
)  # fmt: skip
CORRECTION_FIELDS = ("id", "subject_type", "subject_id", "trigger", "review_by", "extension_count", "caused_by_id")


def inputs_digest(org: Organization) -> str | None:
    """The digest of the organization's row and every input row, or None off PostgreSQL."""
    if connection.vendor != "postgresql":
        return None
    quote = connection.ops.quote_name
    parts = ["(SELECT xmin::text FROM teams_organization WHERE id = %(org)s)"]
    for model in INPUTS:
        pk = quote(model._meta.pk.column)  # type: ignore[union-attr]
        digest = f"coalesce(sum(hashtextextended(t.{pk}::text || ':' || t.xmin::text || ':' || t.cmin::text, 0)), 0)"
        table = quote(model._meta.db_table)
        parts.append(f"(SELECT count(*) || ':' || {digest} FROM {table} t WHERE t.organization_id = %(org)s)")  # noqa: S608
    with connection.cursor() as cursor:
        # Identifiers come from the models' metadata (quoted); the organization is a parameter.
        cursor.execute("SELECT concat_ws('|', " + ", ".join(parts) + ")", {"org": org.pk})
        return hashlib.sha256(cursor.fetchone()[0].encode()).hexdigest()


def corrections_digest(org: Organization) -> str:
    """The active corrections by what the rules read of them, as this transaction sees them
    (in a rescore, its own writes included): by content, since the rescore rewrites the rows."""
    content = Func(
        *(Coalesce(Cast(name, TextField()), Value("")) for name in CORRECTION_FIELDS),
        template="concat_ws('|', %(expressions)s)", output_field=TextField(),
    )  # fmt: skip
    row_hash = Func(content, Value(0), function="hashtextextended", output_field=BigIntegerField())
    totals = selectors.active_corrections(org=org).order_by().aggregate(n=Count("id"), total=Sum(row_hash))
    return f"{totals['n']}:{totals['total'] or 0}"


def _combined(inputs: str, corrections: str) -> str:
    return hashlib.sha256(f"{inputs}|{corrections}".encode()).hexdigest()


def unchanged(org: Organization, now: datetime, inputs: str | None) -> bool:
    """True when the last full rescore, less than `RESCORE_UNCHANGED_SECONDS` before `now`,
    saw these inputs and left the active corrections as they are."""
    if inputs is None:
        return False
    state = RescoreState.objects.filter(organization=org).first()
    if state is None or not 0 <= (now - state.scored_at).total_seconds() < settings.RESCORE_UNCHANGED_SECONDS:
        return False
    return state.fingerprint == _combined(inputs, corrections_digest(org))


def remember(org: Organization, now: datetime, inputs: str | None) -> None:
    """Record what a full rescore saw (`inputs`, taken before it read) and left (the active
    corrections, digested in its transaction after its writes)."""
    if inputs is None:
        return
    state = RescoreState(organization=org, fingerprint=_combined(inputs, corrections_digest(org)), scored_at=now)
    RescoreState.objects.bulk_create(
        [state], update_conflicts=True, unique_fields=["organization"], update_fields=["fingerprint", "scored_at"]
    )
