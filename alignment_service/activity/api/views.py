from typing import TYPE_CHECKING, Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers

from alignment_service.access import Role
from alignment_service.activity.models import Activity
from alignment_service.activity.selectors import activity_list
from alignment_service.api.fields import JSONObjectField
from alignment_service.api.filters import AwareDateTimeFilter, UserIdFilter
from alignment_service.api.pagination import CursorPagination
from alignment_service.api.views import OrgScopedViewSet

if TYPE_CHECKING:
    from teams.models import Organization


class ActorSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["user", "api_key"])
    id = serializers.CharField()
    name = serializers.CharField()


class ActivitySerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    data = JSONObjectField(read_only=True, help_text="Details of the change; the keys depend on `verb`.")  # type: ignore[assignment]

    class Meta:
        model = Activity
        fields = ["id", "verb", "subject_type", "subject_id", "summary", "data", "actor", "anonymous", "created_at"]

    @extend_schema_field(ActorSerializer(allow_null=True))
    def get_actor(self, entry: Activity) -> dict[str, Any] | None:
        """Null for the system, and for anonymous entries unless the reader is an admin."""
        if entry.anonymous and not self.context["access"].is_admin:
            return None
        if entry.actor_api_key is not None:
            return {"type": "api_key", "id": str(entry.actor_api_key.pk), "name": entry.actor_api_key.name}
        if entry.actor_user is not None:
            return {"type": "user", "id": str(entry.actor_user.pk), "name": entry.actor_user.username}
        return None


class ActivityFilter(django_filters.FilterSet):
    subject_type = django_filters.CharFilter()
    subject_id = django_filters.CharFilter()
    verb = django_filters.CharFilter()
    actor = UserIdFilter(method="by_actor", help_text="A user id. Anonymous entries never match.")
    api_key = django_filters.UUIDFilter(field_name="actor_api_key_id")
    since = AwareDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Activity
        fields = ["subject_type", "subject_id", "verb", "actor", "api_key", "since"]

    def by_actor(self, queryset: Any, name: str, value: int) -> Any:
        return queryset.filter(actor_user_id=value, anonymous=False)


@extend_schema(tags=["activity"])
class ActivityViewSet(mixins.ListModelMixin, OrgScopedViewSet):
    """Who (or which API key) did what to which subject, and when: newest first."""

    model = Activity
    serializer_class = ActivitySerializer
    pagination_class = CursorPagination
    filterset_class = ActivityFilter
    ordering_fields: list[str] = []
    required_roles = {"list": Role.VIEWER}

    def get_org_queryset(self, org: "Organization") -> QuerySet[Activity]:
        return activity_list(org=org)
