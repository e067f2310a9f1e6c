"""Serializer pieces shared by every app."""

from typing import Any

from rest_framework import serializers


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
