from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from alignment_service.access import Role, Scope
from alignment_service.api.pagination import CursorPagination
from alignment_service.api.views import (
    READ_AS_VIEWER_WRITE_AS_ADMIN,
    READ_AS_VIEWER_WRITE_AS_MEMBER,
    OrgScopedViewSet,
    ServiceWriteMixin,
    if_match_version,
    with_etag,
)
from alignment_service.idempotency.services import Outcome, run_idempotently
from goals import ingest, selectors, services
from goals.api import serializers
from goals.api.filters import GoalFilter, MetricFilter, PillarFilter, ReadingFilter
from goals.models import Cycle, DirectionVersion, Goal, Metric, Reading, StrategyPillar
from teams.models import Organization

READINGS = (Scope.READ, Scope.READINGS_WRITE)

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The version you changed, e.g. "3" (412 if stale).',
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Retries with the same key replay the answer.",
)


# Detail reads and updates carry `ETag: "<version>"`; updates honour `If-Match` (412).
class VersionedMixin:
    def retrieve(self: Any, request: Request, org: str, pk: str) -> Response:
        obj = self.get_object()
        return with_etag(Response(self.get_serializer(obj).data), obj.version)

    def update_kwargs(self: Any, data: Any) -> dict[str, Any]:
        return {**data.validated_data, "expected_version": if_match_version(self.request)}


class DirectionViewSet(OrgScopedViewSet):
    """The vision, mission and values. Every PUT makes a new version."""

    model = DirectionVersion
    serializer_class = serializers.DirectionSerializer
    required_roles = {"retrieve": Role.VIEWER, "update": Role.ADMIN, "versions": Role.VIEWER}

    def get_org_queryset(self, org: Organization) -> QuerySet[DirectionVersion]:
        return selectors.direction_versions(org=org)

    @extend_schema(responses=serializers.DirectionSerializer, tags=["direction"])
    def retrieve(self, request: Request, org: str) -> Response:
        data = serializers.DirectionSerializer.from_version(selectors.direction_current(org=self.org))
        return with_etag(Response(serializers.DirectionSerializer(data).data), data["version"])

    @extend_schema(
        request=serializers.DirectionUpdateSerializer,
        responses=serializers.DirectionSerializer,
        parameters=[IF_MATCH],
        tags=["direction"],
    )
    def update(self, request: Request, org: str) -> Response:
        data = serializers.DirectionUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        expected = values.pop("version", None)
        header_version = if_match_version(request)
        version = services.direction_update(
            access=self.access, expected_version=header_version if header_version is not None else expected, **values
        )
        body = serializers.DirectionSerializer(serializers.DirectionSerializer.from_version(version)).data
        return with_etag(Response(body), version.version)

    @extend_schema(responses=serializers.DirectionSerializer(many=True), tags=["direction"])
    def versions(self, request: Request, org: str) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        items = [serializers.DirectionSerializer.from_version(version) for version in page or []]
        return self.get_paginated_response(serializers.DirectionSerializer(items, many=True).data)


@extend_schema_view(
    create=extend_schema(request=serializers.PillarWriteSerializer, responses={201: serializers.PillarSerializer}),
    update=extend_schema(request=serializers.PillarWriteSerializer),
    partial_update=extend_schema(request=serializers.PillarWriteSerializer),
)
@extend_schema(tags=["strategy"])
class PillarViewSet(
    ServiceWriteMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, OrgScopedViewSet
):
    """Strategy pillars: company-wide (admins) or a team's area strategy (its lead)."""

    model = StrategyPillar
    serializer_class = serializers.PillarSerializer
    write_serializer_class = serializers.PillarWriteSerializer
    create_service = services.pillar_create
    update_service = services.pillar_update
    delete_service = services.pillar_delete
    object_kwarg = "pillar"
    filterset_class = PillarFilter
    ordering_fields = ["title", "created_at"]
    required_roles = READ_AS_VIEWER_WRITE_AS_MEMBER

    def get_org_queryset(self, org: Organization) -> QuerySet[StrategyPillar]:
        return selectors.pillar_list(org=org)


@extend_schema_view(
    create=extend_schema(request=serializers.CycleWriteSerializer, responses={201: serializers.CycleSerializer}),
    update=extend_schema(request=serializers.CycleWriteSerializer),
    partial_update=extend_schema(request=serializers.CycleWriteSerializer),
)
@extend_schema(tags=["strategy"])
class CycleViewSet(
    ServiceWriteMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, OrgScopedViewSet
):
    model = Cycle
    serializer_class = serializers.CycleSerializer
    write_serializer_class = serializers.CycleWriteSerializer
    create_service = services.cycle_create
    update_service = services.cycle_update
    delete_service = services.cycle_delete
    object_kwarg = "cycle"
    ordering_fields = ["starts_on", "name"]
    required_roles = READ_AS_VIEWER_WRITE_AS_ADMIN

    def get_org_queryset(self, org: Organization) -> QuerySet[Cycle]:
        return selectors.cycle_list(org=org)


@extend_schema_view(
    create=extend_schema(request=serializers.GoalWriteSerializer, responses={201: serializers.GoalSerializer}),
    update=extend_schema(request=serializers.GoalWriteSerializer, parameters=[IF_MATCH]),
    partial_update=extend_schema(request=serializers.GoalWriteSerializer, parameters=[IF_MATCH]),
)
@extend_schema(tags=["goals"])
class GoalViewSet(
    VersionedMixin,
    ServiceWriteMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    OrgScopedViewSet,
):
    """Company and team goals with progress, expected progress and health, read-your-writes."""

    model = Goal
    serializer_class = serializers.GoalSerializer
    write_serializer_class = serializers.GoalWriteSerializer
    create_service = services.goal_create
    update_service = services.goal_update
    delete_service = services.goal_delete
    object_kwarg = "goal"
    filterset_class = GoalFilter
    ordering_fields = ["due_on", "starts_on", "title", "created_at", "updated_at", "progress", "weight"]
    required_roles = READ_AS_VIEWER_WRITE_AS_MEMBER

    def get_org_queryset(self, org: Organization) -> QuerySet[Goal]:
        return selectors.goal_list(org=org)


