"""`python manage.py recommend_evaluate [--users 2000] [--items N] [--seed 1]`."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from search.recommend_eval import K, evaluate


class Command(BaseCommand):
    help = (
        "Generate browsing sessions with latent interests, hold out each user's last "
        "interaction and print hit-rate@10 of the feed's recommender and of a popularity "
        "baseline on the same split."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, default=2000)
        parser.add_argument("--items", type=int, default=None, help="default users/2 (min 200)")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        result = evaluate(n_users=options["users"], n_items=options["items"],
                          seed=options["seed"], progress=self.stdout.write)
        w = self.stdout.write
        w(f"hit-rate@{K} recommender (co-occurrence + category fallback): "
          f"{result.hit_rate_recommender:.4f}")
        w(f"hit-rate@{K} co-occurrence + popular fill only:               "
          f"{result.hit_rate_no_category_fallback:.4f}")
        w(f"hit-rate@{K} popularity baseline:                              "
          f"{result.hit_rate_popularity:.4f}")
        lift = (result.hit_rate_recommender / result.hit_rate_popularity
                if result.hit_rate_popularity else float("inf"))
        w(f"lift over popularity: {lift:.2f}x ({time.monotonic() - started:.1f} s)")
