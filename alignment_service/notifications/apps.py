from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "alignment_service.notifications"
    label = "notifications"
    verbose_name = "Notifications"
