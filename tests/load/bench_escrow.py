#!/usr/bin/env python
"""Escrow benchmark: full orders per second, then the ledger audit.

    .venv/bin/python tests/load/bench_escrow.py [--orders 1000] [--threads 2]

Creates N active listings, then runs N complete orders through the escrow
services (order_create -> order_pay(card_ok) -> order_ship -> order_confirm:
4 transactions, 2 ledger entries, listing reserve/sold, timeline rows and
outbox events each) on --threads threads with their own connections, and
prints completed orders/s and per-step latency, then figures that do not
depend on how loaded the machine is (SQL statements and client CPU per
order) and the share of time spent handing outbox events to the broker after
commit (the kernel's `enqueue`, one UPDATE and one broker call per event).
Ends with `ledger.audit()` over the whole ledger and prints how long it
took. Target: 100 orders/s.

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/marketplace_bench_escrow
(created and migrated if missing; emptied first: it must be named *bench*).
Outbox events go to an in-memory broker (no worker). It prints figures and exits 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.load.benchdb import ensure_database  # noqa: E402

os.environ.setdefault("DATABASE_URL",
                      "postgres://postgres@127.0.0.1:5432/marketplace_bench_escrow")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
os.environ["CELERY_BROKER_URL"] = "memory://"
os.environ.setdefault("LOG_LEVEL", "WARNING")


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--deliver", action="store_true",
                        help="add the carrier's 'delivered' step (a 5th transaction)")
    args = parser.parse_args()
    ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from listings.models import Category, Listing
    from marketplace.outbox.models import OutboxEvent
    from trust import escrow, ledger
    from trust.models import JournalEntry, JournalLine, LedgerAccount, Order, OrderEvent, Payment

    print(f"Preparing {args.orders} listings ...", flush=True)
    with connection.cursor() as cursor:
        for model in (JournalLine, JournalEntry, Payment, OrderEvent, LedgerAccount):
            cursor.execute(f'TRUNCATE "{model._meta.db_table}" CASCADE')
    Order.objects.all().delete()
    OutboxEvent.objects.all().delete()
    Listing.objects.all().delete()
    user_model = get_user_model()
    user_model.objects.filter(username__startswith="bench_").delete()
    sellers = [user_model.objects.create_user(username=f"bench_s{i}", email=f"s{i}@bench.local",
                                              password="x") for i in range(20)]
    buyers = [user_model.objects.create_user(username=f"bench_b{i}", email=f"b{i}@bench.local",
                                             password="x") for i in range(50)]
    category = Category.objects.get(slug="other")
    now = timezone.now()
    lock = threading.Lock()
    listings = Listing.objects.bulk_create([
        Listing(seller=sellers[i % len(sellers)], category=category, title=f"Bench item {i}",
                condition="good", price_minor=10_000 + i, price_currency="CNY", ships=True,
                status="active", published_at=now, expires_at=now + timezone.timedelta(days=60))
        for i in range(args.orders)
    ], batch_size=2000)

    # Time the outbox hand-over (the kernel's on-commit enqueue: one UPDATE and
    # one broker call per event) separately from the escrow services.
    from marketplace.outbox import services as outbox_services

    real_enqueue = outbox_services.enqueue
    enqueue_time = [0.0, 0]

    def timed_enqueue(*, event_id: object, marked: bool = False) -> bool:
        t = time.perf_counter()
        try:
            return real_enqueue(event_id=event_id, marked=marked)
        finally:
            with lock:
                enqueue_time[0] += time.perf_counter() - t
                enqueue_time[1] += 1

    outbox_services.enqueue = timed_enqueue
    steps: dict[str, list[float]] = {"create": [], "pay": [], "ship": [], "deliver": [],
                                     "confirm": []}
    errors: list[str] = []

    statements = [0]

    def count_statement(execute, sql, params, many, context):  # noqa: ANN001, ANN202
        statements[0] += 1  # a race between threads can lose a count or two: fine
        return execute(sql, params, many, context)

    def worker(chunk: list[Listing], offset: int) -> None:
        local: dict[str, list[float]] = {k: [] for k in steps}
        connection.execute_wrappers.append(count_statement)
        try:
            for i, listing in enumerate(chunk):
                buyer = buyers[(offset + i) % len(buyers)]
                seller = sellers[(offset + i) % len(sellers)]
                t0 = time.perf_counter()
                order = escrow.order_create(buyer=buyer, listing_id=listing.id)
                t1 = time.perf_counter()
                escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
                t2 = time.perf_counter()
                escrow.order_ship(order=order, seller=listing.seller, carrier="SF",
                                  tracking=f"SF{offset + i:08d}")
                t3 = time.perf_counter()
                if args.deliver:
                    escrow.order_mark_delivered(order=order)
                t3d = time.perf_counter()
                escrow.order_confirm(order=order, buyer=buyer)
                t4 = time.perf_counter()
                del seller
                local["create"].append(t1 - t0)
                local["pay"].append(t2 - t1)
                local["ship"].append(t3 - t2)
                if args.deliver:
                    local["deliver"].append(t3d - t3)
                local["confirm"].append(t4 - t3d)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            connection.close()
            with lock:
                for key, values in local.items():
                    steps[key].extend(values)

    chunks = [listings[i::args.threads] for i in range(args.threads)]
    lifecycle = "create, pay, ship, " + ("deliver, " if args.deliver else "") + "confirm"
    print(f"Running {args.orders} full orders ({lifecycle}) on {args.threads} threads ...",
          flush=True)
    started = time.perf_counter()
    cpu_started = time.process_time()
    threads = [threading.Thread(target=worker, args=(chunk, n * 100_000))
               for n, chunk in enumerate(chunks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    completed = Order.objects.filter(status="completed").count()
    print(f"\ncompleted orders: {completed} in {elapsed:.1f}s -> {completed / elapsed:,.1f} "
          f"full orders/s (target >= 100)")
    for name, values in steps.items():
        if values:
            print(f"  {name:<8} p50 {pct(values, .5):6.1f} ms  p95 {pct(values, .95):6.1f} ms  "
                  f"mean {statistics.fmean(values) * 1000:6.1f} ms")
    if completed:
        # Figures that do not depend on how loaded the machine is.
        print(f"  per order: {statements[0] / completed:.1f} SQL statements (BEGIN/COMMIT "
              f"not counted; the outbox hand-over included), {cpu / completed * 1000:.1f} ms "
              f"of this process's CPU")
    total_step_time = sum(sum(values) for values in steps.values())
    if completed and total_step_time:
        print(f"  outbox hand-over after commit (kernel enqueue): {enqueue_time[1]} events, "
              f"{enqueue_time[0] / completed * 1000:.1f} ms per order = "
              f"{enqueue_time[0] / total_step_time:.0%} of the services' time")
    if errors:
        print(f"errors: {len(errors)}; first: {errors[0]}")
    t0 = time.perf_counter()
    report = ledger.audit()
    print(f"ledger audit over {report.entries} entries / {report.lines} lines: "
          f"{'OK' if report.ok else 'BREACHED'} in {time.perf_counter() - t0:.2f}s")
    for breach in report.breaches[:10]:
        print("  BREACH:", breach)


if __name__ == "__main__":
    main()
