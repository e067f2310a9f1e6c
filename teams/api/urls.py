from django.urls import path
from rest_framework.routers import SimpleRouter

from alignment_service.api.routing import ORG, org_path
from teams.api import views

router = SimpleRouter()
router.register(r"orgs", views.OrganizationListViewSet, basename="org")
router.register(rf"{ORG}/members", views.MemberViewSet, basename="member")
router.register(rf"{ORG}/invitations", views.InvitationViewSet, basename="invitation")
router.register(r"invitations", views.MyInvitationViewSet, basename="my-invitation")
router.register(rf"{ORG}/teams", views.TeamViewSet, basename="team")
router.register(rf"{ORG}/api-keys", views.ApiKeyViewSet, basename="api-key")

urlpatterns = [
    path("auth/signup/", views.SignupView.as_view(), name="signup"),
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("me/", views.MeView.as_view(), name="me"),
    org_path(
        "",
        views.OrganizationViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="org-detail",
    ),
    *router.urls,
]
