"""Cycles: the named periods that goals take their dates from."""

from datetime import date
from uuid import UUID

from django.db import transaction

from alignment_service.access import Access
from alignment_service.db import delete_or_conflict
from alignment_service.errors import ValidationFailed
from alignment_service.unset import UNSET, NotGiven, given
from goals.models import Cycle
from goals.services.common import check_dates, record_activity
from teams.models import Organization


@transaction.atomic
def cycle_create(*, access: Access, name: str, starts_on: date, ends_on: date) -> Cycle:
    check_dates(starts_on, ends_on, end_attr="ends_on")
    _check_unique_cycle_name(access.org, name)
    cycle = Cycle.objects.create(organization=access.org, name=name, starts_on=starts_on, ends_on=ends_on)
    record_activity(access, "cycle.created", "cycle", cycle.pk, f"created cycle {cycle.name}")
    return cycle


@transaction.atomic
def cycle_update(
    *,
    access: Access,
    cycle: Cycle,
    name: str | NotGiven = UNSET,
    starts_on: date | NotGiven = UNSET,
    ends_on: date | NotGiven = UNSET,
) -> Cycle:
    """Change the fields passed; a field left `UNSET` keeps its value."""
    fields = given(name=name, starts_on=starts_on, ends_on=ends_on)
    check_dates(fields.get("starts_on", cycle.starts_on), fields.get("ends_on", cycle.ends_on), end_attr="ends_on")
    if name is not UNSET:
        _check_unique_cycle_name(access.org, name, exclude=cycle.pk)
    for name, value in fields.items():
        setattr(cycle, name, value)
    cycle.save()
    record_activity(access, "cycle.updated", "cycle", cycle.pk, f"updated cycle {cycle.name}", fields)
    return cycle


def _check_unique_cycle_name(org: Organization, name: str, exclude: UUID | None = None) -> None:
    same_name = Cycle.objects.filter(organization=org, name=name)
    if exclude is not None:
        same_name = same_name.exclude(pk=exclude)
    if same_name.exists():
        raise ValidationFailed("A cycle with this name already exists.", code="unique", attr="name")


@transaction.atomic
def cycle_delete(*, access: Access, cycle: Cycle) -> None:
    cycle_id, name = cycle.pk, cycle.name
    delete_or_conflict(cycle, "Goals use this cycle; move them first.", code="cycle_in_use")
    record_activity(access, "cycle.deleted", "cycle", cycle_id, f"deleted cycle {name}")
