"""Recording events without slowing or breaking the request that causes them.

`track()` only serialises the event and appends it to a per-process list
that is RPUSHed onto a Redis list in one round trip every 50 events or within
a second (a background thread); the beat task `marketplace.analytics.tasks.flush_events`
(every ANALYTICS_FLUSH_SECONDS) pops batches and writes them with one
`bulk_create` each. When Redis is absent (the embedded default) or down, the
event goes to a bounded in-process buffer instead, flushed by the same task
or, in a process without beat, by a background thread once it fills. Every
failure is logged and swallowed: analytics never costs a user a request.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from marketplace.analytics.models import Event, EventKind, ItemSimilarity

logger = logging.getLogger(__name__)

KINDS = frozenset(EventKind.values)
BATCH = 2000
LOCAL_MAX = 20_000  # events kept in memory while Redis is away; the oldest go first

_local: deque[str] = deque(maxlen=LOCAL_MAX)
_local_lock = threading.Lock()
_flush_lock = threading.Lock()
_last_local_flush = time.monotonic()
_client: Any = None
_client_url: str | None = None


def _key() -> str:
    return f"{getattr(settings, 'CACHE_KEY_PREFIX', 'mkt')}:analytics:events"


def _redis() -> Any:
    """The process-wide Redis client with short timeouts, or None without Redis."""
    global _client, _client_url
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return None
    if _client is None or _client_url != url:
        import redis

        _client = redis.Redis.from_url(url, socket_timeout=0.3, socket_connect_timeout=0.3)
        _client_url = url
    return _client


def visitor_hash(session_key: str | None, *, day: Any = None) -> str:
    """A salted hash of an anonymous session that changes daily: counts
    distinct visitors per day without a stable identifier."""
    if not session_key:
        return ""
    day = day or timezone.now().date()
    salt = getattr(settings, "ANALYTICS_SALT", "") or settings.SECRET_KEY
    digest = hashlib.sha256(f"{salt}|{day.isoformat()}|{session_key}".encode())
    return digest.hexdigest()[:32]


def _user_id(user: Any) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)


def _session_key(request: Any) -> str | None:
    session = getattr(request, "session", None)
    return getattr(session, "session_key", None) if session is not None else None


def track(
    kind: str,
    user: Any = None,
    listing_id: Any = None,
    props: dict[str, Any] | None = None,
    *,
    user_id: Any = None,
    request: Any = None,
    session_key: str | None = None,
    at: Any = None,
) -> bool:
    """Record that something happened; returns whether it was buffered.

    Never raises and never touches the database. Pass `request` to take the
    user and (for anonymous visitors) the session from it, or `user_id` when
    only the id is at hand (outbox handlers).
    """
    try:
        if kind not in KINDS:
            logger.warning("analytics: unknown event kind %r dropped", kind)
            return False
        if request is not None:
            user = user if user is not None else getattr(request, "user", None)
            session_key = session_key or _session_key(request)
        uid = str(user_id) if user_id else _user_id(user)
        row = json.dumps(
            {
                "kind": kind,
                "at": (at or timezone.now()).isoformat(),
                "user_id": uid,
                "visitor": "" if uid else visitor_hash(session_key),
                "listing_id": str(listing_id) if listing_id else None,
                "props": props or {},
            },
            default=str,
        )
        return _push(row)
    except Exception as exc:  # noqa: BLE001 - analytics must never break the caller
        logger.warning("analytics: could not record %s: %s", kind, exc)
        return False


_outgoing: list[str] = []  # rows on their way to Redis, shipped in one RPUSH
_outgoing_lock = threading.Lock()
_shipper: threading.Thread | None = None


def _ship_outgoing() -> None:
    """Push this process's waiting rows to Redis in one round trip (to the
    in-process buffer if Redis is away)."""
    with _outgoing_lock:
        rows = _outgoing[:]
        _outgoing.clear()
    if not rows:
        return
    client = _redis()
    try:
        if client is None:
            raise ConnectionError("no Redis configured")
        client.rpush(_key(), *rows)
    except Exception as exc:  # noqa: BLE001 - Redis down: keep them in memory instead
        logger.warning("analytics: Redis unavailable (%s); buffering in process", exc)
        with _local_lock:
            _local.extend(rows)


def _ship_periodically() -> None:
    while True:
        time.sleep(getattr(settings, "ANALYTICS_PUSH_SECONDS", 1.0))
        try:
            _ship_outgoing()
        except Exception as exc:  # noqa: BLE001 - never let the shipper die
            logger.warning("analytics: shipping events failed: %s", exc)


def _ensure_shipper() -> None:
    global _shipper
    if _shipper is None or not _shipper.is_alive():
        with _outgoing_lock:
            if _shipper is None or not _shipper.is_alive():
                _shipper = threading.Thread(target=_ship_periodically, daemon=True,
                                            name="analytics-shipper")
                _shipper.start()
                atexit.register(_ship_outgoing)


def _push(row: str) -> bool:
    client = _redis()
    if client is not None:
        # Batched: a busy process ships every ANALYTICS_PUSH_BATCH events, a
        # quiet one within ANALYTICS_PUSH_SECONDS (a background thread), so a
        # request pays for a list append, not a Redis round trip.
        _ensure_shipper()
        with _outgoing_lock:
            _outgoing.append(row)
            due = len(_outgoing) >= getattr(settings, "ANALYTICS_PUSH_BATCH", 50)
        if due:
            _ship_outgoing()
        return True
    with _local_lock:
        _local.append(row)
        due = (
            len(_local) >= getattr(settings, "ANALYTICS_LOCAL_FLUSH_SIZE", 500)
            or time.monotonic() - _last_local_flush > settings.ANALYTICS_FLUSH_SECONDS * 6
        )
    if client is None:
        _flush_at_exit()
    if due and client is None and not _flush_lock.locked():
        # No Redis means no beat in this process either (embedded mode): flush
        # off the request thread.
        threading.Thread(target=_flush_quietly, daemon=True).start()
    return True


@functools.cache
def _flush_at_exit() -> None:
    """Without Redis the buffer lives in this process: write it on a clean exit."""
    atexit.register(_flush_quietly)


def _flush_quietly() -> None:
    try:
        flush_events()
    except Exception as exc:  # noqa: BLE001
        logger.warning("analytics: background flush failed: %s", exc)
    finally:
        from django.db import connection

        connection.close()


def _to_event(raw: str | bytes) -> Event | None:
    try:
        data = json.loads(raw)
        at = parse_datetime(data["at"]) or timezone.now()
        return Event(
            kind=data["kind"],
            at=at,
            user_id=uuid.UUID(data["user_id"]) if data.get("user_id") else None,
            visitor=data.get("visitor") or "",
            listing_id=uuid.UUID(data["listing_id"]) if data.get("listing_id") else None,
            props=data.get("props") or {},
        )
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("analytics: malformed buffered event dropped: %s", exc)
        return None


def _write(rows: list[Any]) -> int:
    events = [e for e in (_to_event(r) for r in rows) if e is not None]
    if events:
        Event.objects.bulk_create(events, batch_size=1000)
    return len(events)


def flush_events(*, max_batches: int = 50) -> int:
    """Move buffered events (Redis list, then this process's buffer) into the
    database in batches; returns how many were written. A batch whose write
    fails goes back to the buffer for the next run."""
    global _last_local_flush
    written = 0
    _ship_outgoing()  # this process's own waiting rows first
    with _flush_lock:
        client = _redis()
        if client is not None:
            for _ in range(max_batches):
                try:
                    rows = client.lpop(_key(), BATCH) or []
                except Exception as exc:  # noqa: BLE001
                    logger.warning("analytics: cannot read the Redis buffer: %s", exc)
                    break
                if not rows:
                    break
                try:
                    written += _write(rows)
                except Exception:
                    logger.exception("analytics: database write failed; batch kept for retry")
                    _requeue(client, rows)
                    return written
                if len(rows) < BATCH:
                    break
        with _local_lock:
            rows = list(_local)
            _local.clear()
            _last_local_flush = time.monotonic()
        if rows:
            try:
                written += _write(rows)
            except Exception:
                logger.exception("analytics: database write failed; events kept for retry")
                with _local_lock:
                    _local.extendleft(reversed(rows))
    return written


def _requeue(client: Any, rows: list[Any]) -> None:
    try:
        client.lpush(_key(), *reversed(rows))
    except Exception:  # noqa: BLE001 - Redis went too: keep them in memory
        with _local_lock:
            _local.extendleft(reversed([r.decode() if isinstance(r, bytes) else r for r in rows]))


def buffered_count() -> int:
    """Events waiting to be written (Redis plus this process)."""
    count = len(_local) + len(_outgoing)
    client = _redis()
    if client is not None:
        try:
            count += int(client.llen(_key()))
        except Exception as exc:  # noqa: BLE001 - a display figure
            logger.debug("analytics: cannot count the Redis buffer: %s", exc)
    return count


def purge_expired(*, now: Any = None) -> int:
    """Delete events older than ANALYTICS_RETENTION_DAYS; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.ANALYTICS_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(Event.objects.filter(at__lt=cutoff).values_list("id", flat=True)[:10_000])
        if not ids:
            return deleted
        deleted += Event.objects.filter(id__in=ids).delete()[0]


def similarities_replace(*, rows: Iterable[tuple[Any, Any, float]]) -> int:
    """Replace the whole item-item similarity table in one transaction (readers
    see the old table until the new one commits)."""
    objs = [ItemSimilarity(item_id=a, neighbour_id=b, score=s) for a, b, s in rows]
    with transaction.atomic():
        ItemSimilarity.objects.all().delete()
        ItemSimilarity.objects.bulk_create(objs, batch_size=5000)
    return len(objs)
