"""Serializer fields shared by every app."""

import math
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import MaxLengthValidator
from django.db.models import Model, QuerySet
from django.utils import timezone
from rest_framework import serializers
from rest_framework.relations import MANY_RELATION_KWARGS, ManyRelatedField

#: The range of a database integer key (PostgreSQL's and SQLite's 64 bits): an id beyond it names
#: nothing, and must not reach the database, which would refuse to take it as a parameter.
KEY_RANGE = range(-(2**63), 2**63)


def beyond_key_range(value: Any) -> bool:
    return isinstance(value, int) and value not in KEY_RANGE


class OrgScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference resolved only inside the organization in the serializer context.

    An id from another organization is indistinguishable from one that does not exist.
    """

    def __init__(self, *, model: type[Model], queryset_for_org: Callable[[Any], QuerySet[Any]], **kwargs: Any) -> None:
        self.model = model
        self.queryset_for_org = queryset_for_org
        super().__init__(**kwargs)

    @classmethod
    def many_init(cls, *args: Any, **kwargs: Any) -> "OrgScopedManyRelatedField":
        max_length = kwargs.pop("max_length", settings.RELATED_IDS_MAX)
        list_kwargs = {key: value for key, value in kwargs.items() if key in MANY_RELATION_KWARGS}
        return OrgScopedManyRelatedField(child_relation=cls(*args, **kwargs), max_length=max_length, **list_kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        return self.queryset_for_org(self.context["org"])

    def to_internal_value(self, data: Any) -> Any:
        if beyond_key_range(data):
            self.fail("does_not_exist", pk_value=data)
        try:
            return super().to_internal_value(data)
        except (ValueError, TypeError):
            self.fail("does_not_exist", pk_value=data)


class OrgScopedManyRelatedField(ManyRelatedField):
    """A list of at most `max_length` ids (`RELATED_IDS_MAX` by default), resolved in one
    query; every id that is not in the organization is named."""

    default_error_messages = {"max_length": "Send at most {max_length} ids."}

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        self.max_length = max_length
        super().__init__(**kwargs)
        self.validators.append(MaxLengthValidator(max_length))  # documents maxItems in the schema

    def to_internal_value(self, data: Any) -> list[Any]:
        if isinstance(data, str | dict) or not isinstance(data, list | tuple):
            self.fail("not_a_list", input_type=type(data).__name__)
        if not self.allow_empty and not data:
            self.fail("empty")
        if len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        child = cast(OrgScopedRelatedField, self.child_relation)
        pks = [self._pk(item) for item in data]
        found = {obj.pk: obj for obj in child.get_queryset().filter(pk__in={pk for pk in pks if pk is not None})}
        missing = list(dict.fromkeys(str(item) for item, pk in zip(data, pks, strict=True) if pk not in found))
        if missing:
            message = child.error_messages["does_not_exist"]
            details = [message.format(pk_value=item[:100]) for item in missing[:100]]
            raise serializers.ValidationError(details, code="does_not_exist")
        return [found[pk] for pk in pks]

    def _pk(self, item: Any) -> Any:
        if isinstance(item, bool | dict | list):
            return None
        try:
            pk = cast(OrgScopedRelatedField, self.child_relation).model._meta.pk.to_python(item)
        except (DjangoValidationError, TypeError, ValueError, AttributeError):
            return None
        return None if beyond_key_range(pk) else pk


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


class NotABooleanMixin:
    """`true` is not a number: DRF's number fields would read it as 1."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool):
            self.fail("invalid")  # type: ignore[attr-defined]
        return super().to_internal_value(data)  # type: ignore[misc]


class IntegerField(NotABooleanMixin, serializers.IntegerField):
    pass


class FloatField(NotABooleanMixin, serializers.FloatField):
    pass


class FiniteFloatField(FloatField):
    """A float of magnitude at most `NUMBER_MAX_MAGNITUDE` (1e15) unless narrower bounds are
    given: no NaN, no ±Infinity, and no finite giant whose sums overflow in derived values."""

    default_error_messages = {"not_finite": "Must be a finite number."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", -settings.NUMBER_MAX_MAGNITUDE)
        kwargs.setdefault("max_value", settings.NUMBER_MAX_MAGNITUDE)
        super().__init__(**kwargs)

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


class SupportedDateField(serializers.DateField):
    """A calendar date in the supported range (`DATE_MIN`..`DATE_MAX`, 1900-01-01..2999-12-31):
    a goal's window and every timestamp derived from it stay far from `date.max`."""

    default_error_messages = {"out_of_range": "Must be between {low} and {high}."}

    def to_internal_value(self, value: Any) -> Any:
        parsed = super().to_internal_value(value)
        if not settings.DATE_MIN <= parsed <= settings.DATE_MAX:
            self.fail("out_of_range", low=settings.DATE_MIN.isoformat(), high=settings.DATE_MAX.isoformat())
        return parsed
