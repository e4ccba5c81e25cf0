#!/usr/bin/env python
"""Listings benchmark: bulk creation, then GET /api/listings/{id} at scale.

    .venv/bin/python tests/load/bench_listings.py [--count 100000]

1. Creates (or reuses) the benchmark database (DATABASE_URL, default
   postgres://postgres@127.0.0.1:5432/marketplace_bench), migrates it and
   empties it: it is disposable and must be named *bench*.
2. Creates N listings, 2 photo rows each: the first --services-sample through
   the real services (listing_create + listing_publish, outbox events
   included, handed to an in-memory broker), the rest with bulk_create in
   batches. Prints listings/s for each path.
3. Latency of GET /api/listings/{id} (anonymous; view counter included)
   through Django's test client, in-process: p50/p95/p99 over --requests
   random ids. Target: p95 under 15 ms at 100k rows. Also the list endpoint.
4. Starts gunicorn as in the Procfile (2 sync workers, marketplace.wsgi,
   DJANGO_DEBUG=false, API_THROTTLING=off) on a free loopback port and drives
   it for --duration seconds with a load generator on loopback (wrk, from
   Debian's package, when installed: it costs far less CPU than a Python
   client on a 2-core machine; else an asyncio client; --load-generator
   chooses); prints requests/s and latency percentiles. Target: 800 req/s.

It is a benchmark, not a test: it prints figures and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/marketplace_bench"
os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ["API_THROTTLING"] = "off"
os.environ["DJANGO_DEBUG"] = "false"
os.environ["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
# Outbox hand-over goes to an in-process broker: no worker, nothing left in Redis.
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
os.environ["CELERY_BROKER_URL"] = "memory://"
os.environ.setdefault("LOG_LEVEL", "WARNING")


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99),
            "mean": statistics.fmean(ordered) * 1000}


def fmt(stats: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:6.2f} ms" for k, v in stats.items())


# --- database --------------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    """CREATE DATABASE when it is missing (connecting to the server's postgres db)."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"refusing to empty {name!r}: the benchmark database name must contain 'bench'")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def setup_django(url: str) -> None:
    ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def empty_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE listings_favourite, listings_photo, listings_listing, "
            "outbox_outboxdelivery, outbox_outboxevent, notifications_notification, "
            "accounts_user CASCADE"
        )


# --- creating listings -------------------------------------------------------------------


def make_sellers(n: int) -> list:
    from django.contrib.auth.hashers import make_password

    from marketplace.accounts.models import User

    password = make_password(None)  # unusable: nobody logs in as a bench seller
    users = [User(username=f"bench{i}", email=f"bench{i}@example.com", password=password,
                  display_name=f"Bench Seller {i}", city="Shanghai") for i in range(n)]
    return User.objects.bulk_create(users, batch_size=1000)


CATEGORY_VALUES = {  # enough to satisfy each schema's required attributes
    "phones": {"brand": "Apple", "model": "iPhone 13", "storage": "128GB"},
    "bikes": {"type": "city", "frame_size": "M"},
    "books": {"language": "en"},
    "furniture": {"type": "sofa"},
    "other": {},
}


def listing_fields(rng: random.Random, i: int) -> dict:
    slug = rng.choice(list(CATEGORY_VALUES))
    return {
        "slug": slug,
        "title": f"Bench listing {i} - {slug} in good condition",
        "description": "A realistic description of a second-hand item. " * rng.randint(1, 8),
        "price_minor": rng.randint(10, 20_000) * 100,
        "lat": 31.2 + rng.uniform(-0.3, 0.3),
        "lon": 121.4 + rng.uniform(-0.3, 0.3),
        "attributes": CATEGORY_VALUES[slug],
    }


def create_via_services(sellers: list, n: int, rng: random.Random) -> float:
    from listings import services
    from listings.models import Category
    from marketplace.money import Money

    categories = {c.slug: c for c in Category.objects.all()}
    started = time.perf_counter()
    for i in range(n):
        f = listing_fields(rng, i)
        seller = sellers[i % len(sellers)]
        listing = services.listing_create(
            seller=seller, title=f["title"], description=f["description"],
            category=categories[f["slug"]], condition="good",
            price=Money(f["price_minor"], "CNY"),
            location={"lat": f["lat"], "lon": f["lon"], "city": "Shanghai"},
            shipping={"ships": True, "pickup": True}, attributes=f["attributes"],
        )
        services.listing_publish(listing=listing, actor=seller)
    return time.perf_counter() - started


