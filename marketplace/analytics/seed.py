"""Demo analytics events for `seed_demo` (after listings, chat and orders).

A few thousand events over the last 30 days, as the site would have logged
them: demo users and anonymous visitors (daily visitor hashes) browsing
listings mostly in the categories they care about, searching (some searches
find nothing), and favouriting what they favourited in the listings seeder.
They are written in bulk, not through `track()`: this is history, not
traffic. The events the outbox handlers logged for the seeded conversations,
offers and orders (`chat_started`, `offer_made`, `order_paid`,
`order_completed`) are flushed first and moved to the back-dated times of
what caused them. Deterministic for a given --seed.

The kernel imports no app: everything about listings comes from the seed
context (the listing objects, and through them their model's manager).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from marketplace.analytics import services
from marketplace.analytics.models import Event, EventKind
from marketplace.seeding import SeedContext

DAYS = 30
VISITORS_PER_DAY = 14  # anonymous visitors a day at --scale 1
# What people type; the second group finds nothing in the demo catalogue
# (the operator dashboard lists them as failed searches).
SEARCHES = ["iphone", "macbook", "ipad", "sony", "camera", "bike", "sofa", "ikea", "lego",
            "dyson", "nike", "jacket", "guitar", "stroller", "三体", "自行车", "相机", "沙发",
            "小米", "乐高"]
FAILED_SEARCHES = ["ps5 digital edition", "nintendo switch oled", "kindle paperwhite",
                   "戴森吹风机", "leica m6", "vitamix blender"]
VISIBLE = ("active", "reserved", "sold")


def seed_events(ctx: SeedContext) -> None:
    listings = list(ctx.shared.get("listings") or [])
    users = list(ctx.shared.get("users") or [])
    if not listings or not users:
        ctx.say("  no demo listings or users; skipping analytics events")
        return
    rng = ctx.rng
    now = timezone.now()
    moved = _backdate_tracked(ctx)

    manager = type(listings[0])._default_manager
    rows = list(
        manager.filter(pk__in=[li.pk for li in listings], status__in=VISIBLE,
                       published_at__isnull=False)
        .order_by("published_at", "pk")
        .values_list("id", "seller_id", "category_id", "published_at", "title")
    )
    if not rows:
        ctx.say("  no published demo listings; skipping analytics events")
        return
    published = [r[3] for r in rows]
    by_category: dict[Any, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_category[row[2]].append(index)
    categories = sorted(by_category, key=str)
    position = {row[0]: i for i, row in enumerate(rows)}

    # Each person cares about two or three categories (those of their favourites first).
    favourites = [(u, lid) for u, lid in ctx.shared.get("favourites") or [] if lid in position]
    liked: dict[Any, list[Any]] = {}
    for user in users:
        own = [rows[position[lid]][2] for u, lid in favourites if u == user.pk]
        picks = list(dict.fromkeys(own))[:2]
        while len(picks) < 3 and len(picks) < len(categories):
            extra = rng.choice(categories)
            if extra not in picks:
                picks.append(extra)
        liked[user.pk] = picks

    events: list[Event] = []
    start = now - timedelta(days=DAYS)

    def moment(day: int) -> datetime:
        # Mostly daytime and evening, never in the future.
        hour = rng.choices(range(24), weights=[1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 5, 6, 6, 5, 5,
                                                5, 6, 7, 8, 8, 7, 4, 2])[0]
        at = start + timedelta(days=day, hours=hour, minutes=rng.uniform(0, 59))
        return min(at, now - timedelta(minutes=rng.uniform(1, 30)))

    def pick_listing(at: datetime, cats: list[Any], seller_id: Any = None) -> tuple | None:
        """A listing already published at `at`, in `cats` four times out of five."""
        live = bisect.bisect_right(published, at)
        if not live:
            return None
        if cats and rng.random() < 0.8:
            # Each category's indexes ascend with publication time: the live
            # ones are a prefix.
            sizes = [bisect.bisect_left(by_category.get(c, []), live) for c in cats]
            k = rng.randrange(sum(sizes)) if sum(sizes) else -1
            for category, size in zip(cats, sizes, strict=True):
                if 0 <= k < size:
                    row = rows[by_category[category][k]]
                    return None if row[1] == seller_id else row
                k -= size
        row = rows[rng.randrange(live)]
        return None if row[1] == seller_id else row

    def session(at: datetime, views: int, cats: list[Any], *, user_id: Any = None,
                visitor: str = "") -> None:
        if rng.random() < 0.45:
            failed = rng.random() < 0.2
            q = rng.choice(FAILED_SEARCHES if failed else SEARCHES)
            found = 0 if failed else sum(1 for r in rows if q.lower() in r[4].lower())
            events.append(Event(kind=EventKind.SEARCHED, at=at, user_id=user_id, visitor=visitor,
                                props={"q": q, "results": found, "filters": {}}))
        for _ in range(views):
            at += timedelta(seconds=rng.uniform(20, 240))
            row = pick_listing(at, cats, seller_id=user_id)
            if row is not None and at < now:
                events.append(Event(kind=EventKind.LISTING_VIEWED, at=at, user_id=user_id,
                                    visitor=visitor, listing_id=row[0]))

    activity = min(1.0, max(0.2, ctx.scale))
    visitors = max(2, round(VISITORS_PER_DAY * ctx.scale))
    for day in range(DAYS + 1):
        for user in users:
            if rng.random() < 0.55:
                session(moment(day), max(2, round(rng.randint(3, 10) * activity)),
                        liked[user.pk], user_id=user.pk)
        for n in range(rng.randint(visitors // 2, visitors)):
            key = f"demo-visitor-{day}-{n}"
            visitor = services.visitor_hash(key, day=(start + timedelta(days=day)).date())
            session(moment(day), rng.randint(1, 6), [rng.choice(categories)], visitor=visitor)

    # Favourites: viewed, then favourited a little later.
    for user_id, listing_id in favourites:
        row = rows[position[listing_id]]
        earliest = max(start, row[3])
        at = earliest + (now - earliest) * rng.uniform(0.05, 0.95)
        events.append(Event(kind=EventKind.LISTING_VIEWED, at=at, user_id=user_id,
                            listing_id=listing_id))
        events.append(Event(kind=EventKind.FAVOURITED, at=at + timedelta(minutes=2),
                            user_id=user_id, listing_id=listing_id))

    events.sort(key=lambda e: e.at)
    for done in range(0, len(events), 1000):
        Event.objects.bulk_create(events[done:done + 1000])
        ctx.progress("events", min(done + 1000, len(events)), len(events))
    kinds = defaultdict(int)
    for event in events:
        kinds[event.kind] += 1
    ctx.say(
        f"  {len(events)} events over {DAYS} days ({kinds[EventKind.LISTING_VIEWED]} views, "
        f"{kinds[EventKind.SEARCHED]} searches, {kinds[EventKind.FAVOURITED]} favourites); "
        f"{moved} conversation, offer and order events moved to their seeded times"
    )


def _backdate_tracked(ctx: SeedContext) -> int:
    """Write what the outbox handlers buffered for the seeded conversations,
    offers and orders, and move each event to when its cause happened."""
    services.flush_events()
    times = ctx.shared.get("event_times") or {}
    moved = 0
    for conversation_id, at in (times.get("conversation") or {}).items():
        moved += Event.objects.filter(
            kind=EventKind.CHAT_STARTED, props__conversation_id=conversation_id
        ).update(at=at)
    for offer_id, at in (times.get("offer") or {}).items():
        moved += Event.objects.filter(kind=EventKind.OFFER_MADE, props__offer_id=offer_id).update(
            at=at)
    orders = {str(o.pk): o for o in ctx.shared.get("orders") or []}
    for order_id, steps in (times.get("order") or {}).items():
        order = orders.get(order_id)
        if order is not None:
            # The buyer's first line came 40 minutes before the order.
            moved += Event.objects.filter(
                kind=EventKind.CHAT_STARTED, user_id=order.buyer_id, listing_id=order.listing_id
            ).update(at=steps["created"] - timedelta(minutes=40))
        if "paid" in steps:
            moved += Event.objects.filter(
                kind=EventKind.ORDER_PAID, props__order_id=order_id).update(at=steps["paid"])
        done = steps.get("completed") or steps.get("handed_over")
        if done is not None:
            moved += Event.objects.filter(
                kind=EventKind.ORDER_COMPLETED, props__order_id=order_id).update(at=done)
    return moved
