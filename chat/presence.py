"""Who has a live chat socket in which conversation (Redis in production).

A counter per (conversation, participant) in one Redis hash per conversation:
+1 on connect, -1 on disconnect. The hash's TTL is renewed on every connect,
so a crashed server cannot leave someone "present" for more than
PRESENCE_TTL seconds past the conversation's last connect. Best effort: a
Redis outage means "not present", i.e. a notification too many rather than
one missing. One process-wide client (chat.redis_client), not a cache client
per socket.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from chat.redis_client import client, key

PRESENCE_TTL = 6 * 3600

# The embedded mode (no Redis): one process serves everything, so a counter in memory.
_local: Counter[tuple[str, str]] = Counter()
_local_lock = threading.Lock()


def _hash(conversation_id: Any) -> str:
    return key("presence", conversation_id)


def connected(conversation_id: Any, user_id: Any) -> None:
    redis = client()
    if redis is None:
        with _local_lock:
            _local[(str(conversation_id), str(user_id))] += 1
        return
    try:
        pipe = redis.pipeline(transaction=False)
        pipe.hincrby(_hash(conversation_id), str(user_id), 1)
        pipe.expire(_hash(conversation_id), PRESENCE_TTL)
        pipe.execute()
    except Exception:  # noqa: BLE001, S110 - presence is best effort
        pass


def disconnected(conversation_id: Any, user_id: Any) -> None:
    redis = client()
    if redis is None:
        with _local_lock:
            slot = (str(conversation_id), str(user_id))
            _local[slot] -= 1
            if _local[slot] <= 0:
                del _local[slot]
        return
    try:
        remaining = redis.hincrby(_hash(conversation_id), str(user_id), -1)
        if remaining <= 0:
            redis.hdel(_hash(conversation_id), str(user_id))
    except Exception:  # noqa: BLE001, S110 - presence is best effort
        pass


def is_present(conversation_id: Any, user_id: Any) -> bool:
    """True when `user_id` has at least one live socket in the conversation."""
    redis = client()
    if redis is None:
        with _local_lock:
            return _local.get((str(conversation_id), str(user_id)), 0) > 0
    try:
        return int(redis.hget(_hash(conversation_id), str(user_id)) or 0) > 0
    except Exception:  # noqa: BLE001 - unknown means absent: better a notification too many
        return False
