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

import json
import uuid
import zlib
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, cast

from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection
from django.db.models import CharField, Field, Model, ProtectedError, QuerySet, RestrictedError, Value
from django.db.models.functions import Lower

from alignment_service.api.text import nfkc
from alignment_service.errors import Conflict, ValidationFailed


def bulk_update_values(objects: Iterable[Model], fields: Sequence[str], *, batch_size: int | None = None) -> int:
    """Write `fields` of `objects` with one `UPDATE … FROM` per batch (see `bulk_update_rows`).

    Values are prepared by each field, as the ORM would. Returns the number of objects sent.
    """
    objects = list(objects)
    if not objects:
        return 0
    meta = type(objects[0])._meta
    columns: list[Field[Any, Any]] = [cast(Field, meta.pk), *(cast(Field, meta.get_field(name)) for name in fields)]
    rows = [[c.get_db_prep_save(getattr(obj, c.attname), connection) for c in columns] for obj in objects]
    return bulk_update_rows(type(objects[0]), fields, rows, batch_size=batch_size)


def bulk_update_rows(
    model: type[Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    batch_size: int | None = None,
    keep_where_null: Collection[str] = (),
) -> int:
    """Write `rows` (the primary key, then the values of `fields`, ready for the database).
    A null in a field of `keep_where_null` leaves that row's stored value as it is, so rows
    that change different fields share one statement.

    Django's `bulk_update` builds a `CASE WHEN` per row and field, which costs seconds for a
    few thousand rows; this sends the values as a table and joins on the primary key. On
    PostgreSQL the table is one array per column (`unnest`), so any number of rows is one
    statement of a few parameters; on SQLite (3.33+) it is `VALUES`, 2,000 rows a statement.
    Returns the number of rows sent (SQLite reports no row count for a statement with `WITH`).
    """
    if not rows:
        return 0
    rows = sorted(rows, key=lambda row: row[0])
    meta = model._meta
    columns: list[Field[Any, Any]] = [cast(Field, meta.pk), *(cast(Field, meta.get_field(name)) for name in fields)]
    quote = connection.ops.quote_name
    postgres = connection.vendor == "postgresql"
    names = ", ".join(quote(c.column) for c in columns)
    table, key = quote(meta.db_table), quote(cast(Field, meta.pk).column)
    kept = {cast(Field, meta.get_field(name)).column for name in keep_where_null}
    assignments = ", ".join(
        f"{quote(c.column)} = coalesce(v.{quote(c.column)}, {table}.{quote(c.column)})"
        if c.column in kept
        else f"{quote(c.column)} = v.{quote(c.column)}"
        for c in columns[1:]
    )
    size = batch_size or (len(rows) if postgres else 2000)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), size):
            batch = rows[start : start + size]
            # Identifiers come from the model's metadata (quoted); every value is a parameter.
            if postgres:
                arrays = ", ".join(f"%s::{c.db_type(connection)}[]" for c in columns)
                # Lock the rows in key order before writing them (see the locking rules above).
                sql = (
                    f"WITH v({names}) AS (SELECT * FROM unnest({arrays})), "  # noqa: S608
                    f"locked AS MATERIALIZED (SELECT {key} FROM {table} WHERE {key} IN (SELECT {key} FROM v) "
                    f"ORDER BY {key} FOR NO KEY UPDATE) "
                    f"UPDATE {table} SET {assignments} FROM v JOIN locked ON locked.{key} = v.{key} "
                    f"WHERE {table}.{key} = v.{key}"
                )
                cursor.execute(sql, [_array_parameter(column) for column in zip(*batch, strict=True)])
            else:
                values = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(batch))
                sql = f"WITH v({names}) AS (VALUES {values}) "
                sql += f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{key} = v.{key}"  # noqa: S608
                cursor.execute(sql, [value for row in batch for value in row])
    return len(rows)


