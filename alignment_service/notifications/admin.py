from django.contrib import admin

from alignment_service.notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "recipient", "organization", "kind", "title", "read_at"]
    list_filter = ["kind", "organization", ("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "body", "recipient__username"]
    list_select_related = ["recipient", "organization"]
    readonly_fields = [f.name for f in Notification._meta.fields]
