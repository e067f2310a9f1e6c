from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from alignment_service.activity.models import Activity


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_filter = ["organization", "verb", "subject_type"]
    search_fields = ["summary", "verb", "subject_id"]
    list_select_related = ["organization", "actor_user", "actor_api_key"]
    date_hierarchy = "created_at"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["organization", "verb", "subject_type", "subject_id", "summary", "data", "created_at", "anonymous"]
        return [*fields, "actor_user", "actor_api_key"] if request.user.is_superuser else fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.get_fields(request, obj)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """No filtering by actor in the URL: it would tell who is behind anonymous entries."""
        if lookup.startswith("actor_user") and not (request and request.user.is_superuser):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_list_display(self, request: HttpRequest) -> Any:
        reveal = request.user.is_superuser

        @admin.display(description="actor")
        def actor(obj: Activity) -> str:
            if obj.anonymous and not reveal:
                return "anonymous"
            return str(obj.actor_user or obj.actor_api_key or "system")

        return ["created_at", "organization", actor, "verb", "summary"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
