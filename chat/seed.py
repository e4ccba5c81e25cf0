"""Demo conversations for `seed_demo` (after users and listings).

A dozen conversations between demo users about active listings, in English
or Chinese by who is talking, made through chat's services (so messages are
numbered, outbox events exist and the message checks run as in real use).
Two of alice's conversations carry offers: one the seller countered (waiting
for alice's answer) and one the seller accepted (the listing is reserved for
alice's checkout). alice has unread messages. Timestamps are spread over the
last 30 days afterwards; offer threads stay within the offer lifetime so the
open counter-offer does not expire at the next beat.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from chat import services
from chat.models import Conversation, Message, Offer
from listings import selectors as listing_selectors
from listings.models import Listing, ListingStatus
from marketplace.money import currency_exponent
from marketplace.seeding import SeedContext

CONVERSATIONS_PER_SCALE = 12

# (who speaks, English, Chinese); "b" is the buyer, "s" the seller.
SCRIPT: list[tuple[str, str, str]] = [
    ("b", "Hi! Is the {title} still available?", "你好，{title}还在吗？"),
    ("s", "Yes, it is. Happy to answer any questions.", "在的，有问题随时问。"),
    ("b", "Great. Any scratches or problems I should know about?",
     "有没有划痕或者什么问题？"),
    ("s", "Only light signs of use, everything works. I can send more photos if you like.",
     "只有轻微使用痕迹，功能都正常，需要的话可以再拍几张照片。"),
    ("b", "Could I pick it up this weekend?", "周末可以自提吗？"),
    ("s", "Sure, Saturday afternoon works for me.", "可以，周六下午方便。"),
]
OFFER_LINES = {
    "ask": ("Would you take a bit less for it?", "价格还能再便宜一点吗？"),
    "counter": ("I can come down a little, see my counter-offer.",
                "可以稍微便宜一点，看看我的还价。"),
    "accept": ("Deal! It's yours, go ahead and check out.", "成交！可以直接下单了。"),
}


def _chinese(*people: Any) -> bool:
    return all("zh-Hans" in (p.languages or []) for p in people)


def _line(pair: tuple[str, str], chinese: bool, **fmt: Any) -> str:
    return (pair[1] if chinese else pair[0]).format(**fmt)


def _short(title: str) -> str:
    return title if len(title) <= 40 else title[:38] + "…"


def _offer_amount(price_minor: int, percent: int) -> int:
    """`percent` of the price, rounded down to a whole major unit (as people offer)."""
    unit = 10 ** currency_exponent(settings.MARKETPLACE_CURRENCY)
    return max(unit, price_minor * percent // 100 // unit * unit)


def seed_chat(ctx: SeedContext) -> None:
    users = list(ctx.shared.get("users") or [])
    listing_ids = [listing.pk for listing in ctx.shared.get("listings") or []]
    if len(users) < 2 or not listing_ids:
        ctx.say("  no demo users or listings; skipping conversations")
        return
    rng = ctx.rng
    alice = next((u for u in users if u.username == "alice"), users[0])
    active = list(
        Listing.objects.filter(pk__in=listing_ids, status=ListingStatus.ACTIVE).order_by("pk")
    )
    # Interest first: people write about what they favourited (and the
    # analytics seeder turns these favourites into events).
    favourites: list[tuple[Any, Any]] = []
    for user in users:
        for listing_id in listing_selectors.favorites_for_user(user=user).values_list(
            "pk", flat=True
        ):
            favourites.append((user.pk, listing_id))
    ctx.shared["favourites"] = favourites
    favoured = {(u, lid) for u, lid in favourites}

    total = max(4, round(CONVERSATIONS_PER_SCALE * ctx.scale))
    used: set[Any] = set()
    now = timezone.now()
    times: dict[str, dict[str, datetime]] = {"conversation": {}, "offer": {}}
    conversations: list[Conversation] = []
    unread_for_alice = 0

    def pick(buyer: Any, *, negotiable: bool = False) -> Listing | None:
        pool = [
            li for li in active
            if li.pk not in used and li.seller_id != buyer.pk and (li.negotiable or not negotiable)
        ]
        if not pool:
            return None
        liked = [li for li in pool if (buyer.pk, li.pk) in favoured]
        listing = rng.choice(liked or pool)
        used.add(listing.pk)
        return listing

    # 1-2: alice's offer threads (recent: an open offer lives CHAT_OFFER_TTL_HOURS).
    offer_threads: list[tuple[Conversation, list[Message], Offer, str]] = []
    for outcome in ("countered", "accepted"):
        listing = pick(alice, negotiable=True)
        if listing is None:
            break
        seller = next(u for u in users if u.pk == listing.seller_id)
        chinese = _chinese(alice, seller)
        conversation, _ = services.conversation_start(listing_id=listing.pk, buyer=alice)
        messages = _talk(conversation, alice, seller, listing, 2, chinese, tag="o")
        messages.append(services.message_send(
            conversation=conversation, sender=alice, body=_line(OFFER_LINES["ask"], chinese),
            client_id=f"seed-{conversation.pk}-ask", broadcast=False)[0])
        offer = services.offer_make(
            conversation=conversation, buyer=alice,
            amount_minor=_offer_amount(listing.price_minor, rng.choice((80, 85, 88))),
            client_id=f"seed-{conversation.pk}-offer",
        )
        if outcome == "countered":
            final = services.offer_counter(
                offer=offer, actor=seller,
                amount_minor=_offer_amount(listing.price_minor, rng.choice((92, 94, 95))),
                client_id=f"seed-{conversation.pk}-counter",
            )
            reply = OFFER_LINES["counter"]
        else:
            final = services.offer_accept(offer=offer, actor=seller)
            reply = OFFER_LINES["accept"]
        services.message_send(
            conversation=conversation, sender=seller, body=_line(reply, chinese),
            client_id=f"seed-{conversation.pk}-reply", broadcast=False)
        offer_threads.append((conversation, messages, final, outcome))
        conversations.append(conversation)

    # The rest: plain questions about active listings, alice in about a third.
    while len(conversations) < total:
        buyer = alice if len(conversations) % 3 == 0 else rng.choice(users)
        listing = pick(buyer)
        if listing is None:
            break
        seller = next(u for u in users if u.pk == listing.seller_id)
        length = rng.randint(3, len(SCRIPT))
        if alice.pk in (buyer.pk, seller.pk) and unread_for_alice < 3:
            # End on the other person's line (the script alternates buyer,
            # seller, ...), so alice has something unread.
            want_even = buyer.pk == alice.pk
            if (length % 2 == 0) != want_even:
                length = length - 1 if length > 3 else length + 1
        conversation, _ = services.conversation_start(listing_id=listing.pk, buyer=buyer)
        _talk(conversation, buyer, seller, listing, length, _chinese(buyer, seller), tag="q")
        conversations.append(conversation)
        if alice.pk in (buyer.pk, seller.pk) and unread_for_alice < 3:
            unread_for_alice += 1

    # Read markers: everyone has read everything, except alice's last incoming lines.
    for conversation in conversations:
        messages = list(Message.objects.filter(conversation=conversation).order_by("seq"))
        for party_id in (conversation.buyer_id, conversation.seller_id):
            party = next(u for u in users if u.pk == party_id)
            upto = messages[-1]
            if party_id == alice.pk:
                own = [m for m in messages if m.sender_id == alice.pk]
                if own and messages[-1].sender_id != alice.pk:
                    upto = own[-1]  # what came after her last line is unread
            services.read_mark(conversation=conversation, user=party, up_to=upto.pk)

    # Back-date: questions spread over 30 days, offer threads within the last hours.
    for conversation in conversations:
        messages = list(Message.objects.filter(conversation=conversation).order_by("seq"))
        offer_thread = any(c.pk == conversation.pk for c, *_ in offer_threads)
        if offer_thread:
            start = now - timedelta(hours=rng.uniform(5, 10))
            step = (3, 40)
        else:
            listing = next(li for li in active if li.pk == conversation.listing_id)
            earliest = max(now - timedelta(days=30), listing.published_at or listing.created_at)
            span = max(60.0, (now - earliest).total_seconds() - 6 * 3600)
            start = earliest + timedelta(seconds=rng.uniform(0, span))
            step = (2, 180)
        at, sent_at = start, {}
        for message in messages:
            Message.objects.filter(pk=message.pk).update(created_at=at)
            sent_at[message.pk] = last = at
            at += timedelta(minutes=rng.uniform(*step))
        Conversation.objects.filter(pk=conversation.pk).update(
            created_at=start, last_message_at=last)
        times["conversation"][str(conversation.pk)] = start
        for offer in Offer.objects.filter(conversation=conversation):
            index = next(i for i, m in enumerate(messages) if m.offer_id == offer.pk)
            made_at = sent_at[messages[index].pk]
            # Decided by the next line of the thread (the counter or the acceptance).
            decided_at = sent_at[messages[min(index + 1, len(messages) - 1)].pk]
            Offer.objects.filter(pk=offer.pk).update(
                created_at=made_at,
                expires_at=made_at + timedelta(hours=settings.CHAT_OFFER_TTL_HOURS),
                decided_at=decided_at if offer.decided_at else None,
            )
            times["offer"][str(offer.pk)] = made_at

    ctx.shared["conversations"] = conversations
    ctx.shared.setdefault("event_times", {}).update(times)
    outcomes = ", ".join(f"one offer {o}" for *_, o in offer_threads)
    ctx.say(
        f"  {len(conversations)} conversations ({outcomes or 'no offers'}), "
        f"{Message.objects.filter(conversation__in=conversations).count()} messages; "
        f"alice has unread messages in {_unread(alice, conversations)} of them"
    )


def _talk(conversation: Conversation, buyer: Any, seller: Any, listing: Listing, length: int,
          chinese: bool, *, tag: str) -> list[Message]:
    out = []
    for index, (who, english, chinese_line) in enumerate(SCRIPT[:length]):
        sender = buyer if who == "b" else seller
        body = (chinese_line if chinese else english).format(title=_short(listing.title))
        message, _ = services.message_send(
            conversation=conversation, sender=sender, body=body,
            client_id=f"seed-{tag}-{conversation.pk}-{index}", broadcast=False,
        )
        out.append(message)
    return out


def _unread(user: Any, conversations: list[Conversation]) -> int:
    return sum(
        1 for c in conversations
        if user.pk in (c.buyer_id, c.seller_id)
        and services.conversation_unread_count(conversation=c, user=user) > 0
    )
