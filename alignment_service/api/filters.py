"""Filter pieces shared by every app."""

from typing import Any

import django_filters
from django import forms
from django.utils import timezone


class AwareDateTimeFormField(forms.DateTimeField):
    default_error_messages = {"naive": "Timestamps must include a UTC offset, e.g. 2026-01-31T09:00:00Z."}

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            from django.utils.dateparse import parse_datetime

            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and timezone.is_naive(parsed):
                raise forms.ValidationError(self.error_messages["naive"], code="naive")
        return super().to_python(value)


class AwareDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 timestamp filter that refuses timestamps without an offset."""

    field_class = AwareDateTimeFormField
