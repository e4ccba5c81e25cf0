"""What chat announces (through the outbox), and what it listens to.

- `chat.message_sent` {conversation_id, message_id, seq, sender_id,
  recipient_id, listing_id, kind}: a message was stored (flags follow in
  `chat.message_flagged` once the checks ran after commit). Chat itself
  listens to notify an offline recipient (once per unread burst); trust
  scores messages from it.
- `chat.offer_made`, `chat.offer_countered`, `chat.offer_declined`,
  `chat.offer_expired` {offer_id, conversation_id, listing_id, buyer_id,
  made_by, status, amount}.
- `chat.offer_accepted` (same payload): binding; the listing is reserved
  with order_ref "offer:<offer_id>" and the orders app opens the order at
  the agreed price.
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


def on_message_sent(payload: dict[str, Any]) -> None:
    from chat import presence
    from chat.models import Conversation, ReadMarker
    from marketplace.notifications.services import notify

    recipient_id = payload.get("recipient_id")
    if not recipient_id or presence.is_online(recipient_id):
        return
    conversation = (
        Conversation.objects.select_related("listing").filter(pk=payload["conversation_id"]).first()
    )
    if conversation is None:
        return
    marker = ReadMarker.objects.filter(conversation=conversation, user_id=recipient_id).first()
    read_seq = marker.last_read_seq if marker else 0
    from django.contrib.auth import get_user_model

    recipient = get_user_model().objects.filter(pk=recipient_id).first()
    if recipient is None:
        return
    # One notification per unread burst: the key changes only when they read.
    notify(
        recipient=recipient,
        kind="chat_message",
        payload={
            "conversation_id": payload["conversation_id"],
            "listing_title": conversation.listing.title,
        },
        link=f"/inbox/{payload['conversation_id']}/",
        dedupe_key=f"chat:{payload['conversation_id']}:{read_seq}",
    )


def register() -> None:
    from marketplace.outbox.services import subscribe

    subscribe(MESSAGE_SENT, on_message_sent, name="chat.notify_offline_recipient")
