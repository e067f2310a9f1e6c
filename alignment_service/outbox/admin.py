from django.contrib import admin

from alignment_service.admin_site import ReadOnlyAdmin
from alignment_service.outbox.models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "task_name", "organization", "created_at", "dispatched_at", "completed_at", "attempts"]
    list_filter = ["task_name", ("completed_at", admin.EmptyFieldListFilter)]
    search_fields = ["task_name", "dedupe_key", "last_error"]
    list_select_related = ["organization"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
