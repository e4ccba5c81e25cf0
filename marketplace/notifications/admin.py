from django.contrib import admin

from marketplace.notifications.models import EmailDelivery, Notification, NotificationPreference


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("kind", "recipient", "created_at", "read_at")
    list_filter = ("kind",)
    search_fields = ("recipient__username", "dedupe_key")
    raw_id_fields = ("recipient",)
    readonly_fields = ("id", "created_at")


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(admin.ModelAdmin):
    list_display = ("key", "recipient", "kind", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status", "kind")
    search_fields = ("key", "recipient__username")
    raw_id_fields = ("recipient",)
    readonly_fields = ("id", "created_at", "sent_at", "notifications")


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "frequency", "updated_at")
    list_filter = ("kind", "frequency")
    raw_id_fields = ("user",)
