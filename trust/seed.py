"""Demo orders for `seed_demo` (after conversations).

About twenty escrow orders in every state, each run through the escrow
services with the sandbox gateway (card_ok, card_review), so the ledger,
timelines, payments, conversation notes, notifications and moderation's
dispute case are what real use leaves behind; completed orders get both
reviews, which reveals them and builds the sellers' reputation. Afterwards
the timestamps are moved back (orders over the last four weeks, open ones
recent enough that no deadline sweeper touches them) and the reputation rows
are rebuilt from the back-dated reviews.

Nobody trades with more than two people and no two people trade both ways,
so the reputation manipulation checks (closed circles, reciprocal trades)
see ordinary buyers, not a ring.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from chat import services as chat_services
from chat.models import Message
from listings.models import Listing, ListingStatus
from marketplace.seeding import SeedContext
from trust import escrow, ledger, reputation
from trust.models import JournalEntry, Order, OrderEvent, Payment
from trust.reputation_models import Review

ORDERS_PER_SCALE = 20
# The states in the order they are filled: the first nine show every state,
# whatever --scale (which sets the volume beyond them). "buyer"/"seller"
# puts alice on that side when she can be.
PLAN: list[tuple[str, str]] = [
    ("completed", ""), ("paid", "seller"), ("shipped", "buyer"), ("cancelled", ""),
    ("disputed", ""), ("delivered", ""), ("payment_pending", ""), ("refunded", ""),
    ("created", ""), ("completed", "buyer"), ("completed", ""), ("completed", "seller"),
    ("shipped", ""), ("completed", ""), ("paid", ""), ("completed_one_review", ""),
    ("completed", ""), ("cancelled_refund", ""), ("completed", ""), ("completed", ""),
]
EVERY_STATE = 9
SHIPPED_STATES = {"shipped", "delivered", "disputed", "refunded"}
CARRIERS = ["SF Express", "JD Logistics", "DHL", "ZTO Express", "YTO Express"]
BUYER_REVIEWS = [
    (5, "Exactly as described, quick and friendly. Thanks!", "和描述一致，发货很快，卖家很好！"),
    (5, "Great condition, well packed.", "成色很好，包装仔细。"),
    (4, "Good deal, a little slower than expected.", "东西不错，就是发货稍慢。"),
    (5, "Smooth handover, would buy again.", "交易顺利，还会再来。"),
    (3, "OK, a few more marks than in the photos.", "还行，划痕比照片多一点。"),
]
SELLER_REVIEWS = [
    (5, "Paid at once, easy to deal with.", "付款爽快，沟通顺畅。"),
    (5, "Friendly buyer, recommended.", "买家很友好，推荐。"),
]
ASK = ("Hi, I'd like to buy this. Can you send it this week?", "你好，我想买这个，这周能发货吗？")
ANSWER = ("Yes, go ahead and order, I'll ship it quickly.", "可以的，直接下单，我会尽快发。")


def _zh(*people: Any) -> bool:
    return all("zh-Hans" in (p.languages or []) for p in people)


def seed_orders(ctx: SeedContext) -> None:
    users = list(ctx.shared.get("users") or [])
    listing_ids = [listing.pk for listing in ctx.shared.get("listings") or []]
    if len(users) < 2 or not listing_ids:
        ctx.say("  no demo users or listings; skipping orders")
        return
    rng = ctx.rng
    now = timezone.now()
    by_id = {u.pk: u for u in users}
    alice = next((u for u in users if u.username == "alice"), users[0])
    active = list(
        Listing.objects.filter(pk__in=listing_ids, status=ListingStatus.ACTIVE).order_by("pk")
    )
    total = min(len(PLAN), max(EVERY_STATE, round(ORDERS_PER_SCALE * ctx.scale)))
    partners: dict[Any, set[Any]] = {u.pk: set() for u in users}
    sold_to: set[tuple[Any, Any]] = set()
    # Not the listings the chat seeder talked about: their threads keep their own story.
    used: set[Any] = {c.listing_id for c in ctx.shared.get("conversations") or []}
    made: list[tuple[Order, str, dict[str, datetime]]] = []
    counts: Counter[str] = Counter()
    skipped: list[str] = []

    def pick(state: str, alice_role: str) -> tuple[Listing, Any] | None:
        """A listing and a buyer such that nobody trades with more than two
        people and no pair trades both ways."""
        candidates = [li for li in active if li.pk not in used]
        if state in SHIPPED_STATES:
            candidates = [li for li in candidates if li.ships]
        if alice_role == "seller":
            candidates = [li for li in candidates if li.seller_id == alice.pk] or candidates
        rng.shuffle(candidates)
        for listing in candidates:
            buyers = [alice] if alice_role == "buyer" else rng.sample(users, len(users))
            for buyer in buyers:
                seller_id = listing.seller_id
                if buyer.pk == seller_id or (buyer.pk, seller_id) in sold_to:
                    continue
                new = seller_id not in partners[buyer.pk]
                if new and (len(partners[buyer.pk]) >= 2 or len(partners[seller_id]) >= 2):
                    continue
                return listing, buyer
        return None

    for index, (state, alice_role) in enumerate(PLAN[:total]):
        chosen = pick(state, alice_role) or pick(state, "")
        if chosen is None:
            break
        listing, buyer = chosen
        seller = by_id[listing.seller_id]
        used.add(listing.pk)
        try:
            with transaction.atomic():
                order, times = _run(state, listing, buyer, seller, rng, now)
        except Exception as exc:  # noqa: BLE001 - the driver's own errors too (sqlite3)
            # One order that cannot be made must not cost the whole demo
            # (e.g. a database the ledger's SQL does not support).
            skipped.append(f"{state}: {exc}".splitlines()[0][:160])
            continue
        partners[buyer.pk].add(seller.pk)
        partners[seller.pk].add(buyer.pk)
        sold_to.add((seller.pk, buyer.pk))
        order = Order.objects.get(pk=order.pk)
        made.append((order, state, times))
        counts[order.status] += 1
        ctx.progress("orders", index + 1, total)

    for order, state, times in made:
        _backdate(order, state, times)
    reviewed = {uid for order, _, _ in made for uid in (order.buyer_id, order.seller_id)}
    for uid in sorted(reviewed, key=str):
        reputation.reputation_recompute_user(user_id=uid)

    report = ledger.audit()
    ctx.shared["orders"] = [order for order, _, _ in made]
    ctx.shared.setdefault("event_times", {})["order"] = {
        str(order.pk): times for order, _, times in made
    }
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    ctx.say(
        f"  {len(made)} orders ({summary}), {Review.objects.count()} reviews; "
        f"ledger audit {'passes' if report.ok else 'FAILS: ' + '; '.join(report.breaches[:3])}"
    )
    if skipped:
        ctx.say(f"  {len(skipped)} orders could not be made, first: {skipped[0]}")


def _run(state: str, listing: Listing, buyer: Any, seller: Any, rng: Any, now: datetime
         ) -> tuple[Order, dict[str, datetime]]:
    """Take one order to `state` through the services; returns it and the
    (back-dated) time of each step."""
    zh = _zh(buyer, seller)
    conversation, _ = chat_services.conversation_start(listing_id=listing.pk, buyer=buyer)
    for sender, line in ((buyer, ASK), (seller, ANSWER)):
        chat_services.message_send(
            conversation=conversation, sender=sender, body=line[1] if zh else line[0],
            client_id=f"seed-order-{conversation.pk}"[:60] + ("b" if sender is buyer else "s"),
            broadcast=False)
    order = escrow.order_create(buyer=buyer, listing_id=listing.pk)
    if state == "created":
        return order, {"created": now - timedelta(minutes=rng.uniform(2, 10))}
    if state == "cancelled":
        escrow.order_cancel(order=order, actor=buyer, reason="Changed my mind, sorry.")
        start = now - timedelta(days=rng.uniform(5, 20))
        return order, {"created": start, "cancelled": start + timedelta(hours=2)}
    if state == "payment_pending":
        escrow.order_pay(order=order, buyer=buyer, payment_method="card_review",
                         idempotency_key="seed")
        start = now - timedelta(minutes=rng.uniform(5, 15))
        return order, {"created": start, "payment_pending": start + timedelta(minutes=2)}
    escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok", idempotency_key="seed")

    if state == "paid":
        start = now - timedelta(hours=rng.uniform(2, 20))
        return order, {"created": start, "paid": start + timedelta(minutes=8)}
    if state == "cancelled_refund":
        escrow.order_cancel(order=order, actor=seller, reason="Sorry, it broke while packing.")
        start = now - timedelta(days=rng.uniform(6, 14))
        return order, {"created": start, "paid": start + timedelta(minutes=8),
                       "cancelled": start + timedelta(days=1)}

    completed = state in ("completed", "completed_one_review")
    if completed and order.delivery == "handover":
        escrow.order_handover(order=order, seller=seller, code=order.handover_code)
        start = now - timedelta(days=rng.uniform(4, 28) if state == "completed" else 2.5)
        times = {"created": start, "paid": start + timedelta(minutes=8),
                 "handed_over": start + timedelta(days=1, hours=3)}
        _reviews(order, buyer, seller, state, rng, zh)
        return order, times

    escrow.order_ship(order=order, seller=seller, carrier=rng.choice(CARRIERS),
                      tracking=f"SX{rng.randrange(10**9, 10**10)}")
    if state == "shipped":
        start = now - timedelta(days=rng.uniform(1.5, 3))
        return order, {"created": start, "paid": start + timedelta(minutes=8),
                       "shipped": start + timedelta(days=1)}
    escrow.order_mark_delivered(order=order, source="carrier")
    if state == "delivered":
        start = now - timedelta(days=3, hours=rng.uniform(0, 10))
        return order, {"created": start, "paid": start + timedelta(minutes=8),
                       "shipped": start + timedelta(days=1), "delivered": now - timedelta(hours=9)}
    if state in ("disputed", "refunded"):
        if state == "disputed":
            escrow.order_dispute(
                order=order, buyer=buyer, reason="damaged",
                details="The screen arrived cracked; photos attached in the chat.")
            start = now - timedelta(days=4)
        else:
            escrow.order_dispute(order=order, buyer=buyer, reason="not_as_described",
                                 details="It is a different model from the listing.")
            escrow.dispute_seller_respond(order=order, seller=seller, action="refund",
                                          note="Sorry, my mistake: refunded.")
            start = now - timedelta(days=rng.uniform(10, 20))
        times = {"created": start, "paid": start + timedelta(minutes=8),
                 "shipped": start + timedelta(days=1), "delivered": start + timedelta(days=3),
                 "disputed": start + timedelta(days=3, hours=5),
                 "escalated": start + timedelta(days=3, hours=5),
                 "refunded": start + timedelta(days=3, hours=20)}
        return order, times
    escrow.order_confirm(order=order, buyer=buyer)
    start = now - timedelta(days=rng.uniform(5, 28) if state == "completed" else 4.5)
    times = {"created": start, "paid": start + timedelta(minutes=8),
             "shipped": start + timedelta(days=1), "delivered": start + timedelta(days=2, hours=6),
             "completed": start + timedelta(days=2, hours=9)}
    _reviews(order, buyer, seller, state, rng, zh)
    return order, times


def _reviews(order: Order, buyer: Any, seller: Any, state: str, rng: Any, zh: bool) -> None:
    rating, english, chinese = rng.choice(BUYER_REVIEWS)
    reputation.review_submit(order=order, author=buyer, rating=rating,
                             comment=chinese if zh else english)
    if state == "completed":
        rating, english, chinese = rng.choice(SELLER_REVIEWS)
        reputation.review_submit(order=order, author=seller, rating=rating,
                                 comment=chinese if zh else english)


def _backdate(order: Order, state: str, times: dict[str, datetime]) -> None:
    """Move the order's history to `times` (action -> when): the order's own
    timestamps and deadlines, its timeline, payment, journal entries, reviews,
    conversation lines and the listing's status change."""
    from django.conf import settings

    locked = Order.objects.get(pk=order.pk)
    created = times["created"]
    paid = times.get("paid")
    closed = next((times[a] for a in ("handed_over", "completed", "cancelled", "refunded")
                   if a in times), None)
    update: dict[str, Any] = {
        "created_at": created,
        "pay_by": created + timedelta(minutes=settings.ESCROW_PAY_WITHIN_MINUTES),
    }
    if paid:
        update["paid_at"] = paid
        if locked.ship_by:
            update["ship_by"] = escrow.add_business_days(
                paid, settings.ESCROW_SHIP_WITHIN_BUSINESS_DAYS)
    if locked.shipped_at and "shipped" in times:
        update["shipped_at"] = times["shipped"]
    if locked.delivered_at and "delivered" in times:
        update["delivered_at"] = times["delivered"]
    if locked.release_at:
        if locked.status == "delivered":
            update["release_at"] = times["delivered"] + timedelta(
                hours=settings.ESCROW_CONFIRM_WINDOW_HOURS)
        elif locked.status == "shipped":
            update["release_at"] = times["shipped"] + timedelta(days=14)
    if locked.closed_at and closed:
        update["closed_at"] = closed
    Order.objects.filter(pk=order.pk).update(**update)

    events = list(OrderEvent.objects.filter(order_id=order.pk).order_by("at", "pk"))
    previous = created
    for event in events:
        at = times.get(event.action, previous)
        OrderEvent.objects.filter(pk=event.pk).update(at=at)
        previous = at
    if paid:
        Payment.objects.filter(order_id=order.pk).update(created_at=paid, settled_at=paid)
    for entry in JournalEntry.objects.filter(order_id=order.pk):
        at = paid if entry.kind == "payment" else (closed or paid)
        if at:
            JournalEntry.objects.filter(pk=entry.pk).update(created_at=at)
    if closed:
        for offset, review in enumerate(Review.objects.filter(order_id=order.pk).order_by("pk")):
            written = closed + timedelta(hours=3 + 5 * offset)
            Review.objects.filter(pk=review.pk).update(
                created_at=written, updated_at=written,
                visible_at=closed + timedelta(hours=8) if review.visible_at else None)
        Listing.objects.filter(pk=order.listing_id).update(status_changed_at=closed)

    # The conversation: the two people's lines a little before the order,
    # then each system note at its step (notes follow the timeline's order).
    messages = list(
        Message.objects.filter(conversation__listing_id=order.listing_id,
                               conversation__buyer_id=order.buyer_id).order_by("seq"))
    steps = [times.get(e.action, created) for e in events
             if e.action not in ("payment_pending", "escalated")]
    human = [m for m in messages if m.sender_id is not None]
    notes = [m for m in messages if m.sender_id is None]
    for offset, message in enumerate(human):
        at = created - timedelta(minutes=40 - 15 * offset)
        Message.objects.filter(pk=message.pk).update(created_at=at)
    last = created
    for offset, message in enumerate(notes):
        last = steps[offset] if offset < len(steps) else last + timedelta(minutes=1)
        Message.objects.filter(pk=message.pk).update(created_at=last)
    if messages:
        from chat.models import Conversation

        Conversation.objects.filter(pk=messages[0].conversation_id).update(
            created_at=created - timedelta(minutes=40), last_message_at=max(last, created))
