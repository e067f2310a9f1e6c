"""Database helpers that the ORM has no fast form for, and the rules of locking.

Locking rules (PostgreSQL), so that writes beside a rescore never deadlock:
- Row locks are `FOR NO KEY UPDATE`, never `FOR UPDATE`: every insert of a child row takes
  `FOR KEY SHARE` on its parent at commit (foreign keys), which `FOR UPDATE` blocks.
- Set-based updates lock their rows in primary-key order first (`bulk_update_values`), so two
  writers touching overlapping sets queue instead of deadlocking.
- One rescore per organization at a time is an advisory lock (`try_org_lock`), which no row
  lock or foreign-key check waits for.
- Writes that change stored progress (readings, goals, metrics, the settings they derive
  from) take the organization's `derived_values` advisory lock (`lock_org`) as their first
  lock: goals and metrics are locked in several orders by nature (a metric, then the goals
  above it; a goal, then its metrics), so such writes of one organization run one at a time.
"""

import zlib
from collections.abc import Iterable, Sequence
from typing import Any, cast

from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection
from django.db.models import CharField, Field, Model, ProtectedError, QuerySet, RestrictedError, Value
from django.db.models.functions import Lower

from alignment_service.api.text import nfkc
from alignment_service.errors import Conflict, ValidationFailed


def bulk_update_values(objects: Iterable[Model], fields: Sequence[str], *, batch_size: int = 2000) -> int:
    """Write `fields` of `objects` with one `UPDATE … FROM (VALUES …)` per batch.

    Django's `bulk_update` builds a `CASE WHEN` per row and field, which costs seconds for a
    few thousand rows; this sends the values as a table and joins on the primary key
    (PostgreSQL, and SQLite from 3.33). Values are prepared by each field, as the ORM would.
    Returns the number of objects sent (SQLite reports no row count for a statement with `WITH`).
    """
    objects = sorted(objects, key=lambda obj: obj.pk)
    if not objects:
        return 0
    model = type(objects[0])
    meta = model._meta
    pk = meta.pk
    columns: list[Field[Any, Any]] = [pk, *(cast(Field, meta.get_field(name)) for name in fields)]
    quote = connection.ops.quote_name
    postgres = connection.vendor == "postgresql"
    placeholder = "(" + ", ".join(f"%s::{c.db_type(connection)}" if postgres else "%s" for c in columns) + ")"
    names = ", ".join(quote(c.column) for c in columns)
    assignments = ", ".join(f"{quote(c.column)} = v.{quote(c.column)}" for c in columns[1:])
    table = quote(meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(objects), batch_size):
            batch = objects[start : start + batch_size]
            params: list[Any] = []
            for obj in batch:
                params += [c.get_db_prep_save(getattr(obj, c.attname), connection) for c in columns]
            values = ", ".join([placeholder] * len(batch))
            key = quote(pk.column)
            # Identifiers come from the model's metadata (quoted); every value is a parameter.
            sql = f"WITH v({names}) AS (VALUES {values}) "
            if postgres:
                # Lock the rows in key order before writing them (see the locking rules above).
                sql += (
                    f", locked AS MATERIALIZED (SELECT {key} FROM {table} WHERE {key} IN (SELECT {key} FROM v) "  # noqa: S608
                    f"ORDER BY {key} FOR NO KEY UPDATE) "
                    f"UPDATE {table} SET {assignments} FROM v JOIN locked ON locked.{key} = v.{key} "
                    f"WHERE {table}.{key} = v.{key}"
                )
            else:
                sql += f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{key} = v.{key}"  # noqa: S608
            cursor.execute(sql, params)
    return len(objects)


#: SQLSTATEs of a write that lost a race inside the database and may simply be run again:
#: deadlock detected, serialization failure, lock not available (`lock_timeout`).
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001", "55P03"})


def is_transient_db_error(exc: BaseException) -> bool:
    """True when `exc` is a deadlock, serialization failure or lock timeout."""
    if not isinstance(exc, DatabaseError):
        return False
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) in TRANSIENT_SQLSTATES


