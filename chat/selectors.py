"""Reads of the chat app; `conversation_get_for_participant` is the one
access function used by the REST views, the websocket consumer and the pages."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from chat.models import Conversation, Message, Offer
from marketplace.errors import NotFound, ValidationFailed
from marketplace.ids import parse_uuid

MESSAGE_PAGE = 100


def conversation_get_for_participant(*, conversation_id: Any, user: Any) -> Conversation:
    """The conversation if `user` is its buyer or seller; NotFound otherwise
    (someone else's conversation looks exactly like one that does not exist)."""
    uid = parse_uuid(conversation_id)
    if uid is None or user is None or not user.is_authenticated:
        raise NotFound("No such conversation.")
    conversation = (
        Conversation.objects.select_related("listing", "buyer", "seller")
        .filter(pk=uid)
        .filter(Q(buyer=user) | Q(seller=user))
        .first()
    )
    if conversation is None:
        raise NotFound("No such conversation.")
    return conversation


def conversations_for_user(*, user: Any) -> QuerySet[Conversation]:
    return (
        Conversation.objects.filter(Q(buyer=user) | Q(seller=user))
        .select_related("listing", "buyer", "seller")
        .order_by("-last_message_at", "-created_at")
    )


def messages_after(
    *, conversation: Conversation, after: Any = None, limit: int = MESSAGE_PAGE
) -> list[Message]:
    """Messages after the one with id `after` (all when None), oldest first."""
    qs = Message.objects.filter(conversation=conversation).select_related("offer")
    if after:
        uid = parse_uuid(after)
        anchor = (
            Message.objects.filter(conversation=conversation, pk=uid)
            .values_list("seq", flat=True)
            .first()
            if uid
            else None
        )
        if anchor is None:
            raise ValidationFailed({"after": ["No such message in this conversation."]})
        qs = qs.filter(seq__gt=anchor)
    return list(qs.order_by("seq")[:limit])


def offer_get_for_participant(*, offer_id: Any, user: Any) -> Offer:
    uid = parse_uuid(offer_id)
    if uid is None or user is None or not user.is_authenticated:
        raise NotFound("No such offer.")
    offer = (
        Offer.objects.select_related("conversation")
        .filter(pk=uid)
        .filter(Q(conversation__buyer=user) | Q(conversation__seller=user))
        .first()
    )
    if offer is None:
        raise NotFound("No such offer.")
    return offer


def data_export_for(user: Any) -> Any:
    """The user's conversations and messages for their data export (accounts'
    registry, ChatConfig.ready). The other side appears by public name only."""
    from marketplace.accounts.privacy import ExportPart

    conversations = (
        Conversation.objects.filter(Q(buyer=user) | Q(seller=user))
        .select_related("listing", "buyer", "seller")
        .order_by("created_at")
    )
    result = []
    files: list[tuple[str, str]] = []
    for conversation in conversations:
        buying = conversation.buyer_id == user.pk
        counterpart = conversation.seller if buying else conversation.buyer
        messages = Message.objects.filter(conversation=conversation).order_by("seq")
        result.append(
            {
                "id": str(conversation.id),
                "listing": conversation.listing.title,
                "role": "buyer" if buying else "seller",
                "counterpart": counterpart.public_name,
                "messages": [
                    {
                        "from": "me" if m.sender_id == user.pk else "counterpart",
                        "kind": m.kind,
                        "body": m.body,
                        "data": m.data,
                        "at": m.created_at.isoformat(),
                        "image": m.image.name.rsplit("/", 1)[-1] if m.image else None,
                    }
                    for m in messages
                ],
            }
        )
        files += [
            (f"chat/{conversation.id}/{m.image.name.rsplit('/', 1)[-1]}", m.image.name)
            for m in messages
            if m.image
        ]
    offers = Offer.objects.filter(made_by=user).values(
        "id", "listing_id", "amount_minor", "currency", "status", "created_at"
    )
    return ExportPart({"conversations": result, "offers_made": list(offers)}, files)


def blocked_user_ids(user_id: Any) -> set[Any]:
    """Users `user_id` blocked or was blocked by (the feed hides their listings)."""
    from chat.models import Block

    rows = Block.objects.filter(Q(blocker_id=user_id) | Q(blocked_id=user_id)).values_list(
        "blocker_id", "blocked_id"
    )
    return {b if a == user_id or str(a) == str(user_id) else a for a, b in rows}
