"""Serializer pieces shared by every app."""

from typing import Any, ClassVar

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Field, Model
from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject, PrimaryKeyRelatedField


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
# DRF's `get_attribute` costs several calls per value. Only for read-only shapes whose fields
# ignore `context` (method fields run on the serializer in use, so they may read it).
class PrebuiltFieldsMixin:
    _prebuilt: ClassVar[list[tuple[str, Any, str | None, str | None, bool]]]
    _prebuilt_model: ClassVar[tuple[type[Model], ...]]

    @classmethod
    def prebuilt_fields(cls) -> list[tuple[str, Any, str | None, str | None, bool]]:
        """(name, field, method name, the model attribute it reads straight, whether that is a key)."""
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
        for name, field, method_name, column, is_key in fields:
            if straight and column is not None:
                value = getattr(instance, column)
                ret[name] = value if value is None or is_key else field.to_representation(value)
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


def _column_of(model: type[Model] | None, field: Any) -> tuple[str | None, bool]:
    """The attribute of a `model` instance that `field` represents as it is read (a concrete
    column; for a foreign key shown as its primary key, the key's attribute), or None."""
    if model is None or len(field.source_attrs) != 1:
        return None, False
    try:
        model_field = model._meta.get_field(field.source_attrs[0])
    except FieldDoesNotExist:
        return None, False
    if not isinstance(model_field, Field) or not model_field.concrete or model_field.many_to_many:
        return None, False
    if model_field.is_relation:
        return (model_field.attname, True) if _is_plain_pk_field(field) else (None, False)
    return (model_field.attname, False) if type(field).get_attribute is _FIELD_GET_ATTRIBUTE else (None, False)


_FIELD_GET_ATTRIBUTE = serializers.Field.get_attribute


def _is_plain_pk_field(field: Any) -> bool:
    return (
        isinstance(field, PrimaryKeyRelatedField)
        and type(field).get_attribute is PrimaryKeyRelatedField.get_attribute
        and type(field).to_representation is PrimaryKeyRelatedField.to_representation
        and field.pk_field is None
    )
