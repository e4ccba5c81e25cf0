"""`python manage.py reputation_recompute [--user ID]`: rebuild cached reputation rows."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketplace.ids import parse_uuid
from trust import reputation


class Command(BaseCommand):
    help = (
        "Record missing seller penalties, then rebuild every user's cached reputation "
        "(score sums, counts, badges) from their reviews and penalties."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="only this user id")

    def handle(self, *args: Any, **options: Any) -> None:
        self._t0 = time.perf_counter()
        if options["user"]:
            uid = parse_uuid(options["user"])
            if uid is None:
                raise CommandError("--user must be a user id (UUID).")
            rep = reputation.reputation_recompute_user(user_id=uid)
            self.stdout.write(
                self.style.SUCCESS(
                    f"{uid}: score {rep.score}, {rep.reviews} reviews, "
                    f"{rep.completed_orders} completed orders, badges {rep.badges}"
                )
            )
            return
        done = reputation.reputation_recompute_all(progress=self._bar)
        self.stdout.write("")
        elapsed = time.perf_counter() - self._t0
        self.stdout.write(self.style.SUCCESS(f"Recomputed {done} reputations in {elapsed:.1f}s."))

    def _bar(self, done: int, total: int) -> None:
        width = 40
        filled = int(width * done / total) if total else width
        elapsed = time.perf_counter() - self._t0
        rate = done / elapsed if elapsed else 0
        self.stdout.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({rate:,.0f} users/s)",
            ending="",
        )
        self.stdout.flush()
