#!/usr/bin/env python
"""Dashboard benchmark: what one dashboard read costs on a filled database.

    .venv/bin/python tests/load/bench_dashboards.py [--events 200000] [--listings 5000]

Fills the event log (spread over 120 days), listings of 500 sellers, orders
and conversations with messages, then for the operator dashboard, one seller's
dashboard (the busiest seller) and the moderation dashboard, at 30 and 90 days:
SQL queries per read, and CPU time of this process (Python) and wall time per
read, median of 5 (PostgreSQL's own CPU is in the wall time, not in the CPU).

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/marketplace_bench_dashboards
(created and migrated if missing; its bench rows are replaced each run). It
prints figures and exits 0; it is not a pass/fail test.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.load.benchdb import ensure_database  # noqa: E402

os.environ.setdefault(
    "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/marketplace_bench_dashboards"
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

KINDS = (("listing_viewed", 80), ("searched", 10), ("favourited", 5), ("chat_started", 2),
         ("offer_made", 1.5), ("order_paid", 1), ("order_completed", 0.5))


def fill(args: argparse.Namespace) -> object:  # noqa: PLR0915 - a linear script
    from django.utils import timezone

    from chat.models import Conversation, Message
    from listings.models import Category, Listing
    from marketplace.accounts.models import User
    from marketplace.analytics.models import Event
    from trust.models import Order

    rng = random.Random(1)  # noqa: S311 - benchmark data
    now = timezone.now()
    print("filling ...", flush=True)
    Event.objects.all().delete()
    Message.objects.filter(conversation__seller__username__startswith="dbench").delete()
    Conversation.objects.filter(seller__username__startswith="dbench").delete()
    Order.objects.filter(seller__username__startswith="dbench").delete()
    Listing.objects.filter(seller__username__startswith="dbench").delete()
    User.objects.filter(username__startswith="dbench").delete()
    users = User.objects.bulk_create([
        User(username=f"dbench{i}", email=f"dbench{i}@example.com", password="!",
             date_joined=now - timedelta(days=rng.randint(0, 400)))
        for i in range(2000)
    ])
    sellers = users[:500]
    categories = list(Category.objects.all()[:20])
    statuses = ["active"] * 7 + ["sold", "withdrawn", "pending_review", "draft", "expired"]
    listings = Listing.objects.bulk_create([
        Listing(seller=sellers[int(rng.paretovariate(1.2)) % 500],
                category=categories[i % len(categories)], title=f"Bench item {i}",
                condition="good", price_minor=rng.randint(1_000, 500_000),
                price_currency="CNY", status=rng.choice(statuses),
                fraud_score=rng.random())
        for i in range(args.listings)
    ], batch_size=2000)
    Listing.objects.filter(title__startswith="Bench item").update(
        created_at=now - timedelta(days=60))
    kinds, weights = zip(*KINDS, strict=True)
    words = ["bike", "lamp", "sofa", "zither", "camera", "desk", "iphone", "guitar", "pram"]
    batch: list[Event] = []
    for _ in range(args.events):
        kind = rng.choices(kinds, weights)[0]
        user = rng.choice(users) if rng.random() < 0.7 else None
        listing = rng.choice(listings)
        batch.append(Event(
            kind=kind, at=now - timedelta(seconds=rng.randint(0, 120 * 86400)),
            user_id=user.pk if user else None, visitor="" if user else f"v{rng.randint(0, 9999)}",
            listing_id=None if kind == "searched" else listing.pk,
            props={"q": rng.choice(words), "results": rng.choice([0, 0, 3, 12])}
            if kind == "searched" else {},
        ))
        if len(batch) == 5000:
            Event.objects.bulk_create(batch)
            batch = []
    Event.objects.bulk_create(batch)
    sold = [x for x in listings if x.status == "sold"]
    orders = Order.objects.bulk_create([
        Order(listing=x, buyer=rng.choice(users[500:]), seller=x.seller, price_minor=x.price_minor,
              fee_minor=100, currency="CNY", status=rng.choice(["completed", "paid", "refunded"]),
              pay_by=now, paid_at=now - timedelta(days=rng.randint(0, 100)),
              dispute_state=rng.choice([""] * 19 + ["resolved"]))
        for x in sold
    ])
    busiest = max(sellers, key=lambda s: sum(1 for x in listings if x.seller_id == s.pk))
    mine = [x for x in listings if x.seller_id == busiest.pk][:200]
    conversations = Conversation.objects.bulk_create([
        Conversation(listing=x, buyer=users[500 + i], seller=busiest)
        for i, x in enumerate(mine)
    ])
    messages = []
    for c in conversations:
        asked = now - timedelta(days=rng.randint(0, 100), minutes=rng.randint(0, 1440))
        messages.append(Message(conversation=c, seq=1, sender_id=c.buyer_id, body="hi",
                                created_at=asked))
        if rng.random() < 0.8:
            messages.append(Message(conversation=c, seq=2, sender_id=busiest.pk, body="yes",
                                    created_at=asked + timedelta(minutes=rng.randint(1, 3000))))
    Message.objects.bulk_create(messages)
    owned = sum(1 for x in listings if x.seller_id == busiest.pk)
    print(f"events {Event.objects.count():,}, listings {len(listings):,} (busiest seller has "
          f"{owned}), orders {len(orders):,}, conversations {len(conversations)}", flush=True)
    return busiest


def measure(label: str, fn) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fn()  # warm
    cpu, wall = [], []
    for _ in range(5):
        with CaptureQueriesContext(connection) as queries:
            c0, w0 = time.process_time(), time.perf_counter()
            fn()
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
    print(f"{label:32} {len(queries.captured_queries):3} queries  "
          f"CPU {statistics.median(cpu) * 1000:7.1f} ms  "
          f"wall {statistics.median(wall) * 1000:7.1f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--listings", type=int, default=5000)
    args = parser.parse_args()
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from frontend import views_dashboards as dashboards

    busiest = fill(args)
    for days in (30, 90):
        measure(f"ops dashboard, {days} days", lambda d=days: dashboards.ops_dashboard_data(days=d))
        measure(f"seller dashboard, {days} days",
                lambda d=days: dashboards.seller_dashboard_data(user=busiest, days=d))
        measure(f"moderation dashboard, {days} days",
                lambda d=days: dashboards.moderation_dashboard_data(days=d))


if __name__ == "__main__":
    main()
