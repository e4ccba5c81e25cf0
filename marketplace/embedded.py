"""Hooks run by `manage.py serve` after the embedded components are up.

Search registers "fill the index from the database" here, so the kernel's
serve command knows nothing about search internals.
"""

from __future__ import annotations

from collections.abc import Callable

StartupHook = Callable[[], None]
_hooks: list[tuple[str, StartupHook]] = []


def on_startup(name: str, hook: StartupHook) -> None:
    global _hooks
    _hooks = [h for h in _hooks if h[0] != name] + [(name, hook)]


def startup_hooks() -> list[tuple[str, StartupHook]]:
    return list(_hooks)
