"""Following a seller: the table, its writes and reads, and the notification
a follower gets when a followed seller publishes a listing.

Kept in one module apart from models/services (loaded from ListingsConfig.ready)
so the feature stays in one place. New listings from followed sellers also
rank first in the "for you" feed (search/feed.py reads `followed_seller_ids`).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, models, transaction
from django.db.models import QuerySet

from marketplace.errors import NotFound, ValidationFailed
from marketplace.ids import parse_uuid, uuid7

logger = logging.getLogger(__name__)

NOTIFY_KIND = "followed_seller_listing"
PUBLISHED_HANDLER = "listings.notify_followers"


class Follow(models.Model):
    """`follower` wants to hear about `seller`'s new listings."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    follower = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="following"
    )
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="followers"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "listings"
        constraints = [
            models.UniqueConstraint(fields=["follower", "seller"], name="follow_once"),
            models.CheckConstraint(
                condition=~models.Q(follower=models.F("seller")), name="follow_not_self"
            ),
        ]
        indexes = [
            models.Index(fields=["follower", "-created_at"], name="follow_follower_recent"),
            models.Index(fields=["seller"], name="follow_seller"),
        ]

    def __str__(self) -> str:
        return f"{self.follower_id} follows {self.seller_id}"


# --- reads ----------------------------------------------------------------------------------


def _seller_or_404(seller_id: Any) -> Any:
    uid = parse_uuid(seller_id)
    seller = get_user_model().objects.filter(pk=uid, is_active=True).first() if uid else None
    if seller is None:
        raise NotFound("No such user.")
    return seller


def following_for(*, user: Any) -> QuerySet[Follow]:
    """Whom `user` follows, most recent first."""
    return (
        Follow.objects.filter(follower=user, seller__is_active=True)
        .select_related("seller")
        .order_by("-created_at", "-id")
    )


def followed_seller_ids(*, user_id: Any) -> list[uuid.UUID]:
    return list(Follow.objects.filter(follower_id=user_id).values_list("seller_id", flat=True))


def follower_ids_of(*, seller_id: Any) -> list[uuid.UUID]:
    return list(
        Follow.objects.filter(seller_id=seller_id, follower__is_active=True)
        .order_by("follower_id")
        .values_list("follower_id", flat=True)
    )


# --- writes ---------------------------------------------------------------------------------


def follow_add(*, follower: Any, seller_id: Any) -> tuple[Follow, bool]:
    """Follow a seller (idempotent); returns the follow and whether it is new."""
    seller = _seller_or_404(seller_id)
    if seller.pk == follower.pk:
        raise ValidationFailed({"user": ["You cannot follow yourself."]})
    existing = Follow.objects.filter(follower=follower, seller=seller).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return Follow.objects.create(follower=follower, seller=seller), True
    except IntegrityError:  # a concurrent request followed first
        return Follow.objects.get(follower=follower, seller=seller), False


def follow_remove(*, follower: Any, seller_id: Any) -> bool:
    """Stop following (idempotent); returns whether a follow was removed."""
    uid = parse_uuid(seller_id)
    if uid is None:
        raise NotFound("No such user.")
    deleted, _ = Follow.objects.filter(follower=follower, seller_id=uid).delete()
    return bool(deleted)


def followers_notify_new_listing(*, payload: dict[str, Any]) -> int:
    """Notify each follower of the seller once about this listing (the
    dedupe key makes a redelivered event a no-op). Returns followers told."""
    from listings.models import Listing
    from marketplace.notifications.services import notify

    listing = (
        Listing.objects.select_related("seller")
        .filter(pk=payload.get("listing_id"), status="active")
        .first()
    )
    if listing is None:
        return 0
    followers = get_user_model().objects.filter(pk__in=follower_ids_of(seller_id=listing.seller_id))
    told = 0
    for follower in followers:
        notify(
            recipient=follower,
            kind=NOTIFY_KIND,
            payload={
                "listing_id": str(listing.id),
                "title": listing.title,
                "seller_id": str(listing.seller_id),
                "seller": listing.seller.get_username(),
                "price": listing.price.to_dict(),
            },
            link=f"/items/{listing.id}/",
            dedupe_key=f"{NOTIFY_KIND}:{listing.id}",
        )
        told += 1
    return told


def on_listing_published(payload: dict[str, Any]) -> None:
    followers_notify_new_listing(payload=payload)


def register() -> None:
    from listings.events import LISTING_PUBLISHED
    from marketplace.outbox.services import subscribe

    subscribe(LISTING_PUBLISHED, on_listing_published, name=PUBLISHED_HANDLER)
