"""Filter pieces shared by every app."""

from datetime import UTC
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, filters
from rest_framework.request import Request


class AwareDateTimeFormField(forms.DateTimeField):
    """An aware timestamp, converted to UTC: PostgreSQL refuses offsets beyond ±15:59, which
    Python accepts (`-18:35`), so a query must never carry the offset as sent."""

    default_error_messages = {
        "naive": "Timestamps must include a UTC offset, e.g. 2026-01-31T09:00:00Z.",
        "out_of_range": "This timestamp is out of range.",
    }

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            from django.utils.dateparse import parse_datetime

            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and timezone.is_naive(parsed):
                raise forms.ValidationError(self.error_messages["naive"], code="naive")
        result = super().to_python(value)
        if result is None:
            return None
        try:
            return result.astimezone(UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range") from None


class AwareDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 timestamp filter that refuses timestamps without an offset."""

    field_class = AwareDateTimeFormField


@extend_schema_field(OpenApiTypes.INT)
class UserIdFilter(django_filters.NumberFilter):
    """A user id (an integer; `1.5` or `abc` is a 400)."""

    field_class = forms.IntegerField


class StrictOrderingFilter(filters.OrderingFilter):
    """`?ordering=a,-b` (or `?ordering=a&ordering=-b`) over the view's declared fields; an
    unknown field is a 400 naming it, not silently ignored."""

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        given = [f.strip() for value in request.query_params.getlist(self.ordering_param) for f in value.split(",")]
        given = [field for field in given if field]
        if not given:
            return self.get_default_ordering(view)
        allowed = self.allowed_fields(queryset, view, request)
        unknown = [field for field in given if field.lstrip("-") not in allowed]
        if unknown:
            choices = ", ".join(sorted(allowed)) or "none"
            raise exceptions.ValidationError(
                {self.ordering_param: [f"Unknown ordering field '{field}'; one of: {choices}." for field in unknown]},
                code="invalid_choice",
            )
        return given

    def allowed_fields(self, queryset: QuerySet[Any], view: Any, request: Request | None = None) -> list[str]:
        return [name for name, _ in self.get_valid_fields(queryset, view, {"request": request})]

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        fields = self.allowed_fields(view.get_queryset(), view)
        if not fields:
            return []
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Sort by these fields, in order; `-` first for descending.",
                "schema": {"type": "array", "items": ordering_items(fields)},
                "style": "form",
                "explode": False,
            }
        ]


def ordering_items(fields: list[str]) -> dict[str, Any]:
    """Each field ascending and (`-field`) descending; `x-enum-varnames` gives generated
    clients readable names (`DUE_ON_DESC`) for values that are not identifiers."""
    choices = [(field, field.upper()) for field in fields] + [
        (f"-{field}", f"{field.upper()}_DESC") for field in fields
    ]
    return {"type": "string", "enum": [value for value, _ in choices], "x-enum-varnames": [name for _, name in choices]}


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, skipped when no query parameter names one of the view's filters:
    binding and validating a form of empty fields per request costs more than the page's SQL,
    and every filter leaves a queryset alone when its value is empty."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        names = filterset_class.base_filters
        if not any(param.startswith(name) for param in request.query_params for name in names):
            return queryset
        return super().filter_queryset(request, queryset, view)
