from rest_framework.routers import SimpleRouter

from alignment_service.activity.api.views import ActivityViewSet
from alignment_service.api.routing import ORG

router = SimpleRouter()
router.register(rf"{ORG}/activity", ActivityViewSet, basename="activity")
urlpatterns = router.urls
