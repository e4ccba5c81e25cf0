"""What analytics hears from the outbox. Topics are plain strings, so the
kernel listens to chat and trust without importing them.

- `chat.message_sent` with seq 1: the first message of a conversation ->
  `chat_started` (by the sender, about the listing).
- `chat.offer_made` -> `offer_made` (by the offer's maker).
- `trust.order_paid` -> `order_paid` (by the buyer).
- `trust.order_completed` / `order_auto_released` / `order_handed_over` /
  `order_released`, when the order's status is `completed` ->
  `order_completed` (by the buyer).

The outbox runs each handler once per event, and `track` only buffers, so
these handlers are cheap and cannot fail the delivery.
"""

from __future__ import annotations

from typing import Any

from marketplace.analytics.models import EventKind
from marketplace.analytics.services import track

COMPLETED_TOPICS = (
    "trust.order_completed",
    "trust.order_auto_released",
    "trust.order_handed_over",
    "trust.order_released",
)


def on_message_sent(payload: dict[str, Any]) -> None:
    if payload.get("seq") == 1 and payload.get("sender_id"):
        track(
            EventKind.CHAT_STARTED,
            user_id=payload["sender_id"],
            listing_id=payload.get("listing_id"),
            props={"conversation_id": payload.get("conversation_id")},
        )


def on_offer_made(payload: dict[str, Any]) -> None:
    track(
        EventKind.OFFER_MADE,
        user_id=payload.get("made_by"),
        listing_id=payload.get("listing_id"),
        props={"offer_id": payload.get("offer_id"), "amount": payload.get("amount")},
    )


def on_order_paid(payload: dict[str, Any]) -> None:
    track(
        EventKind.ORDER_PAID,
        user_id=payload.get("buyer_id"),
        listing_id=payload.get("listing_id"),
        props={"order_id": payload.get("order_id")},
    )


def on_order_finished(payload: dict[str, Any]) -> None:
    if payload.get("status") == "completed":
        track(
            EventKind.ORDER_COMPLETED,
            user_id=payload.get("buyer_id"),
            listing_id=payload.get("listing_id"),
            props={"order_id": payload.get("order_id"), "seller_id": payload.get("seller_id")},
        )


def register() -> None:
    from marketplace.outbox.services import subscribe

    subscribe("chat.message_sent", on_message_sent, name="analytics.chat_started")
    subscribe("chat.offer_made", on_offer_made, name="analytics.offer_made")
    subscribe("trust.order_paid", on_order_paid, name="analytics.order_paid")
    for topic in COMPLETED_TOPICS:
        subscribe(topic, on_order_finished, name="analytics.order_completed")
