"""Serializer pieces shared by every app."""

from typing import Any, ClassVar

from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject


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
# so the output is the same. Only for read-only shapes whose fields ignore `context` (method
# fields run on the serializer in use, so they may read it).
class PrebuiltFieldsMixin:
    _prebuilt: ClassVar[list[tuple[str, Any, str | None]]]

    @classmethod
    def prebuilt_fields(cls) -> list[tuple[str, Any, str | None]]:
        if "_prebuilt" not in cls.__dict__:
            prototype = cls()
            cls._prebuilt = [
                (field.field_name, field, getattr(field, "method_name", None))
                for field in prototype._readable_fields  # type: ignore[attr-defined]
            ]
        return cls._prebuilt

    def to_representation(self, instance: Any) -> dict[str, Any]:
        ret: dict[str, Any] = {}
        for name, field, method_name in self.prebuilt_fields():
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
