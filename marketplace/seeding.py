"""Demo data registry for `seed_demo`.

Each app registers a seeder in its `AppConfig.ready` with an order; the
command runs them in that order inside one context, so later capabilities
add their demo data without the kernel knowing them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class SeedContext:
    rng: random.Random
    out: TextIO
    scale: float = 1.0
    # Seeders leave what later seeders need here (e.g. "users", "categories").
    shared: dict[str, Any] = field(default_factory=dict)

    def say(self, message: str) -> None:
        self.out.write(message + "\n")
        self.out.flush()

    def progress(self, label: str, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        end = "\n" if done >= total else ""
        self.out.write(
            f"\r{label:<12} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}{end}"
        )
        self.out.flush()


Seeder = Callable[[SeedContext], None]
_seeders: list[tuple[int, str, Seeder]] = []


def register(name: str, seeder: Seeder, *, order: int) -> None:
    global _seeders
    _seeders = [s for s in _seeders if s[1] != name]
    _seeders.append((order, name, seeder))
    _seeders.sort(key=lambda s: (s[0], s[1]))


def seeders() -> list[tuple[str, Seeder]]:
    return [(name, seeder) for _, name, seeder in _seeders]
