#!/usr/bin/env python
"""Analytics and feed benchmark.

    .venv/bin/python tests/load/bench_analytics.py [--events 20000] [--listings 2000]

Prints:

* track         - `track()` per call (one RPUSH to Redis; REDIS_URL, default db 14);
* flush         - events written per second by `flush_events()` (LPOP + bulk_create);
* refresh       - rebuilding the co-occurrence table from the logged events;
* feed          - `GET /api/feed` for a user with 50 events of history, and
                  anonymously with lat/lon (cold start), through the test client.

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/marketplace_bench_analytics
(created and migrated if missing; its bench rows are replaced each run). It
prints figures and exits 0; it is not a pass/fail test.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.load.benchdb import ensure_database  # noqa: E402

os.environ.setdefault(
    "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/marketplace_bench_analytics"
)
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
os.environ["API_THROTTLING"] = "off"
os.environ.setdefault("LOG_LEVEL", "WARNING")


def pct(samples: list[float], q: float) -> float:
    ms = sorted(s * 1000 for s in samples)
    return ms[min(len(ms) - 1, int(q * len(ms)))]


def main() -> None:  # noqa: PLR0915 - a linear script
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--listings", type=int, default=2000)
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.utils import timezone
    from rest_framework.test import APIClient

    from listings.models import Category, Listing
    from marketplace.accounts.models import User
    from marketplace.analytics import services
    from marketplace.analytics.models import Event, ItemSimilarity
    from search import recommend

    rng = random.Random(1)  # noqa: S311 - benchmark data
    Event.objects.all().delete()
    ItemSimilarity.objects.all().delete()
    Listing.objects.filter(seller__username__startswith="abench").delete()
    User.objects.filter(username__startswith="abench").delete()
    users = User.objects.bulk_create(
        [User(username=f"abench{i}", email=f"abench{i}@example.com", password="!")
         for i in range(500)]
    )
    categories = list(Category.objects.all()[:20])
    now = timezone.now()
    listings = Listing.objects.bulk_create(
        [
            Listing(seller=users[i % 50], category=categories[i % len(categories)],
                    title=f"Bench item {i}", condition="good", price_minor=1000 + i,
                    price_currency="CNY", status="active", published_at=now,
                    location_lat=31.2 + rng.random() / 10, location_lon=121.4 + rng.random() / 10)
            for i in range(args.listings)
        ]
    )
    print(f"analytics benchmark ({args.events} events, {args.listings} listings)")

    samples = []
    for _ in range(args.events):
        user = users[rng.randrange(len(users))]
        listing = listings[(hash(user.pk) % 40 * 50 + rng.randrange(50)) % len(listings)]
        t0 = time.perf_counter()
        services.track("listing_viewed", user=user, listing_id=listing.id)
        samples.append(time.perf_counter() - t0)
    print(f"track:   p50 {pct(samples, .5):.3f} ms  p99 {pct(samples, .99):.3f} ms")

    t0 = time.perf_counter()
    written = services.flush_events(max_batches=10_000)
    dt = time.perf_counter() - t0
    print(f"flush:   {written} events in {dt:.2f} s = {written / dt:,.0f} events/s")

    t0 = time.perf_counter()
    rows = recommend.refresh()
    print(f"refresh: {rows} similarity rows in {time.perf_counter() - t0:.2f} s")

    client = APIClient()
    client.force_authenticate(users[0])
    anon = APIClient()
    for name, c, params in (("feed (user)", client, {}),
                            ("feed (anonymous, lat/lon)", anon, {"lat": 31.25, "lon": 121.45})):
        samples = []
        for _ in range(50):
            t0 = time.perf_counter()
            response = c.get("/api/feed", params)
            samples.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.content
        print(f"{name}: p50 {pct(samples, .5):.1f} ms  p99 {pct(samples, .99):.1f} ms")


if __name__ == "__main__":
    main()
