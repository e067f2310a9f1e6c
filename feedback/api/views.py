from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from alignment_service.access import Role, Scope
from alignment_service.api.pagination import CursorPagination
from alignment_service.api.views import READ_AS_VIEWER_CREATE_AS_MEMBER, OrgScopedViewSet, ServiceCreateMixin
from feedback import selectors, services
from feedback.api import serializers
from feedback.api.filters import AssessmentFilter, CheckInFilter, CourseCorrectionFilter, FeedbackFilter, ScoreFilter
from feedback.dashboard import dashboard
from feedback.models import (
    Assessment,
    CheckIn,
    CourseCorrection,
    Feedback,
    FeedbackReply,
    ScoreJob,
    ScoreSnapshot,
    SubjectType,
)
from goals.models import Goal
from teams.models import Organization, Team


class ScoreCursorPagination(CursorPagination):
    ordering = ("-computed_at", "-id")


@extend_schema_view(
    create=extend_schema(request=serializers.CheckInCreateSerializer, responses={201: serializers.CheckInSerializer})
)
@extend_schema(tags=["check-ins"])
class CheckInViewSet(ServiceCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Progress notes on goals with the author's confidence that the goal will be met."""

    model = CheckIn
    serializer_class = serializers.CheckInSerializer
    write_serializer_class = serializers.CheckInCreateSerializer
    create_service = services.checkin_create
    filterset_class = CheckInFilter
    ordering_fields = ["created_at", "confidence"]
    required_roles = READ_AS_VIEWER_CREATE_AS_MEMBER

    def get_org_queryset(self, org: Organization) -> QuerySet[CheckIn]:
        return selectors.checkin_list(org=org)


@extend_schema_view(
    create=extend_schema(
        request=serializers.AssessmentCreateSerializer, responses={201: serializers.AssessmentSerializer}
    )
)
@extend_schema(tags=["assessments"])
class AssessmentViewSet(ServiceCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """The leadership matrix: a leader's alignment and confidence ratings of a team, with the
    quadrant and recommended leadership mode. A team's latest assessment is the one that counts."""

    model = Assessment
    serializer_class = serializers.AssessmentSerializer
    write_serializer_class = serializers.AssessmentCreateSerializer
    create_service = services.assessment_create
    filterset_class = AssessmentFilter
    ordering_fields = ["created_at"]
    required_roles = READ_AS_VIEWER_CREATE_AS_MEMBER

    def get_org_queryset(self, org: Organization) -> QuerySet[Assessment]:
        return selectors.assessment_list(org=org)


@extend_schema_view(
    create=extend_schema(request=serializers.FeedbackCreateSerializer, responses={201: serializers.FeedbackSerializer}),
    partial_update=extend_schema(
        request=serializers.FeedbackUpdateSerializer, responses=serializers.FeedbackSerializer
    ),
)
@extend_schema(tags=["feedback"])
class FeedbackViewSet(ServiceCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Praise, concerns, ideas and challenges on goals, teams, pillars and the direction."""

    model = Feedback
    serializer_class = serializers.FeedbackSerializer
    write_serializer_class = serializers.FeedbackCreateSerializer
    create_service = services.feedback_create
    filterset_class = FeedbackFilter
    ordering_fields = ["created_at", "updated_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    required_roles = {**READ_AS_VIEWER_CREATE_AS_MEMBER, "partial_update": Role.MEMBER}

    def get_org_queryset(self, org: Organization) -> QuerySet[Feedback]:
        return selectors.feedback_list(org=org)

    def partial_update(self, request: Request, org: str, pk: str) -> Response:
        data = serializers.FeedbackUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        feedback = services.feedback_set_status(access=self.access, feedback=self.get_object(), **data.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=feedback.pk)).data)


@extend_schema_view(
    create=extend_schema(
        request=serializers.FeedbackReplyCreateSerializer, responses={201: serializers.FeedbackReplySerializer}
    )
)
@extend_schema(tags=["feedback"])
class FeedbackReplyViewSet(ServiceCreateMixin, mixins.ListModelMixin, OrgScopedViewSet):
    model = FeedbackReply
    parent_models = {"feedback_pk": Feedback}
    serializer_class = serializers.FeedbackReplySerializer
    write_serializer_class = serializers.FeedbackReplyCreateSerializer
    create_service = services.feedback_reply
    ordering_fields = ["created_at"]
    required_roles = {"list": Role.VIEWER, "create": Role.MEMBER}

    @property
    def feedback(self) -> Feedback:
        if not hasattr(self, "_feedback"):
            self._feedback = self.object_in_org(Feedback, self.kwargs["feedback_pk"])
        return self._feedback

    def get_org_queryset(self, org: Organization) -> QuerySet[FeedbackReply]:
        return selectors.reply_list(org=org, feedback=self.feedback)

    def create_kwargs(self, validated: dict[str, Any]) -> dict[str, Any]:
        return {**validated, "feedback": self.feedback}


@extend_schema(tags=["scores"])
class ScoreViewSet(mixins.ListModelMixin, OrgScopedViewSet):
    """Score snapshots, newest first: each one's components add up to its score."""

    model = ScoreSnapshot
    parent_models = {"job_id": ScoreJob}
    serializer_class = serializers.ScoreSnapshotSerializer
    pagination_class = ScoreCursorPagination
    filterset_class = ScoreFilter
    ordering_fields: list[str] = []
    required_roles = {"list": Role.VIEWER, "recompute": Role.ADMIN, "job": Role.VIEWER}
    required_scopes = {"job": (Scope.READ,)}

    def get_org_queryset(self, org: Organization) -> QuerySet[ScoreSnapshot]:
        return selectors.score_list(org=org)

    @extend_schema(request=None, responses={202: serializers.ScoreJobSerializer})
    @action(detail=False, methods=["post"])
    def recompute(self, request: Request, org: str) -> Response:
        job = services.score_job_request(access=self.access)
        return Response(
            serializers.ScoreJobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(
        responses=serializers.ScoreJobSerializer,
        parameters=[OpenApiParameter("job_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
    )
    @action(detail=False, methods=["get"], url_path=r"jobs/(?P<job_id>[^/.]+)")
    def job(self, request: Request, org: str, job_id: str) -> Response:
        job = self.object_in_org(ScoreJob, job_id)
        return Response(serializers.ScoreJobSerializer(job, context={"request": request}).data)


@extend_schema_view(
    create=extend_schema(
        request=serializers.CourseCorrectionCreateSerializer, responses={201: serializers.CourseCorrectionSerializer}
    ),
    partial_update=extend_schema(
        request=serializers.CourseCorrectionUpdateSerializer, responses=serializers.CourseCorrectionSerializer
    ),
)
@extend_schema(tags=["course corrections"])
class CourseCorrectionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Calls to steer, opened by the engine's rules or by a leader (`manual`)."""

    model = CourseCorrection
    serializer_class = serializers.CourseCorrectionSerializer
    filterset_class = CourseCorrectionFilter
    ordering_fields = ["created_at", "severity", "review_by"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    required_roles = {
        "list": Role.VIEWER, "retrieve": Role.VIEWER, "create": Role.MEMBER, "partial_update": Role.MEMBER,
        "acknowledge": Role.MEMBER, "resolve": Role.MEMBER,
    }  # fmt: skip

    def get_org_queryset(self, org: Organization) -> QuerySet[CourseCorrection]:
        if self.action == "retrieve":
            return selectors.correction_detail_list(org=org)
        return selectors.correction_list(org=org)

    def get_serializer_class(self) -> Any:
        return (
            serializers.CourseCorrectionDetailSerializer
            if self.action == "retrieve"
            else serializers.CourseCorrectionSerializer
        )

    def create(self, request: Request, org: str) -> Response:
        data = serializers.CourseCorrectionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        model = Goal if values["subject_type"] == SubjectType.GOAL else Team
        subject = model.objects.filter(organization=self.org, pk=values.pop("subject_id")).first()
        if subject is None:
            raise ValidationError({"subject_id": ["No such goal or team in this organization."]}, code="does_not_exist")
        correction = services.correction_open_manual(access=self.access, subject=subject, **values)
        return Response(self.get_serializer(correction).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, org: str, pk: str) -> Response:
        data = serializers.CourseCorrectionUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        correction = services.correction_update(access=self.access, correction=self.get_object(), **data.validated_data)
        return Response(self.get_serializer(correction).data)

    @extend_schema(request=None, responses=serializers.CourseCorrectionSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, org: str, pk: str) -> Response:
        correction = services.correction_acknowledge(access=self.access, correction=self.get_object())
        return Response(self.get_serializer(correction).data)

    @extend_schema(
        request=serializers.CourseCorrectionResolveSerializer, responses=serializers.CourseCorrectionSerializer
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, org: str, pk: str) -> Response:
        data = serializers.CourseCorrectionResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        correction = services.correction_resolve(
            access=self.access, correction=self.get_object(), **data.validated_data
        )
        return Response(self.get_serializer(correction).data)


class DashboardViewSet(OrgScopedViewSet):
    model = ScoreSnapshot
    required_roles = {"retrieve": Role.VIEWER}

    def get_org_queryset(self, org: Organization) -> QuerySet[ScoreSnapshot]:
        return selectors.score_list(org=org)

    @extend_schema(
        responses=serializers.DashboardSerializer, tags=["dashboard"], summary="Everything an all-hands needs"
    )
    def retrieve(self, request: Request, org: str) -> Response:
        return Response(serializers.DashboardSerializer(dashboard(org=self.org)).data)


class CalibrationViewSet(OrgScopedViewSet):
    model = CheckIn
    required_roles = {"retrieve": Role.VIEWER}

    def get_org_queryset(self, org: Organization) -> QuerySet[CheckIn]:
        return selectors.checkin_list(org=org)

    @extend_schema(
        responses=serializers.CalibrationSerializer, tags=["check-ins"],
        summary="How well check-in confidence foretold the outcomes of ended goals",
    )  # fmt: skip
    def retrieve(self, request: Request, org: str) -> Response:
        return Response(serializers.CalibrationSerializer(selectors.calibration(org=self.org)).data)
