"""Plain-dict shapes of messages and offers, shared by the REST API and the
websocket frames so both speak the same JSON."""

from __future__ import annotations

from typing import Any

from chat.models import Message, Offer


def offer_payload(offer: Offer) -> dict[str, Any]:
    return {
        "id": str(offer.id),
        "conversation": str(offer.conversation_id),
        "listing": str(offer.listing_id),
        "buyer": str(offer.buyer_id),
        "made_by": str(offer.made_by_id),
        "amount": offer.amount.to_dict(),
        "status": offer.status,
        "replaces": str(offer.replaces_id) if offer.replaces_id else None,
        "is_discount": offer.is_discount,
        "expires_at": offer.expires_at.isoformat(),
        "created_at": offer.created_at.isoformat() if offer.created_at else None,
    }


def _image_url(message: Message) -> str | None:
    if not message.image:
        return None
    try:
        return message.image.url
    except Exception:  # noqa: BLE001 - a storage hiccup must not break the message list
        return None


def message_payload(message: Message) -> dict[str, Any]:
    return {
        "id": str(message.id),
        "conversation": str(message.conversation_id),
        "seq": message.seq,
        "sender": str(message.sender_id) if message.sender_id else None,
        "kind": message.kind,
        "body": message.body,
        "client_id": message.client_id or None,
        "offer": offer_payload(message.offer) if message.offer_id and message.offer else None,
        "image_url": _image_url(message),
        "data": message.data or {},
        "created_at": message.created_at.isoformat() if message.created_at else None,
    }
