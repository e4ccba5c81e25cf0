#!/usr/bin/env python
"""Reputation benchmark: one seller with 10,000 revealed reviews.

    .venv/bin/python tests/load/bench_reputation.py [--reviews 10000] [--repeat 200]

Bulk-creates N buyers, listings, completed orders and revealed reviews (spread
over three years) for one seller, then prints:

* score read   - `reputation_summary(user)`: the profile's reputation from the
                 cached row (one primary-key query + O(1) decay arithmetic).
                 This is "the score computation" of the profile and search
                 (target: under 5 ms);
* search batch - `seller_scores()` for 500 seller ids (one query);
* SQL sums     - the decayed sums as one aggregate query over all reviews,
                 for comparison (what a cache-less read would cost);
* rebuild      - `reputation_recompute_user`: the full recompute (reads every
                 review and penalty, counts, badges), what the
                 `reputation_recompute` command does per user;
* incremental  - one more order reviewed by both sides: the reveal, weighing
                 and the O(1) update of the cached row, end to end.

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/marketplace_bench_reputation
(created and migrated if missing; its bench rows are replaced each run). It
prints figures and exits 0; it is not a pass/fail test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.load.benchdb import ensure_database  # noqa: E402

os.environ.setdefault(
    "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/marketplace_bench_reputation"
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
os.environ["CELERY_BROKER_URL"] = "memory://"
os.environ.setdefault("LOG_LEVEL", "WARNING")


def timed(fn, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples


def show(label: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    print(
        f"  {label:<13} median {statistics.median(ms):8.3f} ms   p95 {p95:8.3f} ms"
        f"   ({len(ms)} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reviews", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from listings.models import Category, Listing
    from trust import reputation
    from trust.models import Order
    from trust.reputation_models import Reputation, Review

    user_model = get_user_model()
    n = args.reviews
    print(f"Preparing a seller with {n:,} revealed reviews ...", flush=True)
    t0 = time.perf_counter()
    with connection.cursor() as cursor:  # a dedicated database: start from empty
        cursor.execute(f'TRUNCATE "{user_model._meta.db_table}" CASCADE')
    now = timezone.now()
    seller = user_model.objects.create_user(
        username="benchrep_seller", email="seller@bench.local", password="x"
    )
    buyers = user_model.objects.bulk_create(
        [
            user_model(
                username=f"benchrep_b{i}",
                email=f"b{i}@bench.local",
                password="!",
                date_joined=now - timedelta(days=1200),
            )
            for i in range(n + 1)
        ],
        batch_size=5000,
    )
    category = Category.objects.get(slug="other")
    listings = Listing.objects.bulk_create(
        [
            Listing(
                seller=seller,
                category=category,
                title=f"Bench item {i}",
                condition="good",
                price_minor=1_000 + (i * 7919) % 200_000,
                price_currency="CNY",
                status="sold",
                published_at=now,
                expires_at=now + timedelta(days=60),
            )
            for i in range(n + 1)
        ],
        batch_size=5000,
    )
    orders = Order.objects.bulk_create(
        [
            Order(
                listing=listing,
                buyer=buyer,
                seller=seller,
                price_minor=listing.price_minor,
                fee_minor=100,
                currency="CNY",
                status="completed",
                pay_by=now,
                paid_at=now,
                closed_at=now - timedelta(days=20),
            )
            for listing, buyer in zip(listings, buyers, strict=True)
        ],
        batch_size=5000,
    )
    last_order, orders = orders[-1], orders[:-1]
    Order.objects.filter(pk=last_order.pk).update(closed_at=now)  # still in its review window
    last_order.closed_at = now
    Review.objects.bulk_create(
        [
            Review(
                order=order,
                author_id=order.buyer_id,
                subject=seller,
                role="buyer",
                rating=(5, 5, 5, 4, 5, 3, 5, 4, 5, 1)[i % 10],
                visible_at=now,
                weight=reputation.value_factor(order.price_minor),
                weight_reasons=[],
            )
            for i, order in enumerate(orders)
        ],
        batch_size=5000,
    )
    with connection.cursor() as cursor:  # spread the reviews over three years
        cursor.execute(
            "UPDATE trust_review SET created_at = now() - random() * interval '1095 days' "
            "WHERE subject_id = %s",
            [seller.pk],
        )
        cursor.execute("ANALYZE trust_review")
    print(f"  prepared in {time.perf_counter() - t0:.1f}s", flush=True)

    rebuild = timed(lambda: reputation.reputation_recompute_user(user_id=seller.pk), 5)
    rep = Reputation.objects.get(user=seller)
    summary = reputation.reputation_summary(seller)
    print(
        f"Seller: {summary['reviews']:,} reviews, score {summary['score']}, "
        f"{summary['completed_orders']:,} completed orders, badges {summary['badges']}"
    )

    read = timed(lambda: reputation.reputation_summary(seller), args.repeat)
    pure = timed(lambda: reputation.reputation_score(rep), args.repeat)
    ids = [seller.pk] + [b.pk for b in buyers[:499]]
    batch = timed(lambda: reputation.seller_scores(ids), 50)

    half_life = reputation.half_life_seconds()

    def sql_sums() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT SUM(weight * rating * d), SUM(weight * d) FROM ("
                " SELECT weight, rating,"
                " power(2, -extract(epoch FROM now() - created_at)::float8 / %s) AS d"
                " FROM trust_review WHERE subject_id = %s AND visible_at IS NOT NULL"
                " AND weight > 0) AS items",
                [half_life, seller.pk],
            )
            cursor.fetchone()

    sql = timed(sql_sums, 50)

    def one_more_review() -> None:
        reputation.review_submit(order=last_order, author=last_order.buyer, rating=5)
        reputation.review_submit(order=last_order, author=seller, rating=5)

    incremental = timed(one_more_review, 1)
    after = Reputation.objects.get(user=seller)
    rebuilt = reputation.reputation_recompute_user(user_id=seller.pk)
    drift = abs(reputation.reputation_score(after) - reputation.reputation_score(rebuilt))

    print("Score read from the cached row (profile / search):")
    show("score read", read)
    show("O(1) formula", pure)
    show("search x500", batch)
    print("Without the cache:")
    show("SQL sums", sql)
    show("rebuild", rebuild)
    print("Keeping the cache:")
    show("incremental", incremental)
    print(f"  incremental vs rebuild score difference: {drift:.2e}")


if __name__ == "__main__":
    main()
