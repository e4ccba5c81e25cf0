"""What chat announces (through the outbox), and what it listens to.

- `chat.message_sent` {conversation_id, message_id, seq, sender_id,
  recipient_id, listing_id, kind}: a message was stored. Chat itself
  listens twice: the message checks run on it (after commit, in the worker,
  flags follow as `chat.message_flagged`), and a recipient with no live socket
  in that conversation gets an in-app notification (once per unread burst).
  Trust may score messages from it too.
- `chat.offer_made`, `chat.offer_countered`, `chat.offer_declined`,
  `chat.offer_expired` {offer_id, conversation_id, listing_id, buyer_id,
  made_by, status, amount}.
- `chat.offer_accepted` (same payload): binding; the listing is reserved
  with order_ref "offer:<offer_id>" and the orders app opens the order at
  the agreed price.
  Made, countered, accepted and declined offers notify the other party
  (notification kinds `offer_made`, `offer_countered`, `offer_accepted`,
  `offer_declined`), present or not: an offer is worth a notification.
"""

from __future__ import annotations

from typing import Any

MESSAGE_SENT = "chat.message_sent"
# {conversation_id, message_id, sender_id, recipient_id, reasons, score}: a
# message check flagged a stored message (moderation listens).
MESSAGE_FLAGGED = "chat.message_flagged"
OFFER_MADE = "chat.offer_made"
OFFER_COUNTERED = "chat.offer_countered"
OFFER_ACCEPTED = "chat.offer_accepted"
OFFER_DECLINED = "chat.offer_declined"
OFFER_EXPIRED = "chat.offer_expired"

# topic -> (notification kind, who is told: the offer's maker or the other party)
OFFER_NOTIFICATIONS = {
    OFFER_MADE: ("offer_made", "other"),
    OFFER_COUNTERED: ("offer_countered", "other"),
    OFFER_ACCEPTED: ("offer_accepted", "maker"),
    OFFER_DECLINED: ("offer_declined", "maker"),
}


def conversation_group(conversation_id: Any) -> str:
    """The notification group of a conversation (the notifications layer
    collapses and links by it)."""
    return f"conversation:{conversation_id}"


def on_message_sent_check(payload: dict[str, Any]) -> None:
    from chat.services import message_checks_run

    if payload.get("kind") == "text":
        message_checks_run(message_id=payload["message_id"])


def on_message_sent(payload: dict[str, Any]) -> None:
    """Notify the recipient when they have no live socket in the conversation."""
    from django.contrib.auth import get_user_model

    from chat import presence
    from chat.models import Conversation, ReadMarker
    from marketplace.notifications.services import notify

    recipient_id = payload.get("recipient_id")
    conversation_id = payload["conversation_id"]
    if not recipient_id or presence.is_present(conversation_id, recipient_id):
        return
    conversation = Conversation.objects.select_related("listing").filter(pk=conversation_id).first()
    recipient = get_user_model().objects.filter(pk=recipient_id, is_active=True).first()
    if conversation is None or recipient is None:
        return
    read_seq = (
        ReadMarker.objects.filter(conversation=conversation, user_id=recipient_id)
        .values_list("last_read_seq", flat=True)
        .first()
        or 0
    )
    # One notification per unread burst: the key changes only when they read.
    notify(
        recipient=recipient,
        kind="chat_message",
        payload={
            "conversation_id": conversation_id,
            "message_id": payload.get("message_id"),
            "sender_id": payload.get("sender_id"),
            "listing_id": str(conversation.listing_id),
            "listing_title": conversation.listing.title,
            "group": conversation_group(conversation_id),
        },
        link=f"/inbox/{conversation_id}/",
        dedupe_key=f"chat:{conversation_id}:{read_seq}",
    )


def on_offer_event(topic: str, payload: dict[str, Any]) -> None:
    """Tell the other party about a made/countered/accepted/declined offer."""
    from django.contrib.auth import get_user_model

    from chat.models import Conversation
    from marketplace.notifications.services import notify

    kind, whom = OFFER_NOTIFICATIONS[topic]
    conversation = (
        Conversation.objects.select_related("listing").filter(pk=payload["conversation_id"]).first()
    )
    if conversation is None:
        return
    maker = payload["made_by"]
    if whom == "maker":
        recipient_id: Any = maker
    elif str(conversation.buyer_id) == maker:
        recipient_id = conversation.seller_id
    else:
        recipient_id = conversation.buyer_id
    recipient = get_user_model().objects.filter(pk=recipient_id, is_active=True).first()
    if recipient is None:
        return
    notify(
        recipient=recipient,
        kind=kind,
        payload={
            "offer_id": payload["offer_id"],
            "conversation_id": payload["conversation_id"],
            "listing_id": payload["listing_id"],
            "listing_title": conversation.listing.title,
            "amount": payload["amount"],
            "status": payload["status"],
            "discount": bool(payload.get("discount")),
            "group": conversation_group(payload["conversation_id"]),
        },
        link=f"/inbox/{payload['conversation_id']}/",
        dedupe_key=f"{kind}:{payload['offer_id']}",
    )


def _offer_handler(topic: str) -> Any:
    def handler(payload: dict[str, Any]) -> None:
        on_offer_event(topic, payload)

    return handler


def register() -> None:
    from marketplace.outbox.services import subscribe

    subscribe(MESSAGE_SENT, on_message_sent_check, name="chat.message_checks")
    subscribe(MESSAGE_SENT, on_message_sent, name="chat.notify_offline_recipient")
    for topic, (kind, _) in OFFER_NOTIFICATIONS.items():
        subscribe(topic, _offer_handler(topic), name=f"chat.notify_{kind}")