def create_via_bulk(sellers: list, n: int, offset: int, rng: random.Random,
                    batch: int = 5000) -> float:
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from listings.models import Category, Listing, Photo
    from marketplace.ids import uuid7

    categories = {c.slug: c for c in Category.objects.all()}
    now = timezone.now()
    started = time.perf_counter()
    for start in range(0, n, batch):
        rows, photos = [], []
        for i in range(start, min(n, start + batch)):
            f = listing_fields(rng, offset + i)
            published = now - timedelta(minutes=rng.randint(0, 60 * 24 * 50))
            listing = Listing(
                id=uuid7(), seller=sellers[i % len(sellers)], category=categories[f["slug"]],
                title=f["title"], description=f["description"], condition="good",
                price_minor=f["price_minor"], price_currency="CNY", negotiable=True,
                location_lat=f["lat"], location_lon=f["lon"], location_city="Shanghai",
                ships=True, pickup=True, attributes=f["attributes"], status="active",
                published_at=published, expires_at=published + timedelta(days=60),
                status_changed_at=published,
            )
            rows.append(listing)
            for position in range(2):
                name = f"listings/{listing.id}/bench-{position}"
                photos.append(Photo(
                    listing=listing, position=position, image=f"{name}.jpg",
                    thumbnail=f"{name}_thumbnail.jpg", medium=f"{name}_medium.jpg",
                    width=1024, height=768,
                ))
        with transaction.atomic():
            Listing.objects.bulk_create(rows)
            Photo.objects.bulk_create(photos)
        done = min(n, start + batch)
        rate = done / (time.perf_counter() - started)
        print(f"\r  bulk: {done}/{n} ({rate:,.0f} listings/s)", end="", flush=True)
    print()
    return time.perf_counter() - started


def add_photos_to_service_listings() -> None:
    from listings.models import Listing, Photo

    photos = []
    for listing_id in Listing.objects.filter(photos__isnull=True).values_list("id", flat=True):
        for position in range(2):
            name = f"listings/{listing_id}/bench-{position}"
            photos.append(Photo(listing_id=listing_id, position=position, image=f"{name}.jpg",
                                thumbnail=f"{name}_thumbnail.jpg", medium=f"{name}_medium.jpg",
                                width=1024, height=768))
    Photo.objects.bulk_create(photos, batch_size=5000)


# --- in-process latency --------------------------------------------------------------------


