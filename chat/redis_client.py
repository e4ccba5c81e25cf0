"""One process-wide Redis client for chat's small counters (presence, rate limit).

Why not `django.core.cache.cache`: the cache handler is context-local, so under
Channels every websocket consumer got its own django-redis client object
(about 18 KiB per idle socket, measured). One redis-py client with one
connection pool is thread-safe and shared by every socket of the process.
Without REDIS_URL (the embedded default) callers fall back to the local cache.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings

_lock = threading.Lock()
_client: Any = None
_client_url: str | None = None


def client() -> Any:
    """The process-wide redis-py client, or None in the embedded mode."""
    global _client, _client_url
    url = settings.REDIS_URL
    if not url:
        return None
    if _client is None or _client_url != url:
        with _lock:
            if _client is None or _client_url != url:
                import redis

                # Short timeouts: presence and rate limits fail open, fast, when Redis is away.
                _client = redis.Redis.from_url(
                    url, socket_timeout=1, socket_connect_timeout=1, health_check_interval=30
                )
                _client_url = url
    return _client


def key(*parts: Any) -> str:
    """A key under the cache's prefix, so test runs (one prefix each) never meet."""
    prefix = settings.CACHES.get("default", {}).get("KEY_PREFIX", "") or "mkt"
    return ":".join([prefix, "chat", *(str(p) for p in parts)])
