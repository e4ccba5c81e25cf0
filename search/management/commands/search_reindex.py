"""`python manage.py search_reindex [--check] [--repair]`."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from elastic_transport import TransportError

from search import indexing


class Command(BaseCommand):
    help = (
        "Rebuild the listings index into a new index and swap the alias atomically "
        "(search stays up). --check reports documents missing or stale against the database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="only compare the index with the database; exit 1 on drift",
        )
        parser.add_argument(
            "--repair", action="store_true", help="with --check: fix the listings that differ"
        )
        parser.add_argument("--chunk-size", type=int, default=2000)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["check"]:
                self._check(repair=options["repair"])
            else:
                self._reindex(options["chunk_size"])
        except TransportError as exc:
            raise CommandError(f"The search server is unreachable: {exc}") from exc

    def _bar(self, done: int, total: int) -> None:
        width = 40
        filled = int(width * done / total) if total else width
        elapsed = time.perf_counter() - self._t0
        rate = done / elapsed if elapsed else 0
        self.stdout.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({rate:,.0f} docs/s)",
            ending="",
        )
        self.stdout.flush()

    def _reindex(self, chunk_size: int) -> None:
        self._t0 = time.perf_counter()
        result = indexing.reindex(progress=self._bar, chunk_size=chunk_size)
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"Indexed {result.indexed} listings into {result.index} in {result.seconds:.1f}s "
                f"({result.rate:,.0f} docs/s); alias {indexing.alias_name()} swapped"
                + (f"; dropped {', '.join(result.dropped)}" if result.dropped else "")
                + (
                    f"; {result.caught_up} changed during the build re-synced"
                    if result.caught_up
                    else ""
                )
            )
        )

    def _check(self, *, repair: bool) -> None:
        report = indexing.check()
        self.stdout.write(
            f"database: {report.database_active} active listings; index: {report.indexed} documents"
        )
        for label, ids in (
            ("missing", report.missing),
            ("stale", report.stale),
            ("extra", report.extra),
        ):
            self.stdout.write(
                f"{label}: {len(ids)}" + (f" e.g. {', '.join(ids[:5])}" if ids else "")
            )
        if report.ok:
            self.stdout.write(self.style.SUCCESS("The index matches the database."))
            return
        if repair:
            fixed = indexing.repair(report)
            self.stdout.write(self.style.SUCCESS(f"Repaired {fixed} listings."))
            return
        self.stderr.write("The index differs from the database (run with --repair to fix).")
        sys.exit(1)
