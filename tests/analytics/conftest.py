from __future__ import annotations

import pytest
import redis

from marketplace.analytics import services


def _clear() -> None:
    services._local.clear()
    services._outgoing.clear()
    client = services._redis()
    try:
        if client is not None:
            client.delete(services._key())
    except redis.RedisError:  # a test stopped its private Redis; nothing to clear there
        pass


@pytest.fixture(autouse=True)
def _empty_event_buffer():
    """Each test starts and ends with nothing buffered (Redis list and in-process)."""
    _clear()
    yield
    _clear()
