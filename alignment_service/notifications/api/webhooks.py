"""`/orgs/{org}/webhooks/`: endpoints, their delivery log, redelivery, secret rotation and ping.

Admins only; no API key reads them (the `read` scope reads what a viewer reads). The secret is
returned by the create and rotate-secret responses only.
"""

from typing import TYPE_CHECKING, Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from alignment_service.access import Role
from alignment_service.api.pagination import CursorPagination
from alignment_service.api.views import OrgScopedViewSet
from alignment_service.errors import ValidationFailed
from alignment_service.notifications import selectors, webhook_endpoints
from alignment_service.notifications.api.events import WebhookEventSerializer
from alignment_service.notifications.models import (
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEventType,
)

EVENTS_HELP = "Event types to receive; empty (the default) means every event."

if TYPE_CHECKING:
    from teams.models import Organization


def events_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEventType.choices),
        max_length=len(WebhookEventType),
        help_text=EVENTS_HELP,
        **kwargs,
    )


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = events_field()

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "active", "description", "created_at", "disabled_at", "disabled_reason"]


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret (`whsec_…`), shown only in this response."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookUrlField(serializers.URLField):
    """An http(s) URL without credentials whose host resolves only to public addresses."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        url = super().run_validation(data)
        if url is None or url is serializers.empty:
            return url
        try:
            webhook_endpoints.webhook_url_check(url)
        except ValidationFailed as exc:
            raise serializers.ValidationError(exc.detail, code=exc.code) from None
        return url


class WebhookEndpointCreateSerializer(serializers.Serializer):
    url = WebhookUrlField(max_length=2000)
    events = events_field(required=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class WebhookEndpointUpdateSerializer(serializers.Serializer):
    url = WebhookUrlField(max_length=2000, required=False)
    events = events_field(required=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event = serializers.ChoiceField(source="event_type", choices=WebhookEventType.choices, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event",
            "status",
            "attempts",
            "response_status",
            "next_attempt_at",
            "last_attempt_at",
            "last_error",
            "created_at",
        ]


@extend_schema_field(WebhookEventSerializer)
class WebhookEventField(serializers.JSONField):
    pass


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    payload = WebhookEventField(read_only=True, help_text='The body sent: `{"type", "timestamp", "data"}`.')

    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "payload"]


class WebhookDeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=WebhookDeliveryStatus.choices)
    event = django_filters.ChoiceFilter(field_name="event_type", choices=WebhookEventType.choices)

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event"]


ADMIN_ONLY: dict[str, Role] = {
    "list": Role.ADMIN,
    "retrieve": Role.ADMIN,
    "create": Role.ADMIN,
    "partial_update": Role.ADMIN,
    "destroy": Role.ADMIN,
    "rotate_secret": Role.ADMIN,
    "ping": Role.ADMIN,
    "redeliver": Role.ADMIN,
}


@extend_schema_view(
    create=extend_schema(request=WebhookEndpointCreateSerializer, responses={201: WebhookEndpointWithSecretSerializer}),
    partial_update=extend_schema(request=WebhookEndpointUpdateSerializer, responses=WebhookEndpointSerializer),
    destroy=extend_schema(responses={204: OpenApiResponse(description="Endpoint and its delivery log deleted.")}),
)
@extend_schema(tags=["webhooks"])
class WebhookEndpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Signed webhook endpoints (Standard Webhooks). Deliveries are at least once, retried with
    backoff for about 27 hours; an endpoint that keeps failing, or answers 410, is disabled."""

    model = WebhookEndpoint
    serializer_class = WebhookEndpointSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    ordering_fields = ["created_at", "url"]
    required_roles = ADMIN_ONLY

    def get_org_queryset(self, org: "Organization") -> QuerySet[WebhookEndpoint]:
        return selectors.webhook_endpoint_list(org=org)

    def create(self, request: Request, org: str) -> Response:
        data = WebhookEndpointCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = webhook_endpoints.webhook_endpoint_create(access=self.access, **data.validated_data)
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, org: str, pk: str) -> Response:
        endpoint = self.get_object()
        data = WebhookEndpointUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = webhook_endpoints.webhook_endpoint_update(
            access=self.access, endpoint=endpoint, **data.validated_data
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    def destroy(self, request: Request, org: str, pk: str) -> Response:
        webhook_endpoints.webhook_endpoint_delete(access=self.access, endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=WebhookEndpointWithSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, org: str, pk: str) -> Response:
        """Replace the signing secret, effective for every attempt from now on; the new one is in
        this response only."""
        endpoint = webhook_endpoints.webhook_secret_rotate(access=self.access, endpoint=self.get_object())
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def ping(self, request: Request, org: str, pk: str) -> Response:
        """Send a `webhook.ping` event to this endpoint only; answers with its delivery."""
        delivery = webhook_endpoints.webhook_ping(access=self.access, endpoint=self.get_object())
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")


WEBHOOK_PK = OpenApiParameter("webhook_pk", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The endpoint's id.")


@extend_schema(tags=["webhooks"], parameters=[WEBHOOK_PK])
class WebhookDeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """An endpoint's delivery log, newest first (kept 30 days)."""

    model = WebhookDelivery
    parent_models = {"webhook_pk": WebhookEndpoint}
    serializer_class = WebhookDeliverySerializer
    pagination_class = DeliveryCursorPagination
    filterset_class = WebhookDeliveryFilter
    ordering_fields: list[str] = []
    required_roles = ADMIN_ONLY

    @property
    def endpoint(self) -> WebhookEndpoint:
        if not hasattr(self, "_endpoint"):
            self._endpoint = self.object_in_org(WebhookEndpoint, self.kwargs["webhook_pk"])
        return self._endpoint

    def get_org_queryset(self, org: "Organization") -> QuerySet[WebhookDelivery]:
        return selectors.webhook_delivery_list(org=org, endpoint=self.endpoint)

    def get_serializer_class(self) -> Any:
        return WebhookDeliveryDetailSerializer if self.action == "retrieve" else WebhookDeliverySerializer

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, org: str, webhook_pk: str, pk: str) -> Response:
        """Attempt this delivery again now, with the same event id and payload (succeeded or failed
        deliveries younger than 30 days; otherwise 409)."""
        delivery = webhook_endpoints.webhook_redeliver(access=self.access, delivery=self.get_object())
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
