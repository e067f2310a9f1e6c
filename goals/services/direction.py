"""The organization's direction: vision, mission and values, in numbered versions."""

from django.db import transaction

from alignment_service.access import Access
from alignment_service.activity.services import activity_record
from goals.models import DirectionVersion
from goals.services.common import check_version
from teams.models import Organization


@transaction.atomic
def direction_update(
    *, access: Access, vision: str, mission: str, values: list[dict[str, str]], expected_version: int | None = None
) -> DirectionVersion:
    """Make a new version of the direction; versions are numbered 1, 2, … per organization."""
    Organization.objects.select_for_update(no_key=True).filter(pk=access.org.pk).first()
    current = DirectionVersion.objects.filter(organization=access.org).order_by("-version").first()
    check_version(current.version if current else 0, expected_version)
    direction = DirectionVersion.objects.create(
        organization=access.org,
        version=(current.version if current else 0) + 1,
        vision=vision,
        mission=mission,
        values=values,
        created_by=access.user,
    )
    activity_record(
        access=access, verb="direction.updated", subject_type="direction", subject_id=direction.version,
        summary=f"published version {direction.version} of the direction",
    )  # fmt: skip
    return direction