def measure_test_client(ids: list[str], requests: int, rng: random.Random) -> None:
    from django.db import connection
    from django.test import Client

    client = Client()
    for listing_id in rng.sample(ids, min(200, len(ids))):  # warm up connection and caches
        client.get(f"/api/listings/{listing_id}")
    samples = []
    for listing_id in (rng.choice(ids) for _ in range(requests)):
        started = time.perf_counter()
        response = client.get(f"/api/listings/{listing_id}")
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content[:200]
    stats = percentiles(samples)
    verdict = "OK" if stats["p95"] < 15 else "ABOVE TARGET"
    print(f"GET /api/listings/{{id}} via Django test client, {requests} random ids:")
    print(f"  {fmt(stats)}   (target p95 < 15 ms: {verdict})")

    pages = max(1, min(len(ids) // 20, 500))
    for label, low, high in (("first pages, 1-5", 1, 5), (f"deep pages, 6-{pages}", 6, pages)):
        samples = []
        for _ in range(max(100, requests // 20)):
            started = time.perf_counter()
            response = client.get(f"/api/listings?page={rng.randint(low, max(low, high))}")
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200
        print(f"GET /api/listings?page=N ({label}; 20 a page with photos, exact count), "
              f"{len(samples)} requests:")
        print(f"  {fmt(percentiles(samples))}")
    connection.close()


# --- gunicorn + load generator ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int, workers: int, worker_class: str) -> subprocess.Popen:
    env = dict(os.environ, DJANGO_DEBUG="false", API_THROTTLING="off",
               DJANGO_ALLOWED_HOSTS="127.0.0.1")
    cmd = [sys.executable, "-m", "gunicorn", "marketplace.wsgi:application",
           "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
           "--worker-class", worker_class, "--log-level", "warning", "--backlog", "2048"]
    if Path("/dev/shm").is_dir():  # noqa: S108 - gunicorn's advice for containers
        cmd += ["--worker-tmp-dir", "/dev/shm"]  # noqa: S108
    if worker_class == "gthread":
        cmd += ["--threads", "4", "--keep-alive", "5"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("gunicorn did not start listening")


async def _one_connection(port: int, paths: list[str], deadline: float, warm_until: float,
                          samples: list[float], counts: dict[str, int]) -> None:
    reader = writer = None
    rng = random.Random()
    while time.perf_counter() < deadline:
        if writer is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        path = rng.choice(paths)
        request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"Accept: application/json\r\nConnection: keep-alive\r\n\r\n").encode()
        started = time.perf_counter()
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length, close = 0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            await reader.readexactly(length)
        except (ConnectionError, asyncio.IncompleteReadError):
            counts["errors"] += 1
            writer.close()
            writer = None
            continue
        elapsed = time.perf_counter() - started
        if started >= warm_until:
            samples.append(elapsed)
            counts["ok" if head[9:12] == b"200" else "bad"] += 1
        if close:  # gunicorn's sync workers answer one request per connection
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def _drive(port: int, paths: list[str], duration: float, connections: int, warmup: float
                 ) -> tuple[list[float], dict[str, int], float]:
    samples: list[float] = []
    counts = {"ok": 0, "bad": 0, "errors": 0}
    start = time.perf_counter()
    warm_until = start + warmup
    deadline = warm_until + duration
    await asyncio.gather(*(
        _one_connection(port, paths, deadline, warm_until, samples, counts)
        for _ in range(connections)
    ))
    return samples, counts, time.perf_counter() - warm_until


def _drive_wrk(port: int, paths: list[str], duration: float, connections: int
               ) -> tuple[dict[str, float], dict[str, int], float, float]:
    """Load with wrk: (latency percentiles in ms, counts, elapsed s, wrk's CPU s)."""
    import resource
    import tempfile

    sample = random.Random(7).sample(paths, min(len(paths), 5000))
    script = "local paths = {" + ",".join(f'"{p}"' for p in sample) + "}\n" + """
request = function()
  return wrk.format("GET", paths[math.random(#paths)], {["Accept"] = "application/json"})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(
            ["wrk", "-t", "1", "-c", str(connections), "-d", f"{max(1, round(duration))}s",
             "-s", handle.name, f"http://127.0.0.1:{port}"],
            capture_output=True, text=True, check=True,
        )
    finally:
        os.unlink(handle.name)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRK "))
    requests, micros, errors, bad, p50, p95, p99, worst = (int(v) for v in line.split()[1:])
    latency = {"p50": p50 / 1e3, "p95": p95 / 1e3, "p99": p99 / 1e3, "max": worst / 1e3}  # ms
    counts = {"ok": requests - bad, "bad": bad, "errors": errors}
    return latency, counts, micros / 1e6, cpu


def _cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds per process (from /proc; missing ones left out)."""
    found = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return found


def _cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two snapshots by processes alive at the end (new ones in full)."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def _pids(pattern: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if pattern.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def _busy_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / tick, sum(values) / tick


def measure_gunicorn(paths: list[str], duration: float, connections: int, workers: int,
                     worker_class: str, label: str, generator: str = "python") -> None:
    from django.db import connection

    db_name = connection.settings_dict["NAME"]  # its backends show it in their titles
    port = free_port()
    proc = start_gunicorn(port, workers, worker_class)
    try:
        # Warm-up, not measured: without --preload each worker imports Django and
        # the app after the port opens, and its first requests fill caches and
        # prepare statements; counting that would bill start-up to requests.
        asyncio.run(_drive(port, paths, 3.0, connections, 3.0))
        server_pids = [proc.pid, *_pids(f"127.0.0.1:{port}")]
        db_pids = _pids(f"postgres {db_name} ")
        before = (_cpu_seconds(server_pids), _cpu_seconds(db_pids), time.process_time(),
                  _busy_cpu())
        if generator == "wrk":
            latency, counts, elapsed, client_cpu_wrk = _drive_wrk(port, paths, duration,
                                                                  connections)
        else:
            samples, counts, elapsed = asyncio.run(
                _drive(port, paths, duration, connections, 0.0))
            latency = percentiles(samples)
        server_pids = [proc.pid, *_pids(f"127.0.0.1:{port}")]
        db_pids = _pids(f"postgres {db_name} ")
        server_cpu = _cpu_used(before[0], _cpu_seconds(server_pids))
        db_cpu = _cpu_used(before[1], _cpu_seconds(db_pids))
        client_cpu = (client_cpu_wrk if generator == "wrk"
                      else time.process_time() - before[2])
        busy, total = (a - b for a, b in zip(_busy_cpu(), before[3], strict=True))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    served = counts["ok"] + counts["bad"]
    rate = served / elapsed
    print(f"{label} under gunicorn, {workers} {worker_class} workers, loopback, "
          f"{connections} connections, {elapsed:.1f} s, load from {generator}:")
    verdict = ""
    if label.startswith("GET /api/listings/"):
        verdict = f"   (target >= 800 req/s: {'OK' if rate >= 800 else 'BELOW TARGET'})"
    print(f"  {rate:,.0f} req/s ({counts['ok']} 200, {counts['bad']} other status, "
          f"{counts['errors']} connection errors){verdict}")
    print(f"  {fmt(latency)}")
    served = served or 1
    ours = server_cpu + db_cpu + client_cpu
    print(f"  CPU per request: gunicorn {server_cpu / served * 1000:.2f} ms, PostgreSQL "
          f"{db_cpu / served * 1000:.2f} ms, load generator {client_cpu / served * 1000:.2f} ms")
    cores = os.cpu_count() or 1
    print(f"  machine: {cores} cores, {busy / total * 100:.0f}% busy during the run, "
          f"{max(0.0, busy - ours) / (total / cores):.2f} cores used by other processes; "
          f"at this cost {cores / (ours / served):,.0f} req/s would fill all {cores} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="listings to create")
    parser.add_argument("--services-sample", type=int, default=1000,
                        help="how many of them go through the services (the rest in bulk)")
    parser.add_argument("--sellers", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=2000,
                        help="detail requests through the test client")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of HTTP load")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--baseline", action="store_true",
                        help="also load GET /api/me (a 401 without database work) to show "
                        "what the machine and the middleware stack allow")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the listings of the last run when there are enough")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--load-generator", choices=["wrk", "python"],
                        default="wrk" if shutil.which("wrk") else "python",
                        help="wrk (default when installed) or the built-in asyncio client")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    url = os.environ["DATABASE_URL"]
    print(f"database: {url.rsplit('@', 1)[-1]}")
    setup_django(url)
    from django.db import connection

    from listings.models import Listing

    if not (args.reuse and Listing.objects.filter(status="active").count() >= args.count):
        empty_tables()
        sellers = make_sellers(args.sellers)
        sample = min(args.services_sample, args.count)
        print(f"creating {args.count:,} listings ({sample:,} via services, "
              f"{args.count - sample:,} via bulk_create)")
        if sample:
            from listings import services

            checks = dict(services._publish_checks)
            half = sample // 2
            seconds = create_via_services(sellers, half, rng)
            print(f"  services path (listing_create + listing_publish, outbox events), with the "
                  f"registered publish checks {sorted(checks) or 'none'}: "
                  f"{half / seconds:,.0f} listings/s ({half} in {seconds:.1f} s)")
            services._publish_checks.clear()  # listings' own cost, without other apps' models
            try:
                seconds = create_via_services(sellers, sample - half, rng)
            finally:
                services._publish_checks.update(checks)
            print(f"  services path without publish checks: "
                  f"{(sample - half) / seconds:,.0f} listings/s "
                  f"({sample - half} in {seconds:.1f} s)")
        if args.count > sample:
            seconds = create_via_bulk(sellers, args.count - sample, sample, rng)
            print(f"  bulk path (bulk_create, 5,000 a batch, + 2 photo rows each, no events): "
                  f"{(args.count - sample) / seconds:,.0f} listings/s "
                  f"({args.count - sample:,} in {seconds:.1f} s)")
        add_photos_to_service_listings()
        with connection.cursor() as cursor:
            # What autovacuum does soon after a bulk load in production: statistics,
            # and the visibility map that lets COUNT(*) use an index-only scan.
            for table in ("listings_listing", "listings_photo", "accounts_user"):
                cursor.execute(f"VACUUM ANALYZE {table}")
    ids = [str(i) for i in Listing.objects.filter(status="active").values_list("id", flat=True)]
    print(f"{len(ids):,} active listings in the table")
    connection.close()

    measure_test_client(ids, args.requests, rng)
    connection.close()
    measure_gunicorn([f"/api/listings/{listing_id}" for listing_id in ids], args.duration,
                     args.connections, args.workers, args.worker_class,
                     "GET /api/listings/{id}", args.load_generator)
    if args.baseline:
        measure_gunicorn(["/api/me"], args.duration, args.connections, args.workers,
                         args.worker_class, "baseline GET /api/me (401, no database)",
                         args.load_generator)


if __name__ == "__main__":
    main()