@extend_schema_view(
    create=extend_schema(request=serializers.MetricWriteSerializer, responses={201: serializers.MetricSerializer}),
    update=extend_schema(request=serializers.MetricWriteSerializer, parameters=[IF_MATCH]),
    partial_update=extend_schema(request=serializers.MetricWriteSerializer, parameters=[IF_MATCH]),
)
@extend_schema(tags=["metrics"])
class MetricViewSet(
    VersionedMixin,
    ServiceWriteMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    OrgScopedViewSet,
):
    """Key results. A moved baseline or target is kept in `/metrics/{id}/history/`."""

    model = Metric
    serializer_class = serializers.MetricSerializer
    write_serializer_class = serializers.MetricWriteSerializer
    create_service = services.metric_create
    update_service = services.metric_update
    delete_service = services.metric_delete
    object_kwarg = "metric"
    filterset_class = MetricFilter
    ordering_fields = ["name", "key", "created_at", "last_reading_at", "progress"]
    required_roles = {**READ_AS_VIEWER_WRITE_AS_MEMBER, "history": Role.VIEWER}
    required_scopes = {"list": READINGS, "retrieve": READINGS, "history": READINGS}

    def get_org_queryset(self, org: Organization) -> QuerySet[Metric]:
        return selectors.metric_list(org=org)

    def create_kwargs(self, validated: dict[str, Any]) -> dict[str, Any]:
        validated.pop("reason", None)  # a reason explains a moved goalpost; a new metric has none
        return validated

    @extend_schema(responses=serializers.MetricChangeSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request: Request, org: str, pk: str) -> Response:
        changes = selectors.metric_history(org=self.org, metric=self.get_object())
        page = self.paginate_queryset(changes)
        return self.get_paginated_response(serializers.MetricChangeSerializer(page, many=True).data)


class ReadingCursorPagination(CursorPagination):
    ordering = ("-observed_at", "-id")


@extend_schema(tags=["readings"])
class ReadingViewSet(mixins.ListModelMixin, OrgScopedViewSet):
    """A metric's readings, newest first. POSTing the same observed_at again replaces the value."""

    model = Reading
    parent_models = {"metric_pk": Metric}
    serializer_class = serializers.ReadingSerializer
    pagination_class = ReadingCursorPagination
    filterset_class = ReadingFilter
    ordering_fields: list[str] = []
    required_roles = {"list": Role.VIEWER, "create": Role.MEMBER}
    required_scopes = {"list": READINGS, "create": (Scope.READINGS_WRITE,)}

    def get_org_queryset(self, org: Organization) -> QuerySet[Reading]:
        return selectors.reading_list(org=org, metric=self.metric)

    @property
    def metric(self) -> Metric:
        if not hasattr(self, "_metric"):
            self._metric = self.object_in_org(Metric, self.kwargs["metric_pk"])
        return self._metric

    @extend_schema(
        request=serializers.ReadingWriteSerializer,
        responses={
            201: serializers.ReadingSerializer,
            200: OpenApiResponse(serializers.ReadingSerializer, description="Replaced."),
        },
    )
    def create(self, request: Request, org: str, metric_pk: str) -> Response:
        data = serializers.ReadingWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reading, created = services.reading_record(
            access=self.access, reading=services.ReadingInput(metric=self.metric, **data.validated_data)
        )
        return Response(
            serializers.ReadingSerializer(reading).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ReadingBatchViewSet(OrgScopedViewSet):
    model = Reading
    required_roles = {"create": Role.MEMBER}
    required_scopes = {"create": (Scope.READINGS_WRITE,)}

    def get_org_queryset(self, org: Organization) -> QuerySet[Reading]:
        return Reading.objects.none()

    @extend_schema(
        request=serializers.ReadingBatchSerializer,
        responses={200: serializers.ReadingBatchResultSerializer},
        parameters=[IDEMPOTENCY_KEY],
        tags=["readings"],
        summary="Ingest up to 10,000 readings, all or nothing",
    )
    def create(self, request: Request, org: str) -> Response:
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return self._respond(self._ingest(request.data))
        outcome = run_idempotently(
            org=self.org,
            credential=self.access.credential_id,
            key=key[:255],
            body=request.data,
            operation=lambda: self._ingest(request.data),
        )
        return self._respond(outcome)

    def _ingest(self, payload: Any) -> Outcome:
        readings = ingest.parse_batch(org=self.org, payload=payload)
        created, updated = services.readings_ingest(access=self.access, readings=readings)
        return Outcome(status=status.HTTP_200_OK, body={"created": created, "updated": updated})

    @staticmethod
    def _respond(outcome: Outcome) -> Response:
        response = Response(outcome.body, status=outcome.status)
        if outcome.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class AlignmentTreeViewSet(OrgScopedViewSet):
    model = Goal
    required_roles = {"retrieve": Role.VIEWER}

    def get_org_queryset(self, org: Organization) -> QuerySet[Goal]:
        return selectors.goal_list(org=org)

    @extend_schema(
        responses=serializers.AlignmentTreeSerializer, tags=["goals"], summary="The whole cascade in one response"
    )
    def retrieve(self, request: Request, org: str) -> Response:
        tree = selectors.alignment_tree(org=self.org)
        tree["direction"] = serializers.DirectionSerializer.from_version(tree["direction"])
        return Response(serializers.AlignmentTreeSerializer(tree).data)
