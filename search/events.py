"""What search listens to: every listing event re-syncs that listing.

The handler runs inside the outbox's Celery task (`deliver_event`): when the
search server is down it raises, the task retries with exponential backoff,
and the periodic dispatcher hands the event over again after that, so an
outage delays the index but loses nothing. The handler reads the listing's
current state, so order and repetition do not matter.
"""

from __future__ import annotations

from typing import Any

LISTING_TOPICS = (
    "listings.listing_created",
    "listings.listing_published",
    "listings.listing_held",
    "listings.listing_approved",
    "listings.listing_rejected",
    "listings.listing_updated",
    "listings.price_dropped",
    "listings.listing_withdrawn",
    "listings.listing_relisted",
    "listings.listing_reserved",
    "listings.listing_reservation_released",
    "listings.listing_sold",
    "listings.listing_expired",
    "listings.listing_deleted",
)


def on_listing_changed(payload: dict[str, Any]) -> None:
    from search import services

    services.sync_listing(listing_id=payload["listing_id"])


def register() -> None:
    from marketplace.outbox.services import subscribe

    for topic in LISTING_TOPICS:
        subscribe(topic, on_listing_changed, name="search.sync_listing")
