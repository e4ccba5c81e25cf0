"""What listings announces, and what it listens to.

Every event is written to the outbox in the transaction of the change
(`marketplace.outbox.services.publish`) and delivered after commit, so a
rolled-back change is never announced. Every payload carries at least::

    {"listing_id", "seller_id", "status", "previous_status", "category", "at"}

(`status` is the state after the change, `at` an ISO timestamp) plus what is
named below. Search reindexes on all of them; trust and moderation pick what
they need.

- `listings.listing_created`: a draft was created.
- `listings.listing_published` {published_at, expires_at}: a listing went
  active through publish (draft -> active).
- `listings.listing_held` {score, reasons}: publish put it in
  `pending_review` because a publish check scored it above
  FRAUD_HOLD_THRESHOLD (moderation queues it).
- `listings.listing_approved` {actor_id}: a moderator let a held listing go active.
- `listings.listing_rejected` {actor_id, reason}: a moderator turned a held
  (or active) listing down; it is withdrawn and cannot be relisted by the seller.
- `listings.listing_updated` {changed: [field, ...]}: the seller edited it
  (`photos` in `changed` for photo uploads, deletions and reordering).
- `listings.price_dropped` {title, old_price, new_price}: an active listing
  got cheaper; listings itself listens and notifies the favouriters.
- `listings.listing_withdrawn`: the seller (or a moderator) took it down.
- `listings.listing_relisted` {published_at, expires_at}: withdrawn or
  expired -> active (or pending_review, then `listing_held` is sent instead).
- `listings.listing_reserved` {order_ref}: an order is open on it.
- `listings.listing_reservation_released` {order_ref}: the order went away;
  active again.
- `listings.listing_sold` {order_ref}: the order completed.
- `listings.listing_expired` {expires_at}: active for LISTING_EXPIRY_DAYS.
- `listings.listing_deleted`: a draft was deleted.

Money in payloads is `{"amount_minor", "currency"}`.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

LISTING_CREATED = "listings.listing_created"
LISTING_PUBLISHED = "listings.listing_published"
LISTING_HELD = "listings.listing_held"
LISTING_APPROVED = "listings.listing_approved"
LISTING_REJECTED = "listings.listing_rejected"
LISTING_UPDATED = "listings.listing_updated"
PRICE_DROPPED = "listings.price_dropped"
LISTING_WITHDRAWN = "listings.listing_withdrawn"
LISTING_RELISTED = "listings.listing_relisted"
LISTING_RESERVED = "listings.listing_reserved"
LISTING_RESERVATION_RELEASED = "listings.listing_reservation_released"
LISTING_SOLD = "listings.listing_sold"
LISTING_EXPIRED = "listings.listing_expired"
LISTING_DELETED = "listings.listing_deleted"

ALL_TOPICS = (
    LISTING_CREATED, LISTING_PUBLISHED, LISTING_HELD, LISTING_APPROVED, LISTING_REJECTED,
    LISTING_UPDATED, PRICE_DROPPED, LISTING_WITHDRAWN, LISTING_RELISTED, LISTING_RESERVED,
    LISTING_RESERVATION_RELEASED, LISTING_SOLD, LISTING_EXPIRED, LISTING_DELETED,
)

PRICE_DROP_HANDLER = "listings.notify_price_drop"


def on_price_dropped(payload: dict[str, Any]) -> None:
    """Tell everyone who favourited the listing (once per favouriter and price)."""
    from listings import services

    services.price_drop_notify(payload=payload)


def register() -> None:
    from marketplace.outbox.services import subscribe

    subscribe(PRICE_DROPPED, on_price_dropped, name=PRICE_DROP_HANDLER)
