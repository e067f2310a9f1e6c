from django.apps import AppConfig


class ActivityConfig(AppConfig):
    name = "alignment_service.activity"
    label = "activity"
    verbose_name = "Activity feed"
