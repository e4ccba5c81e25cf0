"""Failed-login throttling per account and per IP (cache counters).

Failures are counted with a sliding-window counter (the current fixed window
plus the previous one weighted by how much of it still overlaps), which
needs only INCR/GET and works on Redis and on the embedded local-memory cache.

Reaching the limit locks the key for LOCKOUT_BASE seconds, doubling on each
repeat up to LOCKOUT_MAX: an attacker can never lock a victim out for long.
A login from one of the account's known devices (the device cookie or
X-Device-Id of an earlier successful login) is counted on its own key, so a
stranger hammering the account does not lock the owner's own devices out. A
successful login resets the account's counters and lockout.

Every cache key holds "throttle" so the test suite's per-test cleanup resets it.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

PREFIX = "login-throttle"
STRIKE_TTL = 24 * 3600


def _h(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


def account_key(username: str) -> str:
    return f"acct:{_h((username or '').strip().lower())}"


def device_key(username: str, device_id: str) -> str:
    return f"dev:{_h((username or '').strip().lower() + '|' + device_id)}"


def ip_key(ip: str | None) -> str:
    return f"ip:{ip or 'unknown'}"


@dataclass(frozen=True)
class Scope:
    key: str
    limit: int


def _bucket_keys(key: str, now: float, window: int) -> tuple[str, str]:
    current = int(now // window)
    return f"{PREFIX}:n:{key}:{current}", f"{PREFIX}:n:{key}:{current - 1}"


def failure_count(key: str, *, now: float | None = None) -> float:
    now = time.time() if now is None else now
    window = settings.LOGIN_FAILURE_WINDOW
    cur_key, prev_key = _bucket_keys(key, now, window)
    values = cache.get_many([cur_key, prev_key])
    overlap = 1 - (now % window) / window
    return values.get(cur_key, 0) + values.get(prev_key, 0) * overlap


def locked_for(scopes: list[Scope], *, now: float | None = None) -> int:
    """Seconds until every given scope is unlocked (0: free to try)."""
    now = time.time() if now is None else now
    locks = cache.get_many([f"{PREFIX}:lock:{s.key}" for s in scopes])
    remaining = [until - now for until in locks.values() if until and until > now]
    return math.ceil(max(remaining)) if remaining else 0


def record_failure(scopes: list[Scope], *, now: float | None = None) -> int:
    """Count one failed attempt; lock scopes that reached their limit.
    Returns the lockout now in force (seconds, 0 if none)."""
    now = time.time() if now is None else now
    window = settings.LOGIN_FAILURE_WINDOW
    for scope in scopes:
        cur_key, prev_key = _bucket_keys(scope.key, now, window)
        cache.add(cur_key, 0, timeout=2 * window)
        try:
            cache.incr(cur_key)
        except ValueError:  # expired between add and incr, or the cache is down
            cache.set(cur_key, 1, timeout=2 * window)
        if failure_count(scope.key, now=now) >= scope.limit:
            strike_key = f"{PREFIX}:strikes:{scope.key}"
            cache.add(strike_key, 0, timeout=STRIKE_TTL)
            try:
                strikes = cache.incr(strike_key)
            except ValueError:
                strikes = 1
            duration = min(
                settings.LOGIN_LOCKOUT_BASE * 2 ** max(strikes - 1, 0), settings.LOGIN_LOCKOUT_MAX
            )
            cache.set(f"{PREFIX}:lock:{scope.key}", now + duration, timeout=math.ceil(duration))
            # Start counting afresh after the lockout: the next lock comes after
            # another `limit` failures, and lasts twice as long (capped).
            cache.delete_many([cur_key, prev_key])
    return locked_for(scopes, now=now)


def reset(keys: list[str], *, now: float | None = None) -> None:
    now = time.time() if now is None else now
    window = settings.LOGIN_FAILURE_WINDOW
    names: list[str] = []
    for key in keys:
        names.extend(_bucket_keys(key, now, window))
        names += [f"{PREFIX}:lock:{key}", f"{PREFIX}:strikes:{key}"]
    cache.delete_many(names)
