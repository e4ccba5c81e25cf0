from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from marketplace.accounts.models import DataExport, IdentityVerification, User, UserSession


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "display_name", "city", "email_verified_at", "is_staff")
    # phone, payout details and 2FA secrets stay out of the admin (encrypted at rest).
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (
            "Profile",
            {"fields": ("display_name", "avatar", "city", "bio", "languages", "email_verified_at")},
        ),
    )


# Security records, read-only: secrets and personal details are not shown.
@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "device_label", "ip", "place", "last_seen_at", "ended_at")
    list_filter = ("kind",)
    search_fields = ("user__username",)
    fields = list_display + ("created_at",)
    readonly_fields = fields

    def has_add_permission(self, request: Any) -> bool:
        return False


@admin.register(DataExport)
class DataExportAdmin(admin.ModelAdmin):
    list_display = ("user", "status", "progress", "size_bytes", "created_at", "finished_at")
    readonly_fields = list_display

    def has_add_permission(self, request: Any) -> bool:
        return False


@admin.register(IdentityVerification)
class IdentityVerificationAdmin(admin.ModelAdmin):
    list_display = ("user", "provider", "status", "reason", "created_at", "decided_at")
    fields = ("user", "provider", "provider_ref", "status", "reason", "created_at", "decided_at")
    readonly_fields = fields

    def has_add_permission(self, request: Any) -> bool:
        return False
