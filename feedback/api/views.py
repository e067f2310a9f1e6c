from typing import Any

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from alignment_service.access import Role, Scope
from alignment_service.api.pagination import CursorPagination
from alignment_service.api.views import OrgScopedViewSet, ServiceCreateMixin
from feedback import selectors, services, steering
from feedback.agenda import agenda, teams_steered_by
from feedback.api import serializers as s
from feedback.api.filters import AssessmentFilter, CheckInFilter, CourseCorrectionFilter, FeedbackFilter, ScoreFilter
from feedback.dashboard import dashboard
from feedback.models import (
    AgendaItemKind,
    Assessment,
    CheckIn,
    CourseCorrection,
    Feedback,
    FeedbackReply,
    GoalpostProposal,
    ScoreJob,
    ScoreSnapshot,
    SteeringDecision,
)
from goals.models import Divergence, Goal
from teams.models import Organization, Team, TeamKind


class ScoreCursorPagination(CursorPagination):
    ordering = ("-computed_at", "-id")


READ_AS_VIEWER_CREATE_AS_MEMBER = {"list": Role.VIEWER, "retrieve": Role.VIEWER, "create": Role.MEMBER}


@extend_schema_view(create=extend_schema(request=s.CheckInCreateSerializer, responses={201: s.CheckInSerializer}))
@extend_schema(tags=["check-ins"])
class CheckInViewSet(ServiceCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Progress notes on goals with the author's confidence that the goal will be met."""

    model = CheckIn
    serializer_class = s.CheckInSerializer
    write_serializer_class = s.CheckInCreateSerializer
    create_service = services.checkin_create
    filterset_class = CheckInFilter
    ordering_fields = ["created_at", "confidence"]
    required_roles = READ_AS_VIEWER_CREATE_AS_MEMBER

    def get_org_queryset(self, org: Organization) -> Any:
        return selectors.checkin_list(org=org)


@extend_schema_view(create=extend_schema(request=s.AssessmentCreateSerializer, responses={201: s.AssessmentSerializer}))
@extend_schema(tags=["assessments"])
class AssessmentViewSet(ServiceCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """The leadership matrix: a leader's alignment and confidence ratings of a team, with the
    quadrant and recommended leadership mode. A team's latest assessment is the one that counts."""

    model = Assessment
    serializer_class = s.AssessmentSerializer
    write_serializer_class = s.AssessmentCreateSerializer
    create_service = services.assessment_create
    filterset_class = AssessmentFilter
    ordering_fields = ["created_at"]
    required_roles = READ_AS_VIEWER_CREATE_AS_MEMBER

    def get_org_queryset(self, org: Organization) -> Any:
        return selectors.assessment_list(org=org)


@extend_schema_view(
    create=extend_schema(request=s.FeedbackCreateSerializer, responses={201: s.FeedbackSerializer}),
    partial_update=extend_schema(request=s.FeedbackUpdateSerializer, responses=s.FeedbackSerializer),
)
@extend_schema(tags=["feedback"])
class FeedbackViewSet(ServiceCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Praise, concerns, ideas and challenges on goals, teams, pillars and the direction."""

    model = Feedback
    serializer_class = s.FeedbackSerializer
    write_serializer_class = s.FeedbackCreateSerializer
    create_service = services.feedback_create
    filterset_class = FeedbackFilter
    ordering_fields = ["created_at", "updated_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    required_roles = {**READ_AS_VIEWER_CREATE_AS_MEMBER, "partial_update": Role.MEMBER}

    def get_org_queryset(self, org: Organization) -> Any:
        return selectors.feedback_list(org=org)

    def partial_update(self, request: Request, org: str, pk: str) -> Response:
        data = s.FeedbackUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        feedback = services.feedback_set_status(access=self.access, feedback=self.get_object(), **data.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=feedback.pk)).data)


@extend_schema_view(
    create=extend_schema(request=s.FeedbackReplyCreateSerializer, responses={201: s.FeedbackReplySerializer})
)
@extend_schema(tags=["feedback"])
class FeedbackReplyViewSet(ServiceCreateMixin, mixins.ListModelMixin, OrgScopedViewSet):
    model = FeedbackReply
    parent_models = {"feedback_pk": Feedback}
    serializer_class = s.FeedbackReplySerializer
    write_serializer_class = s.FeedbackReplyCreateSerializer
    create_service = services.feedback_reply
    ordering_fields = ["created_at"]
    required_roles = {"list": Role.VIEWER, "create": Role.MEMBER}

    @property
    def feedback(self) -> Feedback:
        if not hasattr(self, "_feedback"):
            self._feedback = self.object_in_org(Feedback, self.kwargs["feedback_pk"])
        return self._feedback

    def get_org_queryset(self, org: Organization) -> Any:
        return selectors.reply_list(org=org, feedback=self.feedback)

    def create_kwargs(self, validated: dict[str, Any]) -> dict[str, Any]:
        return {**validated, "feedback": self.feedback}


@extend_schema(tags=["scores"])
class ScoreViewSet(mixins.ListModelMixin, OrgScopedViewSet):
    """Score snapshots, newest first: each one's components add up to its score."""

    model = ScoreSnapshot
    parent_models = {"job_id": ScoreJob}
    serializer_class = s.ScoreSnapshotSerializer
    pagination_class = ScoreCursorPagination
    filterset_class = ScoreFilter
    ordering_fields: list[str] = []
    required_roles = {"list": Role.VIEWER, "recompute": Role.ADMIN, "job": Role.VIEWER}
    required_scopes = {"job": (Scope.READ,)}

    def get_org_queryset(self, org: Organization) -> Any:
        return selectors.score_list(org=org)

    @extend_schema(request=None, responses={202: s.ScoreJobSerializer})
    @action(detail=False, methods=["post"])
    def recompute(self, request: Request, org: str) -> Response:
        job = services.score_job_request(access=self.access)
        return Response(s.ScoreJobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses=s.ScoreJobSerializer,
        parameters=[OpenApiParameter("job_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
    )
    @action(detail=False, methods=["get"], url_path=r"jobs/(?P<job_id>[^/.]+)")
    def job(self, request: Request, org: str, job_id: str) -> Response:
        job = self.object_in_org(ScoreJob, job_id)
        return Response(s.ScoreJobSerializer(job, context={"request": request}).data)


@extend_schema_view(
    create=extend_schema(request=s.CourseCorrectionCreateSerializer, responses={201: s.CourseCorrectionSerializer}),
    partial_update=extend_schema(request=s.CourseCorrectionUpdateSerializer, responses=s.CourseCorrectionSerializer),
)
@extend_schema(tags=["course corrections"])
class CourseCorrectionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Calls to steer, opened by the engine's rules or by a leader (`manual`)."""

    model = CourseCorrection
    serializer_class = s.CourseCorrectionSerializer
    filterset_class = CourseCorrectionFilter
    ordering_fields = ["created_at", "severity", "review_by"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    required_roles = {
        "list": Role.VIEWER, "retrieve": Role.VIEWER, "create": Role.MEMBER, "partial_update": Role.MEMBER,
        "acknowledge": Role.MEMBER, "resolve": Role.MEMBER,
    }  # fmt: skip

    def get_org_queryset(self, org: Organization) -> Any:
        if self.action == "retrieve":
            return selectors.correction_detail_list(org=org)
        return selectors.correction_list(org=org)

    def get_serializer_class(self) -> Any:
        return s.CourseCorrectionDetailSerializer if self.action == "retrieve" else s.CourseCorrectionSerializer

    def create(self, request: Request, org: str) -> Response:
        data = s.CourseCorrectionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        model = Goal if values["subject_type"] == "goal" else Team
        subject = model.objects.filter(organization=self.org, pk=values.pop("subject_id")).first()
        if subject is None:
            raise ValidationError({"subject_id": ["No such goal or team in this organization."]}, code="does_not_exist")
        correction = services.correction_open_manual(access=self.access, subject=subject, **values)
        return Response(self.get_serializer(correction).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, org: str, pk: str) -> Response:
        data = s.CourseCorrectionUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        correction = services.correction_update(access=self.access, correction=self.get_object(), **data.validated_data)
        return Response(self.get_serializer(correction).data)

    @extend_schema(request=None, responses=s.CourseCorrectionSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, org: str, pk: str) -> Response:
        correction = services.correction_acknowledge(access=self.access, correction=self.get_object())
        return Response(self.get_serializer(correction).data)

    @extend_schema(request=s.CourseCorrectionResolveSerializer, responses=s.CourseCorrectionSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, org: str, pk: str) -> Response:
        data = s.CourseCorrectionResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        correction = services.correction_resolve(
            access=self.access, correction=self.get_object(), **data.validated_data
        )
        return Response(self.get_serializer(correction).data)


class DashboardViewSet(OrgScopedViewSet):
    model = ScoreSnapshot
    required_roles = {"retrieve": Role.VIEWER}

    def get_org_queryset(self, org: Organization) -> Any:
        return selectors.score_list(org=org)

    @extend_schema(responses=s.DashboardSerializer, tags=["dashboard"], summary="Everything an all-hands needs")
    def retrieve(self, request: Request, org: str) -> Response:
        return Response(s.DashboardSerializer(dashboard(org=self.org)).data)


class CalibrationViewSet(OrgScopedViewSet):
    model = CheckIn
    required_roles = {"retrieve": Role.VIEWER}

    def get_org_queryset(self, org: Organization) -> Any:
        return selectors.checkin_list(org=org)

    @extend_schema(
        responses=s.CalibrationSerializer, tags=["check-ins"],
        summary="How well check-in confidence foretold the outcomes of ended goals",
    )  # fmt: skip
    def retrieve(self, request: Request, org: str) -> Response:
        return Response(s.CalibrationSerializer(selectors.calibration(org=self.org)).data)


# --- Steering --------------------------------------------------------------------------------


class GoalpostProposalFilter(django_filters.FilterSet):
    metric = django_filters.UUIDFilter(field_name="metric_id")
    status = django_filters.ChoiceFilter(choices=GoalpostProposal.Status.choices)

    class Meta:
        model = GoalpostProposal
        fields = ["metric", "status"]


@extend_schema(tags=["steering"])
class GoalpostProposalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Goalposts moved in the open: proposed moves of a metric's baseline, target or due date,
    visible to every member, approved or rejected by the team's parent lead, a steering-group
    member above the team, or an admin."""

    model = GoalpostProposal
    serializer_class = s.GoalpostProposalSerializer
    filterset_class = GoalpostProposalFilter
    ordering_fields = ["created_at"]
    required_roles = {**READ_AS_VIEWER_CREATE_AS_MEMBER, "approve": Role.MEMBER, "reject": Role.MEMBER}

    def get_org_queryset(self, org: Organization) -> Any:
        return GoalpostProposal.objects.filter(organization=org).order_by("-created_at", "-id")

    @extend_schema(request=s.GoalpostProposalCreateSerializer, responses={201: s.GoalpostProposalSerializer})
    def create(self, request: Request, org: str) -> Response:
        data = s.GoalpostProposalCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        goalposts = steering.Goalposts(
            **{name: values.pop(name) for name in ("baseline", "target", "due_on") if name in values}
        )
        proposal = steering.goalpost_propose(access=self.access, goalposts=goalposts, **values)
        return Response(self.get_serializer(proposal).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.GoalpostDecisionSerializer, responses=s.GoalpostProposalSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, org: str, pk: str) -> Response:
        return self._decide(request, approve=True)

    @extend_schema(request=s.GoalpostDecisionSerializer, responses=s.GoalpostProposalSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, org: str, pk: str) -> Response:
        return self._decide(request, approve=False)

    def _decide(self, request: Request, *, approve: bool) -> Response:
        data = s.GoalpostDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        proposal = steering.goalpost_decide(
            access=self.access, proposal=self.get_object(), approve=approve, note=data.validated_data["note"]
        )
        return Response(self.get_serializer(proposal).data)


class DivergenceFilter(django_filters.FilterSet):
    team = django_filters.UUIDFilter(field_name="team_id")
    status = django_filters.ChoiceFilter(choices=Divergence.Status.choices)

    class Meta:
        model = Divergence
        fields = ["team", "status"]


@extend_schema(tags=["steering"])
class DivergenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Permission to diverge, on record: recorded by a team's lead or an admin while the team's
    latest assessment is `divergence_permitted`, reviewed on its date, closed with its outcome."""

    model = Divergence
    serializer_class = s.DivergenceSerializer
    filterset_class = DivergenceFilter
    ordering_fields = ["created_at", "review_on"]
    required_roles = {**READ_AS_VIEWER_CREATE_AS_MEMBER, "close": Role.MEMBER}

    def get_org_queryset(self, org: Organization) -> Any:
        return Divergence.objects.filter(organization=org).order_by("-created_at", "-id")

    @extend_schema(request=s.DivergenceCreateSerializer, responses={201: s.DivergenceSerializer})
    def create(self, request: Request, org: str) -> Response:
        data = s.DivergenceCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        divergence = steering.divergence_record(access=self.access, **data.validated_data)
        return Response(self.get_serializer(divergence).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.DivergenceCloseSerializer, responses=s.DivergenceSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, org: str, pk: str) -> Response:
        data = s.DivergenceCloseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        divergence = steering.divergence_close(
            access=self.access, divergence=self.get_object(), note=data.validated_data["note"]
        )
        return Response(self.get_serializer(divergence).data)


class SteeringDecisionFilter(django_filters.FilterSet):
    item_kind = django_filters.ChoiceFilter(choices=AgendaItemKind.choices)
    item_id = django_filters.CharFilter()
    team = django_filters.UUIDFilter(field_name="team_id")

    class Meta:
        model = SteeringDecision
        fields = ["item_kind", "item_id", "team"]


@extend_schema(tags=["steering"])
class SteeringDecisionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Decisions on agenda items, with their follow-ups; a follow-up past its date opens a
    `follow_up_overdue` correction."""

    model = SteeringDecision
    serializer_class = s.SteeringDecisionSerializer
    filterset_class = SteeringDecisionFilter
    ordering_fields = ["created_at", "follow_up_on"]
    required_roles = {**READ_AS_VIEWER_CREATE_AS_MEMBER, "complete": Role.MEMBER}

    def get_org_queryset(self, org: Organization) -> Any:
        return SteeringDecision.objects.filter(organization=org).order_by("-created_at", "-id")

    @extend_schema(request=s.SteeringDecisionCreateSerializer, responses={201: s.SteeringDecisionSerializer})
    def create(self, request: Request, org: str) -> Response:
        data = s.SteeringDecisionCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        decision = steering.decision_record(access=self.access, **data.validated_data)
        return Response(self.get_serializer(decision).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.SteeringDecisionSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, org: str, pk: str) -> Response:
        decision = steering.decision_complete_follow_up(access=self.access, decision=self.get_object())
        return Response(self.get_serializer(decision).data)


class SteeringAgendaViewSet(OrgScopedViewSet):
    model = SteeringDecision
    required_roles = {"retrieve": Role.VIEWER}
    ordering_fields: list[str] = []  # ordered by severity, then age
    pagination_class = None  # bounded by what waits for a decision

    def get_org_queryset(self, org: Organization) -> Any:
        return SteeringDecision.objects.filter(organization=org)

    @extend_schema(
        tags=["steering"],
        summary="What waits for a steering group's decision",
        parameters=[
            OpenApiParameter(
                "group",
                OpenApiTypes.UUID,
                description="A steering group: the items of the teams it steers. Without it: the whole "
                "organization for admins, the groups one belongs to for everyone else.",
            )
        ],
        responses=s.AgendaItemSerializer(many=True),
    )
    def retrieve(self, request: Request, org: str) -> Response:
        teams = self._teams(request.query_params.get("group"))
        return Response(s.AgendaItemSerializer(agenda(org=self.org, teams=teams), many=True).data)

    def _teams(self, group_id: str | None) -> set[Any] | None:
        if group_id is not None:
            group = self.object_in_org(Team, group_id)
            if group.kind != TeamKind.STEERING_GROUP:
                raise ValidationError({"group": ["Must be a steering group."]}, code="not_a_steering_group")
            return teams_steered_by(org=self.org, group=group)
        if self.access.is_admin:
            return None
        groups = Team.objects.filter(
            organization=self.org, kind=TeamKind.STEERING_GROUP, team_members__user=self.access.user
        )
        return set().union(*(teams_steered_by(org=self.org, group=group) for group in groups))
