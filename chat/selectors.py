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


def conversation_listing_id(*, conversation_id: Any) -> Any:
    """The listing a conversation is about (None for an unknown id)."""
    uid = parse_uuid(conversation_id)
    if uid is None:
        return None
    return Conversation.objects.filter(pk=uid).values_list("listing_id", flat=True).first()


# --- for moderation (no access check: moderators and the system read any message) ------


def message_for_moderation(*, message_id: Any) -> dict[str, Any] | None:
    """{id, conversation_id, sender_id} of a message (None for an unknown id):
    enough to check who may report it, through
    `conversation_get_for_participant`."""
    uid = parse_uuid(message_id)
    if uid is None:
        return None
    return Message.objects.filter(pk=uid).values("id", "conversation_id", "sender_id").first()


def message_state(*, message_id: Any) -> dict[str, Any]:
    """{body, removed} of a message for the moderation audit log ({} for an
    unknown id)."""
    row = Message.objects.filter(pk=message_id).values("body", "data").first()
    if row is None:
        return {}
    return {"body": row["body"], "removed": bool((row["data"] or {}).get("removed"))}


def message_excerpt(*, message_id: Any, around: int = 5) -> list[dict[str, Any]] | None:
    """The message with up to `around` messages either side of it in its
    conversation, oldest first, the message itself marked `flagged` (two
    queries); None for an unknown id."""
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        return None
    nearby = Message.objects.filter(
        conversation_id=message.conversation_id,
        seq__gte=message.seq - around, seq__lte=message.seq + around,
    ).order_by("seq")
    return [
        {"id": str(m.pk), "seq": m.seq, "sender_id": str(m.sender_id or ""),
         "body": m.body, "at": m.created_at.isoformat(), "flagged": m.pk == message.pk}
        for m in nearby
    ]


def blocked_user_ids(user_id: Any) -> set[Any]:
    """Users `user_id` blocked or was blocked by (the feed hides their listings)."""
    from chat.models import Block

    rows = Block.objects.filter(Q(blocker_id=user_id) | Q(blocked_id=user_id)).values_list(
        "blocker_id", "blocked_id"
    )
    return {b if a == user_id or str(a) == str(user_id) else a for a, b in rows}


# --- dashboards (KPIs) --------------------------------------------------------------------------

RESPONSE_WINDOW_SECONDS = 24 * 3600


def seller_response_stats(*, seller: Any, since: Any, now: Any = None) -> dict[str, Any]:
    """How quickly and how often the seller answers buyers, over the
    conversations whose first buyer message falls in [since, now]:

    - `median_seconds`: median time from the buyer's first message to the
      seller's first message after it, over the answered conversations;
    - `rate`: share answered within 24 h, over those already decided (answered
      at all, or asked more than 24 h ago): one asked an hour ago and not yet
      answered is not counted against the seller yet.
    One query (two correlated subqueries on the message index)."""
    import statistics

    from django.db.models import OuterRef, Subquery
    from django.utils import timezone

    now = now or timezone.now()
    asked = (
        Message.objects.filter(conversation=OuterRef("pk"), sender_id=OuterRef("buyer_id"))
        .order_by("seq").values("created_at")[:1]
    )
    replied = (
        Message.objects.filter(conversation=OuterRef("pk"), sender_id=OuterRef("seller_id"),
                               created_at__gte=OuterRef("asked_at"))
        .order_by("seq").values("created_at")[:1]
    )
    rows = (
        Conversation.objects.filter(seller=seller)
        .annotate(asked_at=Subquery(asked))
        .filter(asked_at__gte=since, asked_at__lte=now)
        .annotate(replied_at=Subquery(replied))
        .values_list("asked_at", "replied_at")
    )
    waits: list[float] = []
    decided = within = 0
    for asked_at, replied_at in rows:
        if replied_at is not None:
            wait = (replied_at - asked_at).total_seconds()
            waits.append(wait)
            decided += 1
            within += wait <= RESPONSE_WINDOW_SECONDS
        elif (now - asked_at).total_seconds() > RESPONSE_WINDOW_SECONDS:
            decided += 1
    return {
        "conversations": len(rows),
        "answered": len(waits),
        "median_seconds": statistics.median(waits) if waits else None,
        "answered_within_24h": within,
        "rate": round(within / decided, 4) if decided else None,
    }
