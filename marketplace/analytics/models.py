"""The event log and the recommender's item-item similarity table.

Ids of users and listings are plain UUID columns, not foreign keys: the log
is append-only history written in bulk, it must not cascade or block deletes,
and the kernel knows no app's models.
"""

from __future__ import annotations

from django.db import models


class EventKind(models.TextChoices):
    LISTING_VIEWED = "listing_viewed", "Listing viewed"
    SEARCHED = "searched", "Searched"
    FAVOURITED = "favourited", "Favourited"
    CHAT_STARTED = "chat_started", "Chat started"
    OFFER_MADE = "offer_made", "Offer made"
    ORDER_PAID = "order_paid", "Order paid"
    ORDER_COMPLETED = "order_completed", "Order completed"


class Event(models.Model):
    """One thing a person did. Never an IP address or a user agent: a signed-in
    user by id, an anonymous visitor by a salted hash of the session that
    changes every day (so visits cannot be linked across days)."""

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    at = models.DateTimeField()
    user_id = models.UUIDField(null=True, blank=True)
    visitor = models.CharField(max_length=64, blank=True, default="")
    listing_id = models.UUIDField(null=True, blank=True)
    props = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["at"], name="analytics_event_at"),
            models.Index(fields=["kind", "at"], name="analytics_event_kind_at"),
            models.Index(fields=["user_id", "at"], name="analytics_event_user_at"),
            models.Index(fields=["listing_id", "kind"], name="analytics_event_listing"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.listing_id or ''} at {self.at:%Y-%m-%d %H:%M}"


class ItemSimilarity(models.Model):
    """`neighbour_id` is often looked at by the people who look at `item_id`
    (co-occurrence in sessions), with a normalised `score`. Rebuilt as a whole
    by the refresh task."""

    id = models.BigAutoField(primary_key=True)
    item_id = models.UUIDField()
    neighbour_id = models.UUIDField()
    score = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item_id", "neighbour_id"], name="item_similarity_once")
        ]
        indexes = [models.Index(fields=["item_id", "-score"], name="item_similarity_top")]

    def __str__(self) -> str:
        return f"{self.item_id} ~ {self.neighbour_id} ({self.score:.3f})"
