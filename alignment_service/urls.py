from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated

from alignment_service import health, ops
from alignment_service.api import (
    exceptions,
    schema,  # noqa: F401  (registers schema extensions)
)

schema_permissions: list[type[BasePermission]] = [IsAuthenticated] if settings.SCHEMA_REQUIRES_AUTH else [AllowAny]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    # Pages for people, signed in with a session (the API is under /api/).
    path("", RedirectView.as_view(pattern_name="pages:orgs"), name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="pages/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("orgs/", include("feedback.pages.urls")),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=schema_permissions), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", permission_classes=schema_permissions),
        name="docs",
    ),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="schema", permission_classes=schema_permissions),
        name="redoc",
    ),
    path("api/v1/", include("teams.api.urls")),
    path("api/v1/", include("goals.api.urls")),
    path("api/v1/", include("feedback.api.urls")),
    path("api/v1/", include("alignment_service.notifications.api.urls")),
    path("api/v1/", include("alignment_service.activity.api.urls")),
    # Unknown URLs answer the JSON error shape, in DEBUG too, and for every method (without the
    # exemption, CSRF would answer an unknown POST with an HTML 403 first).
    re_path(r"^", csrf_exempt(exceptions.handler404)),
]

handler400 = "alignment_service.api.exceptions.handler400"
handler403 = "alignment_service.api.exceptions.handler403"
handler404 = "alignment_service.api.exceptions.handler404"
handler500 = "alignment_service.api.exceptions.handler500"
