#!/usr/bin/env python
"""Notifications benchmark: writing, e-mailing, digests and the list API.

    .venv/bin/python tests/load/bench_notifications.py [--count 2000] [--users 1000]

Prints:

* notify        - `notify()` of an immediate kind, one transaction each: the
                  row, the e-mail delivery row, and after commit the live push
                  (Redis channel layer when REDIS_URL is set) and the hand-over
                  of the e-mail task (to an in-memory broker here);
* send          - the e-mail task body per delivery (lock, render en/zh
                  templates, locmem backend, mark sent);
* digest plan   - `digests_plan()` for N users with 5 unread daily
                  notifications each, then sending every digest;
* list API      - `GET /api/me/notifications` (20 per page) for a user with
                  1,000 notifications, through the Django test client.

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/marketplace_bench_notifications
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
    "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/marketplace_bench_notifications"
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
os.environ["CELERY_BROKER_URL"] = "memory://"
os.environ["EMAIL_URL"] = "memorymail://"
os.environ["API_THROTTLING"] = "off"
os.environ.setdefault("LOG_LEVEL", "WARNING")


def pct(samples: list[float], q: float) -> float:
    ms = sorted(s * 1000 for s in samples)
    return ms[min(len(ms) - 1, int(q * len(ms)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="immediate notifications")
    parser.add_argument("--users", type=int, default=1000, help="users in the digest run")
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core import mail
    from django.db import transaction
    from rest_framework.test import APIClient

    from marketplace.accounts.models import User
    from marketplace.notifications import services
    from marketplace.notifications.models import EmailDelivery, Notification

    User.objects.filter(username__startswith="nbench").delete()
    users = User.objects.bulk_create(
        [
            User(
                username=f"nbench{i}",
                email=f"nbench{i}@example.com",
                password="!",
                languages=["zh-Hans"] if i % 2 else ["en"],
            )
            for i in range(max(args.users, 10))
        ]
    )
    payload = {
        "title": "Vintage road bike",
        "old_price": {"amount_minor": 100_000, "currency": "CNY"},
        "new_price": {"amount_minor": 80_000, "currency": "CNY"},
    }
    print(f"notifications benchmark ({args.count} notify calls, {args.users} digest users)")

    samples = []
    t_all = time.perf_counter()
    for i in range(args.count):
        t0 = time.perf_counter()
        with transaction.atomic():
            services.notify(recipient=users[i % 10], kind="price_drop", payload=payload, link="/x/")
        samples.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - t_all
    print(
        f"  notify        {args.count / elapsed:8.0f} /s   p50 {pct(samples, 0.5):.2f} ms"
        f"   p95 {pct(samples, 0.95):.2f} ms"
    )

    ids = list(
        EmailDelivery.objects.filter(recipient__in=users[:10], status="pending").values_list(
            "pk", flat=True
        )
    )
    mail.outbox = []
    t0 = time.perf_counter()
    for delivery_id in ids:
        services.email_delivery_send(delivery_id=delivery_id)
    elapsed = time.perf_counter() - t0
    print(f"  send          {len(ids) / elapsed:8.0f} e-mails/s ({len(mail.outbox)} sent)")

    Notification.objects.bulk_create(
        [
            Notification(
                recipient=u,
                kind="saved_search_match",
                payload={"name": "bikes", "title": f"Bike {j}", "saved_search_id": "s"},
                link=f"/listings/{j}/",
            )
            for u in users[: args.users]
            for j in range(5)
        ]
    )
    EmailDelivery.objects.filter(kind="digest", recipient__in=users).delete()
    t0 = time.perf_counter()
    with transaction.atomic():
        planned = services.digests_plan()
    plan_s = time.perf_counter() - t0
    digests = list(
        EmailDelivery.objects.filter(pk__in=planned, status="pending").values_list("pk", flat=True)
    )
    mail.outbox = []
    t0 = time.perf_counter()
    for delivery_id in digests:
        services.email_delivery_send(delivery_id=delivery_id)
    send_s = time.perf_counter() - t0
    print(
        f"  digest plan   {len(planned)} digests in {plan_s * 1000:.0f} ms;"
        f" sent {len(mail.outbox)} at {len(digests) / send_s:.0f} digests/s"
    )

    reader = users[0]
    Notification.objects.filter(recipient=reader).delete()
    Notification.objects.bulk_create(
        [Notification(recipient=reader, kind="price_drop", payload=payload) for _ in range(1000)]
    )
    client = APIClient()
    client.force_authenticate(reader)
    client.get("/api/me/notifications")
    samples = []
    for _ in range(200):
        t0 = time.perf_counter()
        response = client.get("/api/me/notifications")
        samples.append(time.perf_counter() - t0)
        assert response.status_code == 200
    print(
        f"  list API      p50 {statistics.median(samples) * 1000:.2f} ms"
        f"   p95 {pct(samples, 0.95):.2f} ms   (1,000 notifications, 20 per page)"
    )
    User.objects.filter(username__startswith="nbench").delete()


if __name__ == "__main__":
    main()
