"""Who has a chat socket open, counted in the cache (Redis in production).

A counter per user: +1 on connect, -1 on disconnect, with a TTL so a crashed
server cannot leave someone "online" for more than PRESENCE_TTL seconds past
their last connect.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

PRESENCE_TTL = 6 * 3600


def _key(user_id: Any) -> str:
    return f"chat:online:{user_id}"


def connected(user_id: Any) -> None:
    key = _key(user_id)
    try:
        cache.add(key, 0, PRESENCE_TTL)
        cache.incr(key)
        cache.touch(key, PRESENCE_TTL)
    except ValueError:
        cache.set(key, 1, PRESENCE_TTL)
    except Exception:  # noqa: BLE001, S110 - presence is best effort
        pass


def disconnected(user_id: Any) -> None:
    key = _key(user_id)
    try:
        remaining = cache.decr(key)
        if remaining is not None and remaining <= 0:
            cache.delete(key)
    except Exception:  # noqa: BLE001, S110 - presence is best effort (missing key included)
        pass


def is_online(user_id: Any) -> bool:
    try:
        return (cache.get(_key(user_id)) or 0) > 0
    except Exception:  # noqa: BLE001 - unknown means offline: better a notification too many
        return False
