from rest_framework.routers import SimpleRouter

from alignment_service.activity.api.views import ActivityViewSet

router = SimpleRouter()
router.register(r"orgs/(?P<org>[-a-zA-Z0-9_]+)/activity", ActivityViewSet, basename="activity")
urlpatterns = router.urls
