from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from alignment_service.api.pagination import CursorPagination
from alignment_service.api.views import missing_is_404
from alignment_service.notifications.models import Notification
from alignment_service.notifications.services import notification_mark_read


class NotificationSerializer(serializers.ModelSerializer):
    org = serializers.SlugField(source="organization.slug", read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "org", "kind", "title", "body", "subject_type", "subject_id", "created_at", "read_at"]


@extend_schema(tags=["notifications"])
class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The signed-in person's inbox across organizations, newest first. `?unread=true` filters."""

    serializer_class = NotificationSerializer
    pagination_class = CursorPagination

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        if getattr(self.request.user, "is_api_key", False):
            raise PermissionDenied("API keys have no inbox.")
        queryset = Notification.objects.filter(recipient_id=self.request.user.pk).select_related("organization")
        if self.request.query_params.get("unread") in ("true", "1"):
            queryset = queryset.filter(read_at__isnull=True)
        return queryset

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str) -> Response:
        notification = self.get_object()
        return Response(NotificationSerializer(notification_mark_read(notification=notification)).data)

    def get_object(self) -> Notification:
        with missing_is_404():
            return self.get_queryset().get(pk=self.kwargs["pk"])
