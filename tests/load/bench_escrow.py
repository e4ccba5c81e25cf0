#!/usr/bin/env python
"""Escrow benchmark: full orders per second, then the ledger audit.

    .venv/bin/python tests/load/bench_escrow.py [--orders 1000] [--processes 1] [--threads 2]
        [--deliver]

Creates N active listings, then runs N complete orders through the escrow
services (order_create -> order_pay(card_ok) -> order_ship -> order_confirm:
4 transactions, 2 ledger entries, listing reserve/sold, timeline rows and
outbox events each). `--processes P` forks P worker processes (production
runs several web workers: one process is capped by the GIL), each with its
own database connection(s) and its own slice of the listings; `--threads T`
runs T threads in each. It prints completed orders/s and per-step latency,
then figures that do not depend on how loaded the machine is: SQL statements,
client CPU and PostgreSQL backend CPU per order (the backends' CPU is read
from /proc, so only when the database runs on this machine), and the outbox
hand-over after commit (the kernel's `enqueue_many`: one broker call per
transaction). Ends with `ledger.audit()` over the whole ledger. Target:
100 orders/s.

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/marketplace_bench_escrow
(created and migrated if missing; emptied first: it must be named *bench*).
Outbox events go to an in-memory broker per process (no worker), or to the
Redis broker named by BENCH_BROKER_URL (its queue flushed at the end). It prints
figures and exits 0.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.load.benchdb import ensure_database  # noqa: E402

os.environ.setdefault("DATABASE_URL",
                      "postgres://postgres@127.0.0.1:5432/marketplace_bench_escrow")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
# BENCH_BROKER_URL=redis://127.0.0.1:6379/12 measures the hand-over to a real
# Redis broker (the queue is thrown away afterwards, no worker runs).
os.environ["CELERY_BROKER_URL"] = os.environ.get("BENCH_BROKER_URL", "memory://")
os.environ.setdefault("LOG_LEVEL", "WARNING")

STEPS = ("create", "pay", "ship", "deliver", "confirm")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def proc_cpu(pid: int) -> float | None:
    """user + system CPU seconds of a process on this machine (None if unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def run_slice(chunks: list[list[Any]], buyers: list[Any], deliver: bool, offset: int,
              start: Any = None) -> dict[str, Any]:
    """Run the orders of `chunks` (one per thread) in this process; return its figures."""
    from django.db import connection

    from marketplace.outbox import services as outbox_services
    from trust import escrow

    lock = threading.Lock()
    stats: dict[str, Any] = {
        "steps": {k: [] for k in STEPS}, "statements": 0, "errors": [],
        "enqueue_time": 0.0, "enqueue_calls": 0, "enqueue_events": 0, "backend_cpu": 0.0,
        "backend_cpu_known": True,
    }

    # Time the outbox hand-over after commit (one broker call per transaction).
    real_enqueue_many = outbox_services.enqueue_many

    def timed_enqueue_many(*, event_ids: list[str], marked: bool = False) -> bool:
        t = time.perf_counter()
        try:
            return real_enqueue_many(event_ids=event_ids, marked=marked)
        finally:
            with lock:
                stats["enqueue_time"] += time.perf_counter() - t
                stats["enqueue_calls"] += 1
                stats["enqueue_events"] += len(event_ids)

    outbox_services.enqueue_many = timed_enqueue_many
    ready = threading.Barrier(len(chunks) + 1)

    def worker(chunk: list[Any], base: int) -> None:
        local: dict[str, list[float]] = {k: [] for k in STEPS}
        counted = [0]

        def count_statement(execute, sql, params, many, context):  # noqa: ANN001, ANN202
            counted[0] += 1
            return execute(sql, params, many, context)

        connection.execute_wrappers.append(count_statement)
        with connection.cursor() as cursor:  # connect now, and find our backend
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        counted[0] = 0
        ready.wait()
        backend_before = proc_cpu(backend)
        try:
            for i, listing in enumerate(chunk):
                buyer = buyers[(base + i) % len(buyers)]
                t0 = time.perf_counter()
                order = escrow.order_create(buyer=buyer, listing_id=listing.id)
                t1 = time.perf_counter()
                escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
                t2 = time.perf_counter()
                escrow.order_ship(order=order, seller=listing.seller, carrier="SF",
                                  tracking=f"SF{base + i:08d}")
                t3 = time.perf_counter()
                if deliver:
                    escrow.order_mark_delivered(order=order)
                t3d = time.perf_counter()
                escrow.order_confirm(order=order, buyer=buyer)
                t4 = time.perf_counter()
                local["create"].append(t1 - t0)
                local["pay"].append(t2 - t1)
                local["ship"].append(t3 - t2)
                if deliver:
                    local["deliver"].append(t3d - t3)
                local["confirm"].append(t4 - t3d)
        except Exception as exc:  # noqa: BLE001 - reported below
            stats["errors"].append(repr(exc))
        finally:
            backend_after = proc_cpu(backend)
            connection.close()
            with lock:
                for key, values in local.items():
                    stats["steps"][key].extend(values)
                stats["statements"] += counted[0]
                if backend_before is None or backend_after is None:
                    stats["backend_cpu_known"] = False
                else:
                    stats["backend_cpu"] += backend_after - backend_before

    threads = [threading.Thread(target=worker, args=(chunk, offset + n * 10_000))
               for n, chunk in enumerate(chunks)]
    for thread in threads:
        thread.start()
    ready.wait()  # every thread has its connection
    if start is not None:
        start.wait()  # every process is ready
    cpu_started = time.process_time()
    for thread in threads:
        thread.join()
    stats["cpu"] = time.process_time() - cpu_started
    outbox_services.enqueue_many = real_enqueue_many
    return stats


def child(chunks: list[list[Any]], buyers: list[Any], deliver: bool, offset: int,
          start: Any, ready: Any, results: Any) -> None:
    from django.db import connections

    connections.close_all()  # never share the parent's socket
    try:
        stats = run_slice(chunks, buyers, deliver, offset, start=_ReadyThenStart(ready, start))
    except Exception as exc:  # noqa: BLE001 - reported by the parent
        stats = {"errors": [repr(exc)], "steps": {k: [] for k in STEPS}, "statements": 0,
                 "cpu": 0.0, "enqueue_time": 0.0, "enqueue_calls": 0, "enqueue_events": 0,
                 "backend_cpu": 0.0, "backend_cpu_known": False}
    results.put(stats)


class _ReadyThenStart:
    """Tell the parent this process is connected, then wait for its go."""

    def __init__(self, ready: Any, start: Any) -> None:
        self.ready, self.start = ready, start

    def wait(self) -> None:
        self.ready.release()
        self.start.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=1,
                        help="worker processes (forked), each with its own slice of listings")
    parser.add_argument("--threads", type=int, default=2, help="threads in each process")
    parser.add_argument("--deliver", action="store_true",
                        help="add the carrier's 'delivered' step (a 5th transaction)")
    args = parser.parse_args()
    ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection, connections
    from django.utils import timezone

    from listings.models import Category, Listing
    from marketplace.outbox.models import OutboxEvent
    from trust import ledger
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
    listings = Listing.objects.bulk_create([
        Listing(seller=sellers[i % len(sellers)], category=category, title=f"Bench item {i}",
                condition="good", price_minor=10_000 + i, price_currency="CNY", ships=True,
                status="active", published_at=now, expires_at=now + timezone.timedelta(days=60))
        for i in range(args.orders)
    ], batch_size=2000)

    workers = args.processes * args.threads
    slices = [listings[i::workers] for i in range(workers)]
    lifecycle = "create, pay, ship, " + ("deliver, " if args.deliver else "") + "confirm"
    print(f"Running {args.orders} full orders ({lifecycle}) on {args.processes} process(es) "
          f"x {args.threads} thread(s) ...", flush=True)
    if args.processes == 1:
        started = time.perf_counter()
        results = [run_slice(slices, buyers, args.deliver, 0)]
        elapsed = time.perf_counter() - started
    else:
        connections.close_all()
        ctx = multiprocessing.get_context("fork")
        ready, start, queue = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=child, args=(
            slices[p * args.threads:(p + 1) * args.threads], buyers, args.deliver,
            p * 1_000_000, start, ready, queue)) for p in range(args.processes)]
        for proc in procs:
            proc.start()
        for _ in procs:
            ready.acquire()
        started = time.perf_counter()
        start.set()
        results = [queue.get() for _ in procs]
        elapsed = time.perf_counter() - started
        for proc in procs:
            proc.join()

    steps: dict[str, list[float]] = {k: [] for k in STEPS}
    for result in results:
        for key, values in result["steps"].items():
            steps[key].extend(values)
    completed = Order.objects.filter(status="completed").count()
    print(f"\ncompleted orders: {completed} in {elapsed:.1f}s -> {completed / elapsed:,.1f} "
          f"full orders/s (target >= 100)")
    for name, values in steps.items():
        if values:
            print(f"  {name:<8} p50 {pct(values, .5):6.1f} ms  p95 {pct(values, .95):6.1f} ms  "
                  f"mean {statistics.fmean(values) * 1000:6.1f} ms")
    if completed:
        # Figures that do not depend on how loaded the machine is.
        statements = sum(r["statements"] for r in results)
        cpu = sum(r["cpu"] for r in results)
        print(f"  per order: {statements / completed:.1f} SQL statements (BEGIN/COMMIT not "
              f"counted), {cpu / completed * 1000:.1f} ms of client CPU (all processes)", end="")
        if all(r["backend_cpu_known"] for r in results):
            backend = sum(r["backend_cpu"] for r in results)
            print(f", {backend / completed * 1000:.1f} ms of PostgreSQL backend CPU")
        else:
            print()
        calls = sum(r["enqueue_calls"] for r in results)
        handed = sum(r["enqueue_events"] for r in results)
        spent = sum(r["enqueue_time"] for r in results)
        total_step_time = sum(sum(values) for values in steps.values())
        if total_step_time:
            print(f"  outbox hand-over after commit: {handed} events in {calls} broker calls, "
                  f"{spent / completed * 1000:.1f} ms per order = "
                  f"{spent / total_step_time:.0%} of the services' time")
    errors = [e for r in results for e in r["errors"]]
    if errors:
        print(f"errors: {len(errors)}; first: {errors[0]}")
    t0 = time.perf_counter()
    report = ledger.audit()
    print(f"ledger audit over {report.entries} entries / {report.lines} lines: "
          f"{'OK' if report.ok else 'BREACHED'} in {time.perf_counter() - t0:.2f}s")
    for breach in report.breaches[:10]:
        print("  BREACH:", breach)
    if os.environ["CELERY_BROKER_URL"].startswith("redis://"):
        import redis

        redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()


if __name__ == "__main__":
    main()
