"""Categories, listings, photos and favourites.

Rules live in `services.py`; the models hold tables, constraints and small
derived properties only.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from marketplace.ids import uuid7
from marketplace.money import Money


class Category(models.Model):
    """A node of the category tree with its attribute schema.

    `attributes` is a list of ``{name, type, choices, required, label,
    label_zh}`` where type is one of ``string``, ``integer``, ``choice``,
    ``boolean`` (integers may also carry ``min``/``max``). A subcategory
    inherits its ancestors' attributes (see `selectors.category_schema`).
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=100)
    name_zh = models.CharField(max_length=100, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    attributes = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.slug


class ListingStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_REVIEW = "pending_review", "Pending review"
    ACTIVE = "active", "Active"
    RESERVED = "reserved", "Reserved"
    SOLD = "sold", "Sold"
    WITHDRAWN = "withdrawn", "Withdrawn"
    EXPIRED = "expired", "Expired"


# Anyone may see these; the others only the seller and moderators.
PUBLIC_STATUSES = frozenset({ListingStatus.ACTIVE, ListingStatus.RESERVED, ListingStatus.SOLD})


class Condition(models.TextChoices):
    NEW = "new", "New"
    LIKE_NEW = "like_new", "Like new"
    GOOD = "good", "Good"
    FAIR = "fair", "Fair"
    FOR_PARTS = "for_parts", "For parts"


class Listing(models.Model):
    """Something a seller offers. The lifecycle is in `services.py`:

    draft -> (pending_review) -> active -> reserved -> sold; withdrawn and
    expired branch off active and come back with relist.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="listings"
    )
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="listings")
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=5000)
    condition = models.CharField(max_length=20, choices=Condition.choices)
    # Money as two columns: integer minor units (fen, cents) and the currency.
    price_minor = models.BigIntegerField()
    price_currency = models.CharField(max_length=3)
    negotiable = models.BooleanField(default=False)
    location_lat = models.FloatField(null=True, blank=True)
    location_lon = models.FloatField(null=True, blank=True)
    location_city = models.CharField(max_length=100, blank=True)
    ships = models.BooleanField(default=False)
    pickup = models.BooleanField(default=True)
    attributes = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=20, choices=ListingStatus.choices, default=ListingStatus.DRAFT
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Counters updated with F() expressions, never read-modify-write.
    view_count = models.PositiveBigIntegerField(default=0)
    favorites_count = models.PositiveIntegerField(default=0)
    # The last publish check's verdict (fraud model, rules); shown to the
    # seller and moderators only.
    fraud_score = models.FloatField(null=True, blank=True)
    fraud_reasons = models.JSONField(default=list, blank=True)
    # A moderator took it down: the seller cannot simply relist it.
    removed_by_moderator = models.BooleanField(default=False)
    # The open order holding a reserved listing (set by the orders app).
    reserved_by = models.CharField(max_length=100, blank=True)
    # Optional client key: a retried POST /api/listings returns the first listing.
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)

    class Meta:
        permissions = [("moderate_listing", "Can see and moderate any listing")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price_minor__gt=0), name="listing_price_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(location_lat__isnull=True)
                | models.Q(location_lat__gte=-90, location_lat__lte=90),
                name="listing_lat_range",
            ),
            models.CheckConstraint(
                condition=models.Q(location_lon__isnull=True)
                | models.Q(location_lon__gte=-180, location_lon__lte=180),
                name="listing_lon_range",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in ListingStatus]),
                name="listing_status_valid",
            ),
            models.UniqueConstraint(
                fields=["seller", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="listing_idempotency_once",
            ),
        ]
        indexes = [
            # The public feed: active listings, newest first.
            models.Index(
                fields=["-published_at", "-id"],
                name="listing_active_feed",
                condition=models.Q(status="active"),
            ),
            # The expiry sweep: active listings by due date.
            models.Index(
                fields=["expires_at"],
                name="listing_active_expiry",
                condition=models.Q(status="active"),
            ),
            models.Index(fields=["seller", "-created_at"], name="listing_seller_recent"),
            models.Index(fields=["category", "status"], name="listing_category_status"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def price(self) -> Money:
        return Money(self.price_minor, self.price_currency)

    @price.setter
    def price(self, value: Money) -> None:
        self.price_minor = value.amount_minor
        self.price_currency = value.currency

    @property
    def location(self) -> dict[str, Any]:
        return {"lat": self.location_lat, "lon": self.location_lon, "city": self.location_city}

    @property
    def shipping(self) -> dict[str, bool]:
        return {"ships": self.ships, "pickup": self.pickup}

    @property
    def is_public(self) -> bool:
        return self.status in PUBLIC_STATUSES


def photo_upload_to(instance: Photo, filename: str) -> str:
    # Names are chosen by the service; this only satisfies FileField.
    return f"listings/{instance.listing_id}/{filename}"


class Photo(models.Model):
    """One picture of a listing. The original is stored re-encoded without any
    metadata; thumbnail and medium sizes are filled in by a Celery task."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="photos")
    position = models.PositiveSmallIntegerField(default=0)
    image = models.FileField(max_length=255, upload_to=photo_upload_to)
    thumbnail = models.FileField(max_length=255, blank=True, upload_to=photo_upload_to)
    medium = models.FileField(max_length=255, blank=True, upload_to=photo_upload_to)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "created_at"]
        indexes = [models.Index(fields=["listing", "position"], name="photo_listing_position")]

    def __str__(self) -> str:
        return f"{self.listing_id}#{self.position}"


class Favourite(models.Model):
    """A user keeps an eye on a listing (and hears about price drops)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="favourites"
    )
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="favourites")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "listing"], name="favourite_once")
        ]
        indexes = [models.Index(fields=["user", "-created_at"], name="favourite_user_recent")]

    def __str__(self) -> str:
        return f"{self.user_id} -> {self.listing_id}"
