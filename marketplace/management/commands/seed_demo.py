"""`python manage.py seed_demo`: fill a fresh database with demo data."""

from __future__ import annotations

import logging
import random
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.test.utils import override_settings

from marketplace import seeding


class Command(BaseCommand):
    help = "Fill a fresh database with demo users, categories, listings and photos."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument(
            "--scale", type=float, default=1.0, help="multiply the amount of demo data"
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing when the database already has users (used by `make run`)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from django.contrib.auth import get_user_model

        if options["scale"] <= 0:
            raise CommandError("--scale must be positive.")
        if get_user_model().objects.exists():
            if options["if_empty"]:
                self.stdout.write("Database already has data; not seeding.")
                return
            raise CommandError(
                "The database already has users; seed_demo fills a fresh database only. "
                "Use a new database (or --if-empty to skip quietly)."
            )
        ctx = seeding.SeedContext(
            rng=random.Random(options["seed"]), out=self.stdout, scale=options["scale"]
        )
        # Demo chats and orders notify their (offline) parties; those e-mails
        # would only flood the console, so they go to a throwaway outbox.
        quiet = _NoSearchServerYet()
        outbox_log = logging.getLogger("marketplace.outbox.services")
        if not settings.ELASTICSEARCH_URL:
            # `make run` seeds before it starts the embedded search server;
            # `serve` then indexes every listing from the database, and the
            # outbox re-sends these events, so a warning per listing is noise.
            self.stdout.write("Search index: built by `serve` from the database when it starts.")
            outbox_log.addFilter(quiet)
        try:
            with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
                for name, seeder in seeding.seeders():
                    self.stdout.write(f"Seeding {name} ...")
                    with transaction.atomic():
                        seeder(ctx)
        finally:
            outbox_log.removeFilter(quiet)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))


class _NoSearchServerYet(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "ELASTICSEARCH_URL is not set" not in record.getMessage()
