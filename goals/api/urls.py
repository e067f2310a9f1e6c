from rest_framework.routers import SimpleRouter

from alignment_service.api.routing import ORG, org_path
from goals.api import views

router = SimpleRouter()
router.register(rf"{ORG}/strategies", views.PillarViewSet, basename="strategy")
router.register(rf"{ORG}/cycles", views.CycleViewSet, basename="cycle")
router.register(rf"{ORG}/goals", views.GoalViewSet, basename="goal")
router.register(rf"{ORG}/metrics", views.MetricViewSet, basename="metric")
router.register(rf"{ORG}/metrics/(?P<metric_pk>[^/.]+)/readings", views.ReadingViewSet, basename="reading")

urlpatterns = [
    org_path(
        "direction/",
        views.DirectionViewSet.as_view({"get": "retrieve", "put": "update"}),
        name="direction",
    ),
    org_path(
        "direction/versions/",
        views.DirectionViewSet.as_view({"get": "versions"}),
        name="direction-versions",
    ),
    org_path("readings/batch/", views.ReadingBatchViewSet.as_view({"post": "create"}), name="reading-batch"),
    org_path(
        "alignment-tree/",
        views.AlignmentTreeViewSet.as_view({"get": "retrieve"}),
        name="alignment-tree",
    ),
    *router.urls,
]
