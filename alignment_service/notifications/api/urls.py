from rest_framework.routers import SimpleRouter

from alignment_service.api.routing import ORG
from alignment_service.notifications.api.views import NotificationViewSet
from alignment_service.notifications.api.webhooks import WebhookDeliveryViewSet, WebhookEndpointViewSet

router = SimpleRouter()
router.register("notifications", NotificationViewSet, basename="notification")
router.register(rf"{ORG}/webhooks", WebhookEndpointViewSet, basename="webhook")
router.register(
    rf"{ORG}/webhooks/(?P<webhook_pk>[^/.]+)/deliveries", WebhookDeliveryViewSet, basename="webhook-delivery"
)
urlpatterns = router.urls