def insert_rows(
    model: type[Model],
    rows: Sequence[dict[str, Any]],
    *,
    ignore_conflicts: bool = False,
    update_conflicts: tuple[Sequence[str], Sequence[str]] | None = None,
) -> int:
    """Insert `rows` (values by field `attname`; a field left out takes its default, evaluated
    per row) in one statement. Values of JSON fields must be JSON types already. A row that
    conflicts is skipped (`ignore_conflicts`), or updates `update_conflicts = (unique fields,
    fields to update)` as `bulk_create` would.

    `bulk_create` builds a model instance per row and, on PostgreSQL, one text array per
    column whose every element psycopg escapes in Python: a third of a second for a few
    thousand rows with JSON payloads. Here PostgreSQL reads the rows from one JSON document
    (`jsonb_to_recordset`), escaped once; elsewhere this is `bulk_create`. Returns the number
    of rows sent.
    """
    if not rows:
        return 0
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and getattr(f, "db_returning", False))]
    defaults = [f for f in fields if f.attname not in rows[0]]
    complete = [{**row, **{f.attname: f.get_default() for f in defaults}} for row in rows]
    if connection.vendor != "postgresql":
        objects = [model(**row) for row in complete]
        unique_fields, update_fields = update_conflicts or (None, None)
        model._default_manager.bulk_create(
            objects, ignore_conflicts=ignore_conflicts, update_conflicts=update_conflicts is not None,
            unique_fields=unique_fields, update_fields=update_fields,
        )  # fmt: skip
        return len(objects)
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in fields)
    columns = ", ".join(f"{quote(f.attname)} {f.db_type(connection)}" for f in fields)
    selected = ", ".join(quote(f.attname) for f in fields)
    document = json.dumps([{f.attname: row[f.attname] for f in fields} for row in complete], default=_json_value)
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    if update_conflicts is not None:
        unique = ", ".join(quote(cast(Field, model._meta.get_field(name)).column) for name in update_conflicts[0])
        updated = (quote(cast(Field, model._meta.get_field(name)).column) for name in update_conflicts[1])
        conflict = f" ON CONFLICT ({unique}) DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in updated)
    with connection.cursor() as cursor:
        # Identifiers and types come from the model's metadata (quoted); the rows are a parameter.
        cursor.execute(
            f"INSERT INTO {quote(model._meta.db_table)} ({names}) "  # noqa: S608
            f"SELECT {selected} FROM jsonb_to_recordset(%s::jsonb) AS r({columns}){conflict}",
            [document],
        )
    return len(complete)


def _json_value(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value")


def array_literal(elements: Iterable[str], *, quote: bool = True) -> str:
    """A PostgreSQL array literal of `elements` (their text forms), to send as one parameter cast
    to the array type (`%s::uuid[]`): psycopg adapts a list element by element in Python, which
    is most of the client's time for an array of thousands. Without `quote`, the elements must
    hold none of `{}",\\`, no whitespace and never read `NULL` (UUIDs, ISO 8601, floats)."""
    if quote:
        elements = (_quoted(e) for e in elements)
    return "{" + ",".join(elements) + "}"


def _array_parameter(values: Sequence[Any]) -> Any:
    """`values` (ready for the database) as one array literal of their text forms, NULL for
    None: psycopg adapts a list element by element, most of a write's time in Python for the
    columns of a few thousand rows. A column holding another type goes as the list."""
    if not all(value is None or type(value) in _ARRAY_TEXT for value in values):
        return list(values)
    elements = ("NULL" if value is None else _quoted(_ARRAY_TEXT[type(value)](value)) for value in values)
    return "{" + ",".join(elements) + "}"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _instant_text(value: datetime) -> str:
    # In UTC: PostgreSQL refuses offsets beyond ±15:59, which Python accepts.
    return value.isoformat() if value.tzinfo is None else value.astimezone(UTC).isoformat()


_ARRAY_TEXT: dict[type, Callable[[Any], str]] = {
    str: str, int: str, float: repr, bool: lambda value: "t" if value else "f", uuid.UUID: str,
    date: date.isoformat, datetime: _instant_text,
}  # fmt: skip


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
        statement_timeout, org_timeout = f"{settings.DATABASE_LOCK_TIMEOUT_MS}ms", f"{settings.ORG_LOCK_TIMEOUT_MS}ms"
        cursor.execute(LOCK_ORG_SQL, [statement_timeout, _lock_key(purpose), _lock_key(str(org_id)), org_timeout])


#: One round trip, read inside out: each level runs before the one around it (`OFFSET 0` keeps
#: the planner from flattening them), so the long timeout is set, the lock taken, then the
#: statement timeout (a known setting, not read back) restored.
LOCK_ORG_SQL = """
SELECT set_config('lock_timeout', %s, true) FROM (
    SELECT pg_advisory_xact_lock(%s, %s) FROM (
        SELECT set_config('lock_timeout', %s, true) OFFSET 0
    ) AS timeout_set OFFSET 0
) AS locked
"""


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
