from django.contrib import admin

from marketplace.notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("kind", "recipient", "created_at", "read_at")
    list_filter = ("kind",)
    search_fields = ("recipient__username", "dedupe_key")
    raw_id_fields = ("recipient",)
    readonly_fields = ("id", "created_at")
