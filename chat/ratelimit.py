"""Per-user message rate limit, shared across server processes through Redis.
A fixed window: simple, and generous enough that people typing never meet it
while a spam script does. One round trip (INCR + EXPIRE pipelined) on the
process-wide client; off entirely with API_THROTTLING=off."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache

from chat.redis_client import client, key


def allow_message(user_id: Any) -> bool:
    if not settings.API_THROTTLING:
        return True
    limit, window = settings.CHAT_MESSAGE_RATE
    bucket = int(time.time() // window)
    redis = client()
    try:
        if redis is None:
            name = f"chat:rate:{user_id}:{bucket}"
            if cache.add(name, 1, window + 1):
                return True
            count = cache.incr(name)
        else:
            pipe = redis.pipeline(transaction=False)
            pipe.incr(key("rate", user_id, bucket))
            pipe.expire(key("rate", user_id, bucket), window + 1)
            count = pipe.execute()[0]
    except ValueError:  # locmem: the key expired between add and incr
        return True
    except Exception:  # noqa: BLE001 - fail open: a cache outage must not stop the chat
        return True
    return count is None or count <= limit


def allow_messages(user_ids: list[Any]) -> list[bool]:
    """`allow_message` for several messages at once (one Redis round trip),
    in order: two messages of one user in the batch count twice."""
    if not settings.API_THROTTLING:
        return [True] * len(user_ids)
    redis = client()
    if redis is None or len(user_ids) == 1:
        return [allow_message(user_id) for user_id in user_ids]
    limit, window = settings.CHAT_MESSAGE_RATE
    bucket = int(time.time() // window)
    try:
        pipe = redis.pipeline(transaction=False)
        for user_id in user_ids:
            pipe.incr(key("rate", user_id, bucket))
            pipe.expire(key("rate", user_id, bucket), window + 1)
        counts = pipe.execute()[::2]
    except Exception:  # noqa: BLE001 - fail open, as allow_message
        return [True] * len(user_ids)
    return [count is None or count <= limit for count in counts]
