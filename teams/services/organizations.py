"""Organizations: creating one (its creator becomes the owner), its name and rule parameters, deleting it."""

from collections.abc import Mapping

from django.db import transaction

from alignment_service.access import Access, Role
from alignment_service.activity.services import activity_record
from alignment_service.db import (
    DERIVED_VALUES_LOCK,
    lock_org,
)
from teams import hooks
from teams.models import (
    Membership,
    Organization,
    User,
)


@transaction.atomic
def org_create(*, user: User, name: str, slug: str) -> Organization:
    """Create an organization whose creator is its first owner."""
    org = Organization(name=name, slug=slug)
    org.full_clean()
    org.save()
    Membership.objects.create(organization=org, user=user, role=Role.OWNER)
    activity_record(
        access=Access(org=org, user=user, role=Role.OWNER), verb="org.created", subject_type="org",
        subject_id=org.pk, summary=f"created the organization {org.name}",
    )  # fmt: skip
    return org


@transaction.atomic
def org_update(
    *,
    access: Access,
    name: str | None = None,
    timezone_name: str | None = None,
    settings: Mapping[str, object] | None = None,
) -> Organization:
    lock_org(DERIVED_VALUES_LOCK, access.org.pk)  # new settings may change every derived value
    org = Organization.objects.select_for_update(no_key=True).get(pk=access.org.pk)
    before = {"timezone": org.timezone, **org.effective_settings}
    if name is not None:
        org.name = name
    if timezone_name is not None:
        org.timezone = timezone_name
    if settings:
        org.settings = {**org.settings, **settings}
    org.full_clean()
    org.save()
    after = {"timezone": org.timezone, **org.effective_settings}
    settings_changed = {key for key in after if after[key] != before[key]}
    if settings_changed:
        for handler in hooks.org_settings_changed:
            handler(org=org, changed=settings_changed)
    changed = [name for name, value in (("name", name), ("timezone", timezone_name), ("settings", settings)) if value]
    activity_record(
        access=access, verb="org.updated", subject_type="org", subject_id=org.pk,
        summary=f"changed the organization's {', '.join(changed) or 'nothing'}",
        data={"settings": settings or {}, "timezone": timezone_name},
    )  # fmt: skip
    return org


@transaction.atomic
def org_delete(*, access: Access) -> None:
    access.org.delete()
