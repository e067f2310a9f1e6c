from django.apps import AppConfig


class GoalsConfig(AppConfig):
    name = "goals"
    verbose_name = "Direction, strategy, goals and metrics"

    def ready(self) -> None:
        from goals.services import member_departed, org_settings_changed
        from teams import hooks

        hooks.register(hooks.member_departed, member_departed)
        hooks.register(hooks.org_settings_changed, org_settings_changed)
