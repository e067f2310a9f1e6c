"""Serializer pieces shared by every app."""

from typing import Any

from rest_framework import serializers


class DateOrderMixin:
    """Checks that `date_order[1]` is not before `date_order[0]` even when other fields fail,
    so a response names every problem at once (DRF runs `validate()` only on valid fields)."""

    date_order: tuple[str, str]

    def to_internal_value(self, data: Any) -> Any:
        errors: dict[str, Any] = {}
        value = None
        try:
            value = super().to_internal_value(data)  # type: ignore[misc]
        except serializers.ValidationError as exc:
            errors = dict(exc.detail) if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        start_name, end_name = self.date_order
        start, end = self._parsed(data, start_name), self._parsed(data, end_name)
        if start is not None and end is not None and end < start and end_name not in errors:
            errors[end_name] = [serializers.ErrorDetail(f"Must not be before {start_name}.", code="date_order")]
        if errors:
            raise serializers.ValidationError(errors)
        return value

    def _parsed(self, data: Any, name: str) -> Any:
        raw = data.get(name) if hasattr(data, "get") else None
        if raw is None:
            return None
        try:
            return self.fields[name].to_internal_value(raw)  # type: ignore[attr-defined]
        except serializers.ValidationError:
            return None
