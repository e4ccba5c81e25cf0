"""Handing chat's per-message outbox events to Celery in batches.

`outbox.publish` hands every event to the broker after commit: an UPDATE and
a Celery publish per chat message, on the socket server's database thread.
At chat rates that was a large share of the per-message cost, so message
events are written with `enqueued_at` already set and their ids collected
here; one Celery task per batch (at most BATCH_SIZE ids, or BATCH_WAIT
seconds after the first) delivers them. Nothing is lost if the process
dies or the broker is down: the outbox dispatcher hands over any event
still undelivered STALE_AFTER (60 s) after `enqueued_at`.

With eager Celery (tests, the embedded mode) events go through `publish`
as before, delivered at commit.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import transaction
from django.utils import timezone

from marketplace.ids import uuid7
from marketplace.outbox import services as outbox
from marketplace.outbox.models import OutboxEvent

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
BATCH_WAIT = 0.05  # seconds

_lock = threading.Lock()
_pending: list[str] = []
_wake = threading.Event()
_flusher: threading.Thread | None = None


def publish_batched(*, topic: str, payload: dict[str, Any]) -> None:
    """Record an event in the caller's transaction; hand it over in a batch after commit."""
    if outbox.is_eager():
        outbox.publish(topic=topic, payload=payload)
        return
    event = event_row(topic=topic, payload=payload)
    event.save(force_insert=True)
    after_insert(str(event.id))


def event_row(*, topic: str, payload: dict[str, Any]) -> OutboxEvent:
    """An unsaved event row; `enqueued_at` is set when it goes out in a batch,
    so the dispatcher leaves it alone for STALE_AFTER."""
    return OutboxEvent(
        id=uuid7(),
        topic=topic,
        payload=payload,
        created_at=timezone.now(),
        enqueued_at=None if outbox.is_eager() else timezone.now(),
    )


def enqueued_at(now: Any) -> Any:
    """The `enqueued_at` of an event written for a batch (see event_row)."""
    return None if outbox.is_eager() else now


def after_insert_many(event_ids: list[str]) -> None:
    """`after_insert` for several events written by one statement: one
    on-commit hook and one lock for all of them."""
    if outbox.is_eager():
        for event_id in event_ids:
            after_insert(event_id)
    elif event_ids:
        transaction.on_commit(lambda: _add_many(event_ids))


def after_insert(event_id: str) -> None:
    """Call right after the event row was written (in the caller's transaction)."""
    if outbox.is_eager():
        transaction.on_commit(lambda: outbox.enqueue(event_id=event_id))
    else:
        transaction.on_commit(lambda: _add(event_id))


def _add(event_id: str) -> None:
    _add_many([event_id])


def _add_many(event_ids: list[str]) -> None:
    global _flusher
    with _lock:
        _pending.extend(event_ids)
        full = len(_pending) >= BATCH_SIZE
        if _flusher is None or not _flusher.is_alive():
            # One long-lived thread per process: starting a timer thread per
            # batch cost more than the hand-over it saved.
            _flusher = threading.Thread(target=_run, name="chat-outbox-batch", daemon=True)
            _flusher.start()
    if full:
        flush()
    else:
        _wake.set()


def _run() -> None:
    while True:
        _wake.wait()
        time.sleep(BATCH_WAIT)  # let the batch fill
        _wake.clear()
        flush()


def flush() -> int:
    """Hand the collected ids to Celery as one task. Never raises."""
    with _lock:
        ids = list(_pending)
        _pending.clear()
    if not ids:
        return 0
    from chat.tasks import deliver_events

    try:
        deliver_events.apply_async(args=[ids], retry=False)
    except Exception as exc:  # noqa: BLE001 - the dispatcher hands them over after STALE_AFTER
        logger.warning("chat: could not hand %d outbox events over: %s", len(ids), exc)
        return 0
    return len(ids)
