from django.contrib import admin

from alignment_service.admin_site import ReadOnlyAdmin
from alignment_service.idempotency.models import IdempotencyRecord


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    """The first answers replayed to retried writes (kept `IDEMPOTENCY_TTL_HOURS`)."""

    list_display = ["created_at", "organization", "key", "credential", "response_status"]
    list_filter = ["response_status", "organization"]
    search_fields = ["key", "credential"]
    list_select_related = ["organization"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in IdempotencyRecord._meta.fields]
