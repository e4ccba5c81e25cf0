#!/usr/bin/env python
"""Moderation benchmark: the review queue with 10,000 open cases.

    .venv/bin/python tests/load/bench_moderation.py [--cases 10000] [--requests 300]

1. Creates (or reuses) its own database (MODERATION_BENCH_DATABASE_URL,
   default postgres://postgres@127.0.0.1:5432/marketplace_bench_moderation;
   it must be named *bench*), migrates it and empties it.
2. Creates sellers, one listing per case and --cases open cases (plus 20 %
   as many decided ones, which the queue must skip) with bulk_create, with
   priorities spread as severity x confidence x exposure would spread them.
3. Latency of GET /api/moderation/queue as a moderator through Django's test
   client, in-process (authentication, permission check, pagination with
   count, the listing titles of the page): p50/p95/p99 over --requests calls
   of the first page, a deep page, a source filter and the case detail.
   Target: p95 under 100 ms at 10,000 open cases. GET /api/me is measured
   alongside as the floor the authentication and middleware stack sets.
4. Claim latency (conditional UPDATE + audit row) over 200 cases.

It is a benchmark, not a test: it prints figures and exits 0.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.load.benchdb import ensure_database  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/marketplace_bench_moderation"
# Its own database: `make bench` points DATABASE_URL at a shared one that
# other benchmarks fill; this one empties what it uses.
os.environ["DATABASE_URL"] = os.environ.get("MODERATION_BENCH_DATABASE_URL", DEFAULT_DB)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ["API_THROTTLING"] = "off"
os.environ["DJANGO_DEBUG"] = "false"
os.environ["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
os.environ["CELERY_BROKER_URL"] = "memory://"
os.environ.setdefault("LOG_LEVEL", "WARNING")


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def fill(n_cases: int, rng: random.Random) -> None:
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    from listings.models import Category, Listing
    from marketplace.accounts.models import User
    from moderation.models import Case, CaseSource, Report, ReportReason

    with connection.cursor() as cursor:
        # TRUNCATE is not an UPDATE/DELETE: the audit log's trigger allows emptying it here.
        cursor.execute(
            "TRUNCATE moderation_report, moderation_appeal, moderation_decision, "
            "moderation_suspension, moderation_case, moderation_auditlog, "
            "moderation_photohash, listings_photo, listings_listing, accounts_user CASCADE"
        )
    password = make_password(None)
    sellers = User.objects.bulk_create(
        [User(username=f"benchmod{i}", email=f"benchmod{i}@example.com", password=password)
         for i in range(1000)], batch_size=1000,
    )
    other = Category.objects.get(slug="other")
    now = timezone.now()
    total = n_cases + n_cases // 5
    started = time.perf_counter()
    listings = Listing.objects.bulk_create(
        [Listing(seller=rng.choice(sellers), category=other, title=f"Bench listing {i}",
                 description="Something reported", condition="good", price_minor=10_000,
                 price_currency="CNY", status="active", published_at=now,
                 expires_at=now + timedelta(days=60), view_count=rng.randint(0, 5000))
         for i in range(total)], batch_size=5000,
    )
    sources = [CaseSource.REPORT, CaseSource.FRAUD_HOLD, CaseSource.PROHIBITED_RULE,
               CaseSource.DUPLICATE_PHOTO, CaseSource.MESSAGE_FLAG]
    cases = []
    for i, listing in enumerate(listings):
        source = rng.choice(sources)
        severity, confidence = rng.uniform(0.3, 1.0), rng.uniform(0.3, 1.0)
        exposure = 1 + rng.uniform(0, 4)
        cases.append(Case(
            target_type="listing", target_id=listing.pk, subject_id=listing.seller_id,
            listing_id=listing.pk, source=source, sources=[source],
            reasons=[f"{source}: bench reason"], fraud_score=rng.random(),
            severity=severity, confidence=confidence, exposure=exposure,
            priority=severity * confidence * exposure, reporter_count=rng.randint(0, 5),
            status="open" if i < n_cases else "decided",
            sla_due_at=now + timedelta(hours=rng.randint(-10, 72)),
        ))
    cases = Case.objects.bulk_create(cases, batch_size=5000)
    reporters = sellers[:50]
    Report.objects.bulk_create(
        [Report(reporter=rng.choice(reporters), target_type="listing", target_id=c.target_id,
                reason=rng.choice(ReportReason.values), details="bench", case=c)
         for c in cases if c.source == CaseSource.REPORT],
        batch_size=5000, ignore_conflicts=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE moderation_case; ANALYZE listings_listing;")
    print(f"created {total:,} listings and cases ({n_cases:,} open) "
          f"in {time.perf_counter() - started:.1f} s")


def measure(client, path: str, requests: int, params: dict | None = None) -> list[float]:
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path, params or {})
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content[:300]
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="open cases")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    url = os.environ["DATABASE_URL"]
    print(f"database: {url.rsplit('@', 1)[-1]}")
    ensure_database(url)
    import django

    django.setup()
    from django.db import connection
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from marketplace.accounts.models import User
    from moderation import services
    from moderation.models import Case

    fill(args.cases, rng)
    moderator = User.objects.create_user(username="bench_moderator", password=None)
    services.moderator_add(user=moderator)
    token = Token.objects.create(user=moderator)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    measure(client, "/api/moderation/queue", 20)  # warm up

    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN SELECT id FROM moderation_case WHERE status IN ('open','claimed','appealed')"
            " ORDER BY priority DESC, created_at LIMIT 20"
        )
        plan = " / ".join(row[0].strip() for row in cursor.fetchall()[:3])
    print(f"queue plan: {plan}")

    print(f"GET /api/moderation/queue with {args.cases:,} open cases, {args.requests} requests "
          "each, test client in-process (ms):")
    open_id = Case.objects.filter(status="open").values_list("pk", flat=True).first()
    for label, path, params in (
        ("baseline: GET /api/me", "/api/me", None),
        ("first page (20)", "/api/moderation/queue", None),
        ("first page, page_size=100", "/api/moderation/queue", {"page_size": 100}),
        ("page 200 (deep)", "/api/moderation/queue", {"page": 200}),
        ("source=fraud_hold", "/api/moderation/queue", {"source": "fraud_hold"}),
        ("case detail with evidence", f"/api/moderation/cases/{open_id}", None),
    ):
        samples = measure(client, path, args.requests, params)
        p95 = pct(samples, 0.95)
        verdict = ("target < 100 ms: met" if p95 < 100 else "target < 100 ms: MISSED") \
            if label.startswith("first page (20)") else ""
        print(f"  {label:28s} p50 {pct(samples, 0.5):6.1f}  p95 {p95:6.1f}  "
              f"p99 {pct(samples, 0.99):6.1f}  {verdict}")

    ids = list(Case.objects.filter(status="open").values_list("pk", flat=True)[:200])
    samples = []
    for case_id in ids:
        started = time.perf_counter()
        services.case_claim(case_id=case_id, moderator=moderator)
        samples.append(time.perf_counter() - started)
    print(f"case_claim (conditional UPDATE + audit row), {len(ids)} cases: "
          f"p50 {pct(samples, 0.5):.1f} ms  p95 {pct(samples, 0.95):.1f} ms")


if __name__ == "__main__":
    main()
