from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from marketplace.accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "display_name", "city", "email_verified_at", "is_staff")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (
            "Profile",
            {"fields": ("display_name", "avatar", "city", "bio", "languages", "email_verified_at")},
        ),
    )
