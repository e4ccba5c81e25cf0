"""Admin: a window on the data. Lifecycle changes go through the services
(and the moderation queue), so the status is read-only here."""

from django.contrib import admin

from listings.models import Category, Favourite, Listing, Photo


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "name_zh", "parent", "position")
    search_fields = ("slug", "name", "name_zh")
    ordering = ("position", "slug")


class PhotoInline(admin.TabularInline):
    model = Photo
    extra = 0
    fields = ("position", "image", "thumbnail", "medium", "width", "height")
    readonly_fields = ("image", "thumbnail", "medium", "width", "height")


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = ("title", "seller", "category", "status", "price_minor", "price_currency",
                    "published_at", "expires_at")
    list_filter = ("status", "category", "condition")
    search_fields = ("title", "seller__username", "id")
    raw_id_fields = ("seller",)
    readonly_fields = ("id", "status", "status_changed_at", "published_at", "expires_at",
                       "view_count", "favorites_count", "fraud_score", "fraud_reasons",
                       "reserved_by", "removed_by_moderator", "created_at", "updated_at")
    inlines = [PhotoInline]


@admin.register(Favourite)
class FavouriteAdmin(admin.ModelAdmin):
    list_display = ("user", "listing", "created_at")
    raw_id_fields = ("user", "listing")
