"""Registries through which higher apps give the kernel (and the feed) facts
it cannot import: who a user blocked. Apps register at start-up."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

BlockedProvider = Callable[[Any], set[Any]]
_blocked_providers: dict[str, BlockedProvider] = {}


def register_blocked_users(name: str, provider: BlockedProvider) -> None:
    """`provider(user_id)` -> ids of users that `user_id` should not be shown
    (blocked either way). Registering a name again replaces it."""
    _blocked_providers[name] = provider


def blocked_user_ids(user_id: Any) -> set[str]:
    """Every registered provider's answer, as strings."""
    out: set[str] = set()
    for name, provider in list(_blocked_providers.items()):
        try:
            out.update(str(u) for u in provider(user_id))
        except Exception:
            # Failing open would show a blocked seller; fail the caller instead.
            logger.exception("blocked-users provider %s failed", name)
            raise
    return out