def is_database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached or is shutting down or starting up
    (no connection, connection lost, admin or crash shutdown, too many connections)."""
    if isinstance(exc, InterfaceError):  # "connection already closed"
        return True
    if not isinstance(exc, OperationalError) or is_transient_db_error(exc):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(("08", "57P")) or sqlstate == "53300"


#: SQLSTATEs of a violation that names its constraint: unique, foreign key, check, exclusion.
#: A NOT NULL violation (23502) names only a column: a write the code should never make.
NAMED_CONSTRAINT_SQLSTATES = frozenset({"23505", "23503", "23514", "23P01"})
_SQLITE_NAMED_CONSTRAINTS = ("UNIQUE constraint failed", "FOREIGN KEY constraint failed", "CHECK constraint failed")


def violated_constraint(exc: IntegrityError) -> str | None:
    """What names the declared constraint that refused the write (its name on PostgreSQL,
    the message on SQLite, which names unique constraints by their columns), or None when the
    database names no constraint."""
    cause = exc.__cause__
    diag = getattr(cause, "diag", None)
    if diag is not None:
        name = diag.constraint_name if getattr(cause, "sqlstate", None) in NAMED_CONSTRAINT_SQLSTATES else None
        return name or None
    message = str(exc)
    return message if message.startswith(_SQLITE_NAMED_CONSTRAINTS) else None


def try_org_lock(purpose: str, org_id: Any) -> bool:
    """Take the transaction-scoped advisory lock `(purpose, org_id)` if it is free.

    On SQLite, whose transactions take the write lock at BEGIN, there is nothing to take.
    """
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [_lock_key(purpose), _lock_key(str(org_id))])
        return bool(cursor.fetchone()[0])


DERIVED_VALUES_LOCK = "derived_values"


def lock_org(purpose: str, org_id: Any) -> None:
    """Wait for the transaction-scoped advisory lock `(purpose, org_id)`, up to
    `ORG_LOCK_TIMEOUT_MS` (longer than the statement `lock_timeout`).

    Take it before any row lock of the transaction: holding nothing while it waits, the
    transaction cannot be part of a deadlock, so it may wait its turn in PostgreSQL's queue of
    waiters. Under the short `lock_timeout` a busy organization's writes timed out, were retried
    and went to the back of the queue (seconds of tail latency, each one a wasted attempt).
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        (statement_timeout,) = cursor.fetchone()
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{settings.ORG_LOCK_TIMEOUT_MS}ms"])
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_lock_key(purpose), _lock_key(str(org_id))])
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [statement_timeout])


def _lock_key(text: str) -> int:
    return zlib.crc32(text.encode()) - 2**31


def matching_identifier(queryset: QuerySet[Any], field: str, value: str) -> QuerySet[Any]:
    """Rows whose `field` is `value` as the case-insensitive unique indexes see it: `lower()`
    of the NFKC form, computed by the database (so `Alice`, `ALICE` and a full-width `Alice` match)."""
    alias = f"{field}_lower"
    wanted = Lower(Value(nfkc(value), output_field=CharField()))
    return queryset.alias(**{alias: Lower(field)}).filter(**{alias: wanted})


def check_parent_acyclic(obj: Model, parent: Model | None, *, message: str = "This would make a cycle.") -> None:
    """Refuse `parent` when it is `obj` itself or one of its descendants (`attr` `parent`).

    Walks up from `parent` through `parent_id`, one indexed lookup per level.
    """
    if parent is None or obj.pk is None:
        return
    manager = type(obj)._default_manager
    ancestor_id: Any = parent.pk
    seen: set[Any] = set()
    while ancestor_id is not None and ancestor_id not in seen:
        if ancestor_id == obj.pk:
            raise ValidationFailed(message, code="cycle", attr="parent")
        seen.add(ancestor_id)
        ancestor_id = manager.filter(pk=ancestor_id).values_list("parent_id", flat=True).first()


def delete_or_conflict(obj: Model, detail: str, *, code: str) -> None:
    """Delete `obj`, or refuse with `409 code` when rows that must outlive it still point at it."""
    try:
        obj.delete()
    except (ProtectedError, RestrictedError) as exc:
        raise Conflict(detail, code=code) from exc


def check_parent_depth(obj: Model, parent: Model | None, *, max_depth: int, message: str) -> None:
    """Refuse `parent` when `obj` and everything below it would end deeper than `max_depth`
    levels (`attr` `parent`). At most `max_depth` indexed lookups up and `max_depth` down."""
    if parent is None:
        return
    manager = type(obj)._default_manager
    levels_above, ancestor_id = 0, parent.pk
    seen: set[Any] = set()
    while ancestor_id is not None and ancestor_id not in seen and levels_above < max_depth:
        seen.add(ancestor_id)
        levels_above += 1
        ancestor_id = manager.filter(pk=ancestor_id).values_list("parent_id", flat=True).first()
    height, level = 1, {obj.pk} if obj.pk is not None else set()
    while level and levels_above + height <= max_depth:
        level = set(manager.filter(parent_id__in=level).exclude(pk__in=seen).values_list("pk", flat=True))
        height += bool(level)
    if levels_above + height > max_depth:
        raise ValidationFailed(message, code="too_deep", attr="parent")
