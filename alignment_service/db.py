"""Database helpers that the ORM has no fast form for."""

from collections.abc import Iterable, Sequence
from typing import Any, cast

from django.db import connection
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
    objects = list(objects)
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
            # Identifiers come from the model's metadata (quoted); every value is a parameter.
            sql = (
                f"WITH v({names}) AS (VALUES {values}) "  # noqa: S608
                f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{quote(pk.column)} = v.{quote(pk.column)}"
            )
            cursor.execute(sql, params)
    return len(objects)


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
