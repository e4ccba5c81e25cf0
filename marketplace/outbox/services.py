"""Writing, handing over and delivering outbox events."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from marketplace.outbox.models import OutboxDelivery, OutboxEvent

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]
_subscribers: dict[str, list[tuple[str, Handler]]] = {}

# An event handed to the broker this long ago and still undelivered is handed
# over again (the worker may have died, or the broker lost it).
STALE_AFTER = timedelta(seconds=60)


def subscribe(topic: str, handler: Handler, *, name: str | None = None) -> None:
    """Register `handler(payload)` for `topic`. Call from `AppConfig.ready`.

    The name identifies the handler in delivery records, so keep it stable.
    Registering the same name twice replaces the earlier handler.
    """
    handler_name = name or f"{handler.__module__}.{handler.__qualname__}"
    handlers = [h for h in _subscribers.setdefault(topic, []) if h[0] != handler_name]
    handlers.append((handler_name, handler))
    _subscribers[topic] = handlers


def subscribers(topic: str) -> list[tuple[str, Handler]]:
    return list(_subscribers.get(topic, []))


def publish(*, topic: str, payload: dict[str, Any]) -> OutboxEvent:
    """Record an event in the caller's transaction; hand it to Celery after commit.

    A rolled-back transaction takes the event with it, so nobody hears of a
    change that never happened.
    """
    # With a real broker the row is written already marked as handed over, so
    # the hand-over after commit is only the broker call: no second committed
    # UPDATE per event (each one waited for a WAL flush: 17-25% of an escrow
    # order's time). Should the process die between commit and hand-over, the
    # dispatcher re-sends the event once it is STALE_AFTER old.
    marked = not is_eager()
    event = OutboxEvent.objects.create(
        topic=topic, payload=payload, enqueued_at=timezone.now() if marked else None
    )
    event_id = event.id
    transaction.on_commit(lambda: enqueue(event_id=event_id, marked=marked))
    return event


def enqueue(*, event_id: Any, marked: bool = False) -> bool:
    """Hand one event to the broker. Never raises: a broker outage leaves the
    row pending for `dispatch_pending`, and the request that caused it succeeds.
    `marked`: the row's `enqueued_at` is already set."""
    from marketplace.outbox.tasks import deliver_event

    try:
        if not marked:
            OutboxEvent.objects.filter(id=event_id, delivered_at__isnull=True).update(
                enqueued_at=timezone.now()
            )
        deliver_event.apply_async(args=[str(event_id)], retry=False)
    except Exception as exc:  # noqa: BLE001 - broker down, or an eager handler failed
        logger.warning("outbox: could not hand event %s over: %s", event_id, exc)
        OutboxEvent.objects.filter(id=event_id, delivered_at__isnull=True).update(
            enqueued_at=None, last_error=f"enqueue: {exc}"[:2000]
        )
        return False
    return True


def deliver(*, event_id: Any) -> bool:
    """Run every subscribed handler that has not yet processed this event.

    Each handler runs in its own transaction together with its delivery
    record, so a handler's database effects and "done" commit or roll back
    as one: delivering the same event twice changes nothing. Returns True
    when the event is fully delivered. Raises what a handler raised (after
    recording it) so the task can retry.
    """
    event = OutboxEvent.objects.filter(id=event_id).first()
    if event is None or event.delivered_at is not None:
        return True
    OutboxEvent.objects.filter(id=event.id).update(attempts=event.attempts + 1)
    failures: list[tuple[str, Exception]] = []
    for handler_name, handler in subscribers(event.topic):
        try:
            with transaction.atomic():
                _, created = OutboxDelivery.objects.get_or_create(
                    event=event, handler=handler_name
                )
                if not created:
                    continue
                handler(event.payload)
        except Exception as exc:  # noqa: BLE001 - one handler's failure must not starve the rest
            logger.warning("outbox: %s failed on %s: %s", handler_name, event.id, exc)
            failures.append((handler_name, exc))
    if failures:
        name, exc = failures[0]
        OutboxEvent.objects.filter(id=event.id).update(
            last_error="; ".join(f"{n}: {type(e).__name__}: {e}" for n, e in failures)[:2000]
        )
        raise exc
    OutboxEvent.objects.filter(id=event.id, delivered_at__isnull=True).update(
        delivered_at=timezone.now(), last_error=""
    )
    return True


def dispatch_pending(*, limit: int = 500) -> int:
    """Hand over events that never reached the broker (or got stuck). Returns
    how many were handed over."""
    stale_before = timezone.now() - STALE_AFTER
    pending = list(
        OutboxEvent.objects.filter(delivered_at__isnull=True)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale_before))
        .order_by("created_at")
        .values_list("id", flat=True)[:limit]
    )
    handed = 0
    for event_id in pending:
        if not enqueue(event_id=event_id):
            break  # the broker is down: stop, the next run tries again
        handed += 1
    return handed


def pending_count() -> int:
    return OutboxEvent.objects.filter(delivered_at__isnull=True).count()


def is_eager() -> bool:
    return bool(settings.CELERY_TASK_ALWAYS_EAGER)
