"""Serializer pieces shared by every app."""

from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings as django_settings
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Field, Model
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject, PrimaryKeyRelatedField
from rest_framework.settings import api_settings


# Runs `cross_field_errors` on the raw input even when fields fail, so a response names every
# problem at once (DRF runs `validate()` only once every field is valid). Comments, not
# docstrings: drf-spectacular would show a docstring as each serializer's description.
class CrossFieldChecksMixin:
    def cross_field_errors(self, data: Any) -> dict[str, serializers.ErrorDetail]:
        return {}

    def to_internal_value(self, data: Any) -> Any:
        errors: dict[str, Any] = {}
        value = None
        try:
            value = super().to_internal_value(data)  # type: ignore[misc]
        except serializers.ValidationError as exc:
            errors = dict(exc.detail) if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        raw = data if hasattr(data, "get") else {}
        for name, error in self.cross_field_errors(raw).items():
            errors.setdefault(name, [error])
        if errors:
            raise serializers.ValidationError(errors)
        return value

    def parsed(self, data: Any, name: str) -> Any:
        """One field's value from raw input, or None when it is absent or invalid."""
        raw = data.get(name)
        if raw is None:
            return None
        try:
            return self.fields[name].to_internal_value(raw)  # type: ignore[attr-defined]
        except serializers.ValidationError:
            return None


# `date_order[1]` must not be before `date_order[0]`.
class DateOrderMixin(CrossFieldChecksMixin):
    date_order: tuple[str, str]

    def cross_field_errors(self, data: Any) -> dict[str, serializers.ErrorDetail]:
        start_name, end_name = self.date_order
        start, end = self.parsed(data, start_name), self.parsed(data, end_name)
        if start is not None and end is not None and end < start:
            return {end_name: serializers.ErrorDetail(f"Must not be before {start_name}.", code="date_order")}
        return {}


# Output serializers of hot reads: the fields are built once per class (a prototype) instead of
# once per response (DRF deep-copies and rebuilds them for every serializer instance), and each
# row runs only the fields' own `get_attribute` and `to_representation`, as DRF's loop does,
# so the output is the same. A field that reads one column of the model instance straight
# (a model field, or the key of a foreign key as a primary key) reads it with one `getattr`:
# DRF's `get_attribute` costs several calls per value. DRF's own ISO 8601 timestamps look the
# current time zone up once per row, not once per value (2 µs each, through asgiref's Local).
# Only for read-only shapes whose fields ignore `context` (method fields run on the serializer
# in use, so they may read it).
class PrebuiltFieldsMixin:
    _prebuilt: ClassVar[list[tuple[str, Any, str | None, str | None, str | None]]]
    _prebuilt_model: ClassVar[tuple[type[Model], ...]]

    @classmethod
    def prebuilt_fields(cls) -> list[tuple[str, Any, str | None, str | None, str | None]]:
        """(name, field, method name, the model attribute it reads straight, and what that
        attribute holds: `KEY` shown as it is, `TIMESTAMP` (see `_iso_timestamp`), or None)."""
        if "_prebuilt" not in cls.__dict__:
            prototype = cls()
            model = cls.Meta.model if issubclass(cls, serializers.ModelSerializer) else None  # type: ignore[attr-defined]
            cls._prebuilt_model = (model,) if model is not None else ()
            cls._prebuilt = [
                (field.field_name, field, getattr(field, "method_name", None), *_column_of(model, field))
                for field in prototype._readable_fields  # type: ignore[attr-defined]
            ]
        return cls._prebuilt

    def to_representation(self, instance: Any) -> dict[str, Any]:
        ret: dict[str, Any] = {}
        fields = self.prebuilt_fields()
        straight = isinstance(instance, self._prebuilt_model)
        zone = None
        for name, field, method_name, column, kind in fields:
            if straight and column is not None:
                value = getattr(instance, column)
                if value is None or kind is KEY:
                    ret[name] = value
                elif kind is TIMESTAMP:
                    if zone is None:
                        zone = timezone.get_current_timezone()
                    ret[name] = _iso_timestamp(field, value, zone)
                else:
                    ret[name] = field.to_representation(value)
                continue
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                continue
            if method_name is not None:
                ret[name] = getattr(self, method_name)(attribute)
                continue
            check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            ret[name] = None if check_for_none is None else field.to_representation(attribute)
        return ret


KEY, TIMESTAMP = "key", "timestamp"


def _column_of(model: type[Model] | None, field: Any) -> tuple[str | None, str | None]:
    """The attribute of a `model` instance that `field` represents as it is read (a concrete
    column; for a foreign key shown as its primary key, the key's attribute), or None; and
    whether it is such a key (`KEY`) or a timestamp DRF writes in ISO 8601 (`TIMESTAMP`)."""
    if model is None or len(field.source_attrs) != 1:
        return None, None
    try:
        model_field = model._meta.get_field(field.source_attrs[0])
    except FieldDoesNotExist:
        return None, None
    if not isinstance(model_field, Field) or not model_field.concrete or model_field.many_to_many:
        return None, None
    if model_field.is_relation:
        return (model_field.attname, KEY) if _is_plain_pk_field(field) else (None, None)
    if type(field).get_attribute is not _FIELD_GET_ATTRIBUTE:
        return None, None
    return model_field.attname, TIMESTAMP if _is_plain_iso_timestamp(field) else None


def _is_plain_iso_timestamp(field: Any) -> bool:
    kind = type(field)
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    return (
        isinstance(field, serializers.DateTimeField)
        and kind.to_representation is serializers.DateTimeField.to_representation
        and kind.enforce_timezone is serializers.DateTimeField.enforce_timezone
        and kind.default_timezone is serializers.DateTimeField.default_timezone
        and not hasattr(field, "timezone")
        and isinstance(output_format, str)
        and output_format.lower() == ISO_8601
        and django_settings.USE_TZ
    )


def _iso_timestamp(field: Any, value: Any, zone: Any) -> Any:
    """`DateTimeField.to_representation(value)` for an aware datetime, in `zone` (the current
    time zone, which DRF looks up per value); anything else goes through the field."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        return field.to_representation(value)
    try:
        text = value.astimezone(zone).isoformat()
    except OverflowError:
        return field.to_representation(value)
    return text[:-6] + "Z" if text.endswith("+00:00") else text


_FIELD_GET_ATTRIBUTE = serializers.Field.get_attribute


def _is_plain_pk_field(field: Any) -> bool:
    return (
        isinstance(field, PrimaryKeyRelatedField)
        and type(field).get_attribute is PrimaryKeyRelatedField.get_attribute
        and type(field).to_representation is PrimaryKeyRelatedField.to_representation
        and field.pk_field is None
    )
