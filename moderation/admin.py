"""Admin: read-only windows. Decisions go through the queue API (so they are
carried out and audited); the audit log can be neither edited nor deleted."""

from typing import Any

from django.contrib import admin

from moderation.models import Appeal, AuditLog, Case, Decision, PhotoHash, Report, Suspension


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ("id", "target_type", "source", "status", "priority", "sla_due_at",
                    "claimed_by", "created_at")
    list_filter = ("status", "source", "target_type")
    search_fields = ("id", "target_id")


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ("id", "reporter", "target_type", "reason", "created_at")
    list_filter = ("reason", "target_type")


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ("id", "case", "action", "moderator", "automated", "created_at")
    list_filter = ("action", "automated")


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    list_display = ("id", "case", "appellant", "status", "created_at")
    list_filter = ("status",)


@admin.register(Suspension)
class SuspensionAdmin(ReadOnlyAdmin):
    list_display = ("user", "case", "created_at", "lifted_at")


@admin.register(PhotoHash)
class PhotoHashAdmin(ReadOnlyAdmin):
    list_display = ("photo_id", "listing_id", "seller_id", "created_at")


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_username", "automated", "action", "target_type",
                    "target_id", "case_id")
    list_filter = ("action", "automated", "target_type")
    search_fields = ("actor_username", "target_id", "case_id", "reason")
