from typing import Any

from django.contrib.auth import authenticate
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alignment_service.access import Role
from alignment_service.api.throttling import CredentialsRateThrottle
from alignment_service.api.views import READ_AS_VIEWER_WRITE_AS_ADMIN, OrgScopedViewSet, missing_is_404
from teams import selectors, services
from teams.api import serializers
from teams.api.filters import InvitationFilter, TeamFilter
from teams.models import ApiKey, AuthToken, Invitation, Membership, Organization, Team, User


def signed_in_user(request: Request) -> User:
    """The person behind the request; API keys are refused where only people may act."""
    if not isinstance(request.user, User):
        raise PermissionDenied("Only a signed-in user can do this, not an API key.")
    return request.user


class SignupView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [CredentialsRateThrottle]

    @extend_schema(request=serializers.SignupSerializer, responses={201: serializers.UserSerializer}, tags=["accounts"])
    def post(self, request: Request) -> Response:
        data = serializers.SignupSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_signup(**data.validated_data)
        return Response(serializers.UserSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenView(APIView):
    """Create a bearer token from a username (or email) and password, or revoke the current one."""

    def _is_sign_in(self) -> bool:
        return getattr(self.request, "method", None) == "POST"

    def get_permissions(self) -> list[Any]:
        return [AllowAny()] if self._is_sign_in() else [IsAuthenticated()]

    def get_authenticators(self) -> list[Any]:
        return [] if self._is_sign_in() else super().get_authenticators()

    def get_throttles(self) -> list[Any]:
        return [CredentialsRateThrottle()] if self._is_sign_in() else super().get_throttles()

    @extend_schema(
        request=serializers.TokenCreateSerializer,
        responses={201: serializers.TokenSerializer},
        auth=[],
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        data = serializers.TokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = self._authenticate(**data.validated_data)
        token, secret = services.auth_token_create(user=user)
        return Response(
            serializers.TokenSerializer({"token": secret, "expires_at": token.expires_at}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Token revoked.")}, tags=["accounts"])
    def delete(self, request: Request) -> Response:
        if not isinstance(request.auth, AuthToken):
            raise ValidationError({"non_field_errors": ["Only a user token can be revoked here."]}, code="not_a_token")
        services.auth_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _authenticate(self, *, username: str, password: str) -> User:
        found = selectors.user_by_username_or_email(identifier=username)
        username = found.username if found else username
        user = authenticate(self.request._request, username=username, password=password)
        if user is None:
            raise ValidationError(
                {"non_field_errors": ["Unable to sign in with these credentials."]}, code="invalid_credentials"
            )
        return user


class MeView(APIView):
    @extend_schema(responses=serializers.MeSerializer, tags=["accounts"])
    def get(self, request: Request) -> Response:
        user = signed_in_user(request)
        me = {"id": user.pk, "username": user.username, "email": user.email}
        return Response(serializers.MeSerializer({**me, "memberships": selectors.memberships_for_user(user=user)}).data)


@extend_schema_view(
    list=extend_schema(summary="Organizations I belong to", tags=["organizations"]),
    create=extend_schema(
        request=serializers.OrganizationCreateSerializer,
        responses={201: serializers.OrganizationSerializer},
        tags=["organizations"],
    ),
)
class OrganizationListViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = serializers.OrganizationSerializer
    ordering_fields = ["name", "slug", "created_at"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Organization.objects.none()
        principal: Any = self.request.user
        if getattr(principal, "is_api_key", False):
            return Organization.objects.filter(pk=principal.api_key.organization_id)
        return selectors.orgs_for_user(user=principal)

    def create(self, request: Request) -> Response:
        user = signed_in_user(request)
        data = serializers.OrganizationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org = services.org_create(user=user, **data.validated_data)
        return Response(serializers.OrganizationSerializer(org).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    retrieve=extend_schema(tags=["organizations"]),
    partial_update=extend_schema(
        request=serializers.OrganizationUpdateSerializer,
        responses=serializers.OrganizationSerializer,
        tags=["organizations"],
    ),
    destroy=extend_schema(tags=["organizations"]),
)
class OrganizationViewSet(OrgScopedViewSet):
    model = Organization
    serializer_class = serializers.OrganizationSerializer
    required_roles = {"retrieve": Role.VIEWER, "partial_update": Role.ADMIN, "destroy": Role.OWNER}
    unscoped_reason = "The organization itself: its queryset is the one row named by the URL."

    def get_org_queryset(self, org: Organization) -> QuerySet[Organization]:
        return Organization.objects.filter(pk=org.pk)

    def retrieve(self, request: Request, org: str) -> Response:
        return Response(serializers.OrganizationSerializer(self.org).data)

    def partial_update(self, request: Request, org: str) -> Response:
        data = serializers.OrganizationUpdateSerializer(
            data=request.data, context={"current": self.org.effective_settings}
        )
        data.is_valid(raise_exception=True)
        values = data.validated_data
        updated = services.org_update(
            access=self.access,
            name=values.get("name"),
            timezone_name=values.get("timezone"),
            settings=values.get("settings"),
        )
        return Response(serializers.OrganizationSerializer(updated).data)

    def destroy(self, request: Request, org: str) -> Response:
        services.org_delete(access=self.access)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    partial_update=extend_schema(request=serializers.MemberUpdateSerializer, responses=serializers.MemberSerializer)
)
@extend_schema(tags=["members"])
class MemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, OrgScopedViewSet):
    """Members of the organization and their roles. People join by accepting an invitation
    (`/invitations/`); a member may remove themselves (leave)."""

    model = Membership
    serializer_class = serializers.MemberSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]
    ordering_fields = ["created_at", "role"]
    required_roles = {
        "list": Role.VIEWER,
        "retrieve": Role.VIEWER,
        "partial_update": Role.ADMIN,
        "destroy": Role.VIEWER,
    }

    def get_org_queryset(self, org: Organization) -> QuerySet[Membership]:
        return selectors.member_list(org=org)

    def partial_update(self, request: Request, org: str, pk: str) -> Response:
        data = serializers.MemberUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.member_change_role(
            access=self.access, membership=self.get_object(), **data.validated_data
        )
        return Response(serializers.MemberSerializer(membership).data)

    def perform_destroy(self, instance: Membership) -> None:
        services.member_remove(access=self.access, membership=instance)


@extend_schema_view(
    create=extend_schema(
        request=serializers.InvitationCreateSerializer, responses={201: serializers.InvitationSerializer}
    ),
    destroy=extend_schema(responses={204: OpenApiResponse(description="Invitation revoked.")}),
)
@extend_schema(tags=["invitations"])
class InvitationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Invitations to join the organization (admins). The answer to a new invitation is the same
    whether or not an account exists for that username or address, or is a member already."""

    model = Invitation
    serializer_class = serializers.InvitationSerializer
    filterset_class = InvitationFilter
    ordering_fields = ["created_at", "expires_at", "role"]
    http_method_names = ["get", "post", "delete", "head", "options"]
    required_roles = {"list": Role.ADMIN, "retrieve": Role.ADMIN, "create": Role.ADMIN, "destroy": Role.ADMIN}

    def get_org_queryset(self, org: Organization) -> QuerySet[Invitation]:
        return selectors.invitation_list(org=org)

    def create(self, request: Request, org: str) -> Response:
        data = serializers.InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = services.invitation_create(access=self.access, **data.validated_data)
        return Response(serializers.InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, org: str, pk: str) -> Response:
        services.invitation_revoke(access=self.access, invitation=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(operation_id="listMyInvitations", summary="List the invitations addressed to me"),
    retrieve=extend_schema(operation_id="getMyInvitation", summary="Get an invitation addressed to me"),
    accept=extend_schema(operation_id="acceptMyInvitation"),
    decline=extend_schema(operation_id="declineMyInvitation"),
)
@extend_schema(tags=["invitations"])
class MyInvitationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Invitations addressed to me, across organizations: by my username, or by the email address
    on my account. The list holds pending ones; an expired one cannot be accepted (409)."""

    serializer_class = serializers.MyInvitationSerializer
    ordering_fields = ["created_at", "expires_at"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Invitation.objects.none()
        user = signed_in_user(self.request)
        if self.action == "list":
            return selectors.pending_invitations_for_user(user=user)
        return selectors.invitations_for_user(user=user)

    def get_object(self) -> Invitation:
        with missing_is_404():
            return self.get_queryset().get(pk=self.kwargs["pk"])

    @extend_schema(request=None, responses=serializers.MyInvitationSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        """Join the organization with the invited role (409 when expired, answered or already a member)."""
        invitation = services.invitation_accept(user=signed_in_user(request), invitation=self.get_object())
        return Response(serializers.MyInvitationSerializer(invitation).data)

    @extend_schema(request=None, responses=serializers.MyInvitationSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        """Refuse the invitation (409 when expired or answered)."""
        invitation = services.invitation_decline(user=signed_in_user(request), invitation=self.get_object())
        return Response(serializers.MyInvitationSerializer(invitation).data)


@extend_schema_view(
    create=extend_schema(request=serializers.TeamWriteSerializer, responses={201: serializers.TeamSerializer}),
    update=extend_schema(request=serializers.TeamWriteSerializer, responses=serializers.TeamSerializer),
    partial_update=extend_schema(request=serializers.TeamWriteSerializer, responses=serializers.TeamSerializer),
)
@extend_schema(tags=["teams"])
class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, OrgScopedViewSet):
    """Teams and steering groups; `parent` forms a tree inside the organization."""

    model = Team
    serializer_class = serializers.TeamSerializer
    filterset_class = TeamFilter
    ordering_fields = ["name", "slug", "created_at"]
    required_roles = READ_AS_VIEWER_WRITE_AS_ADMIN

    def get_org_queryset(self, org: Organization) -> QuerySet[Team]:
        return selectors.team_list(org=org)

    def create(self, request: Request, org: str) -> Response:
        data = serializers.TeamWriteSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        team = services.team_create(access=self.access, **data.validated_data)
        return Response(self._render(team), status=status.HTTP_201_CREATED)

    def update(self, request: Request, org: str, pk: str, partial: bool = False) -> Response:
        team = self.get_object()
        data = serializers.TeamWriteSerializer(
            data=request.data, partial=partial, context=self.get_serializer_context()
        )
        data.is_valid(raise_exception=True)
        team = services.team_update(access=self.access, team=team, **data.validated_data)
        return Response(self._render(team))

    def partial_update(self, request: Request, org: str, pk: str) -> Response:
        return self.update(request, org, pk, partial=True)

    def perform_destroy(self, instance: Team) -> None:
        services.team_delete(access=self.access, team=instance)

    def _render(self, team: Team) -> Any:
        return serializers.TeamSerializer(selectors.team_list(org=self.org).get(pk=team.pk)).data


@extend_schema_view(
    create=extend_schema(
        request=serializers.ApiKeyCreateSerializer, responses={201: serializers.ApiKeyCreatedSerializer}
    )
)
@extend_schema(tags=["api keys"])
class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, OrgScopedViewSet):
    """Integration keys. The secret (`key`) is shown once, in the response that creates it."""

    model = ApiKey
    serializer_class = serializers.ApiKeySerializer
    ordering_fields = ["created_at", "name", "last_used_at"]
    required_roles = {**READ_AS_VIEWER_WRITE_AS_ADMIN, "list": Role.ADMIN, "retrieve": Role.ADMIN}

    def get_org_queryset(self, org: Organization) -> QuerySet[ApiKey]:
        return selectors.api_key_list(org=org)

    def create(self, request: Request, org: str) -> Response:
        data = serializers.ApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key, secret = services.api_key_create(org=self.org, created_by=self.access.user, **data.validated_data)
        return Response({**serializers.ApiKeySerializer(key).data, "key": secret}, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiKey) -> None:
        services.api_key_revoke(access=self.access, api_key=instance)
