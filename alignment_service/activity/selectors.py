from typing import Any

from django.db.models import QuerySet

from alignment_service.activity.models import Activity


def activity_list(*, org: Any) -> QuerySet[Activity]:
    return Activity.objects.filter(organization=org).select_related("actor_user", "actor_api_key")
