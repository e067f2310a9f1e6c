from django.urls import path
from rest_framework.routers import SimpleRouter

from goals.api import views

ORG = r"orgs/(?P<org>[-a-zA-Z0-9_]+)"

router = SimpleRouter()
router.register(rf"{ORG}/strategies", views.PillarViewSet, basename="strategy")
router.register(rf"{ORG}/cycles", views.CycleViewSet, basename="cycle")
router.register(rf"{ORG}/goals", views.GoalViewSet, basename="goal")
router.register(rf"{ORG}/metrics", views.MetricViewSet, basename="metric")
router.register(rf"{ORG}/metrics/(?P<metric_pk>[^/.]+)/readings", views.ReadingViewSet, basename="reading")

urlpatterns = [
    path(
        "orgs/<slug:org>/direction/",
        views.DirectionViewSet.as_view({"get": "retrieve", "put": "update"}),
        name="direction",
    ),
    path(
        "orgs/<slug:org>/direction/versions/",
        views.DirectionViewSet.as_view({"get": "versions"}),
        name="direction-versions",
    ),
    path(
        "orgs/<slug:org>/readings/batch/", views.ReadingBatchViewSet.as_view({"post": "create"}), name="reading-batch"
    ),
    path(
        "orgs/<slug:org>/alignment-tree/",
        views.AlignmentTreeViewSet.as_view({"get": "retrieve"}),
        name="alignment-tree",
    ),
    *router.urls,
]
