"""`/orgs/{org}/goalpost-proposals/`, `divergences/`, `steering/decisions/` and `steering/agenda/`."""

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from alignment_service.access import Role
from alignment_service.api.views import READ_AS_VIEWER_CREATE_AS_MEMBER, OrgScopedViewSet
from feedback import steering
from feedback.agenda import agenda, teams_steered_by
from feedback.api.steering_serializers import (
    AgendaItemSerializer,
    DivergenceCloseSerializer,
    DivergenceCreateSerializer,
    DivergenceSerializer,
    GoalpostDecisionSerializer,
    GoalpostProposalCreateSerializer,
    GoalpostProposalSerializer,
    SteeringDecisionCreateSerializer,
    SteeringDecisionSerializer,
)
from feedback.models import (
    AgendaItemKind,
    GoalpostProposal,
    SteeringDecision,
)
from goals.models import Divergence
from teams.models import Organization, Team, TeamKind


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
    serializer_class = GoalpostProposalSerializer
    filterset_class = GoalpostProposalFilter
    ordering_fields = ["created_at"]
    required_roles = {**READ_AS_VIEWER_CREATE_AS_MEMBER, "approve": Role.MEMBER, "reject": Role.MEMBER}

    def get_org_queryset(self, org: Organization) -> QuerySet[GoalpostProposal]:
        return GoalpostProposal.objects.filter(organization=org).order_by("-created_at", "-id")

    @extend_schema(
        request=GoalpostProposalCreateSerializer,
        responses={201: GoalpostProposalSerializer},
    )
    def create(self, request: Request, org: str) -> Response:
        data = GoalpostProposalCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        goalposts = steering.Goalposts(
            **{name: values.pop(name) for name in ("baseline", "target", "due_on") if name in values}
        )
        proposal = steering.goalpost_propose(access=self.access, goalposts=goalposts, **values)
        return Response(self.get_serializer(proposal).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=GoalpostDecisionSerializer,
        responses=GoalpostProposalSerializer,
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, org: str, pk: str) -> Response:
        return self._decide(request, approve=True)

    @extend_schema(
        request=GoalpostDecisionSerializer,
        responses=GoalpostProposalSerializer,
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, org: str, pk: str) -> Response:
        return self._decide(request, approve=False)

    def _decide(self, request: Request, *, approve: bool) -> Response:
        data = GoalpostDecisionSerializer(data=request.data)
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
    serializer_class = DivergenceSerializer
    filterset_class = DivergenceFilter
    ordering_fields = ["created_at", "review_on"]
    required_roles = {**READ_AS_VIEWER_CREATE_AS_MEMBER, "close": Role.MEMBER}

    def get_org_queryset(self, org: Organization) -> QuerySet[Divergence]:
        return Divergence.objects.filter(organization=org).order_by("-created_at", "-id")

    @extend_schema(
        request=DivergenceCreateSerializer,
        responses={201: DivergenceSerializer},
    )
    def create(self, request: Request, org: str) -> Response:
        data = DivergenceCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        divergence = steering.divergence_record(access=self.access, **data.validated_data)
        return Response(self.get_serializer(divergence).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DivergenceCloseSerializer, responses=DivergenceSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, org: str, pk: str) -> Response:
        data = DivergenceCloseSerializer(data=request.data)
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
    serializer_class = SteeringDecisionSerializer
    filterset_class = SteeringDecisionFilter
    ordering_fields = ["created_at", "follow_up_on"]
    required_roles = {**READ_AS_VIEWER_CREATE_AS_MEMBER, "complete": Role.MEMBER}

    def get_org_queryset(self, org: Organization) -> QuerySet[SteeringDecision]:
        return SteeringDecision.objects.filter(organization=org).order_by("-created_at", "-id")

    @extend_schema(
        request=SteeringDecisionCreateSerializer,
        responses={201: SteeringDecisionSerializer},
    )
    def create(self, request: Request, org: str) -> Response:
        data = SteeringDecisionCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        decision = steering.decision_record(access=self.access, **data.validated_data)
        return Response(self.get_serializer(decision).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=SteeringDecisionSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, org: str, pk: str) -> Response:
        decision = steering.decision_complete_follow_up(access=self.access, decision=self.get_object())
        return Response(self.get_serializer(decision).data)


class SteeringAgendaViewSet(OrgScopedViewSet):
    model = SteeringDecision
    required_roles = {"retrieve": Role.VIEWER}
    ordering_fields: list[str] = []  # ordered by severity, then age
    pagination_class = None  # bounded by what waits for a decision

    def get_org_queryset(self, org: Organization) -> QuerySet[SteeringDecision]:
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
        responses=AgendaItemSerializer(many=True),
    )
    def retrieve(self, request: Request, org: str) -> Response:
        teams = self._teams(request.query_params.get("group"))
        return Response(AgendaItemSerializer(agenda(org=self.org, teams=teams), many=True).data)

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
