"""Serializer fields shared by every app."""

import math
from collections.abc import Callable
from typing import Any

from django.db.models import Model, QuerySet
from django.utils import timezone
from rest_framework import serializers


class OrgScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference resolved only inside the organization in the serializer context.

    An id from another organization is indistinguishable from one that does not exist.
    """

    def __init__(self, *, model: type[Model], queryset_for_org: Callable[[Any], QuerySet[Any]], **kwargs: Any) -> None:
        self.model = model
        self.queryset_for_org = queryset_for_org
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        return self.queryset_for_org(self.context["org"])

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except (ValueError, TypeError):
            self.fail("does_not_exist", pk_value=data)


class AwareDateTimeField(serializers.DateTimeField):
    """A timestamp that must carry an offset; naive input is refused rather than guessed."""

    default_error_messages = {"naive": "Timestamps must include a UTC offset, e.g. 2026-01-31T09:00:00Z."}

    def to_internal_value(self, value: Any) -> Any:
        parsed = super().to_internal_value(value)
        if isinstance(value, str) and timezone.is_naive(self._parse_raw(value)):
            self.fail("naive")
        return parsed

    @staticmethod
    def _parse_raw(value: str) -> Any:
        from django.utils.dateparse import parse_datetime

        return parse_datetime(value) or timezone.now()


class FiniteFloatField(serializers.FloatField):
    """A float that refuses NaN and ±Infinity, which no column should ever hold."""

    default_error_messages = {"not_finite": "Must be a finite number."}

    def to_internal_value(self, data: Any) -> float:
        try:
            value = super().to_internal_value(data)
        except OverflowError:
            self.fail("not_finite")
        if not math.isfinite(value):
            self.fail("not_finite")
        return value


class ConstField(serializers.CharField):
    """A string that is always `value` (a discriminator, such as a webhook event's `type`)."""

    def __init__(self, *, value: str, **kwargs: Any) -> None:
        self.value = value
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str:
        return self.value


class JSONObjectField(serializers.JSONField):
    """A JSON object whose keys depend on something else (e.g. an activity entry's verb)."""
