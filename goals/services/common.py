"""The machinery every goals write shares: the activity entry, the derived-values lock, the
owed rescore, the version check and the date rules."""

import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from django.conf import settings
from django.db import transaction

from alignment_service.access import Access
from alignment_service.activity.services import activity_record
from alignment_service.db import DERIVED_VALUES_LOCK, lock_org
from alignment_service.errors import PreconditionFailed, ValidationFailed
from alignment_service.outbox.services import outbox_enqueue
from alignment_service.types import JSONObject, SubjectId
from teams.models import Organization, Team

RESCORE_TASK = "feedback.rescore_org"
T = TypeVar("T")
P = ParamSpec("P")


def record_activity(
    access: Access,
    verb: str,
    subject_type: str,
    subject_id: SubjectId,
    summary: str,
    fields: Mapping[str, object] | None = None,
    *,
    data: JSONObject | None = None,
) -> None:
    """An activity entry with `data`; changed `fields` are listed by name (values may be objects)."""
    data = dict(data or {})
    if fields:
        data["fields"] = sorted(fields)
    strategies = fields.get("strategies") if fields else None
    if isinstance(strategies, list):
        data["strategies"] = [str(pk) for pk in strategies]
    activity_record(
        access=access, verb=verb, subject_type=subject_type, subject_id=subject_id, summary=summary, data=data
    )


def writes_derived_values(service: Callable[P, T]) -> Callable[P, T]:
    """Run `service` atomically, one at a time per organization among the writes that change
    stored progress (see the locking rules in `alignment_service.db`)."""

    @functools.wraps(service)
    @transaction.atomic
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        access: Access = kwargs["access"]  # type: ignore[assignment]
        lock_org(DERIVED_VALUES_LOCK, access.org.pk)
        return service(*args, **kwargs)

    return run


def owe_rescore(
    org: Organization, *, goals: Iterable[UUID | str] | None = None, teams: Iterable[UUID | str] | None = None
) -> None:
    """Record that `org` owes a rescore; pending ones coalesce into one. With `goals` or
    `teams`, of what a change to those can move (their ancestors and teams with them); without,
    of the whole organization."""
    kwargs: dict[str, Any] = {"org_id": str(org.pk)}
    if goals is not None or teams is not None:
        kwargs["goal_ids"] = sorted({str(pk) for pk in goals or ()})
        kwargs["team_ids"] = sorted({str(pk) for pk in teams or ()})
    outbox_enqueue(org=org, task_name=RESCORE_TASK, kwargs=kwargs, dedupe_key=f"rescore:{org.pk}")


def check_version(current: int, expected: int | None) -> None:
    """Refuse a lost update: the client based its change on another version."""
    if expected is not None and expected != current:
        raise PreconditionFailed(f"This was changed meanwhile (now version {current}); reload and retry.")


def is_team_lead(access: Access, team: Team | None) -> bool:
    return team is not None and access.user is not None and team.lead_id == access.user.pk


def check_dates(starts_on: date | None, ends_on: date | None, *, end_attr: str = "due_on") -> None:
    """Dates in order and in the supported range (also when they come from a cycle or goal)."""
    for value, attr in ((starts_on, "starts_on"), (ends_on, end_attr)):
        if value is not None and not settings.DATE_MIN <= value <= settings.DATE_MAX:
            low, high = settings.DATE_MIN.isoformat(), settings.DATE_MAX.isoformat()
            raise ValidationFailed(f"Must be between {low} and {high}.", code="out_of_range", attr=attr)
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        raise ValidationFailed("Must not be before the start date.", code="date_order", attr=end_attr)
