"""Per-user message rate limit, shared across server processes through the
cache (Redis in production). A fixed window: simple, and generous enough
that people typing never meet it while a spam script does."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache


def allow_message(user_id: Any) -> bool:
    if not settings.API_THROTTLING:
        return True
    limit, window = settings.CHAT_MESSAGE_RATE
    bucket = int(time.time() // window)
    key = f"chat:rate:{user_id}:{bucket}"
    try:
        if cache.add(key, 1, window + 1):
            return True
        count = cache.incr(key)
    except ValueError:  # the key expired between add and incr
        return True
    except Exception:  # noqa: BLE001 - fail open: a cache outage must not stop the chat
        return True
    return count is None or count <= limit
