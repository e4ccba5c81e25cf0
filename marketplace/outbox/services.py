"""Writing, handing over and delivering outbox events."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from marketplace.ids import uuid7
from marketplace.outbox.models import OutboxDelivery, OutboxEvent
from marketplace.sql import prepared_cursor

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


# The event row's INSERT, written by hand: the ORM compiled it anew for every
# event (a third of `publish`'s CPU). Column order as in OutboxEvent.
_INSERT_SQL = (
    "INSERT INTO outbox_outboxevent "
    "(id, topic, payload, created_at, enqueued_at, attempts, last_error) "
    "VALUES (%s, %s, %s::jsonb, %s, %s, 0, '')"
)


def publish(
    *,
    topic: str,
    payload: dict[str, Any],
    with_writes: Sequence[tuple[str, Sequence[Any]]] = (),
) -> OutboxEvent:
    """Record an event in the caller's transaction; hand it to Celery after commit.

    A rolled-back transaction takes the event with it, so nobody hears of a
    change that never happened. Every event of one transaction goes to the
    broker in one call after commit (`_Batch`), not one call per event.

    `with_writes`: the caller's own INSERT/UPDATE/DELETE statements (`%s`
    placeholders, no WITH clause of their own) that caused the event. On
    PostgreSQL they run in the same statement as the event's INSERT, as
    data-modifying CTEs, so the change and its event cost one round trip;
    elsewhere they run one by one before it.
    """
    # With a real broker the row is written already marked as handed over, so
    # the hand-over after commit is only the broker call: no second committed
    # UPDATE per event (each one waited for a WAL flush: 17-25% of an escrow
    # order's time). Should the process die between commit and hand-over, the
    # dispatcher re-sends the event once it is STALE_AFTER old.
    marked = not is_eager()
    now = timezone.now()
    event = OutboxEvent(
        id=uuid7(), topic=topic, payload=payload, created_at=now,
        enqueued_at=now if marked else None,
    )
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        sql = _INSERT_SQL
        params: list[Any] = [event.id, topic, json.dumps(payload), now, event.enqueued_at]
        if with_writes:
            ctes = ", ".join(f"w{i} AS ({w_sql})" for i, (w_sql, _) in enumerate(with_writes))
            sql = f"WITH {ctes} {sql}"
            params = [p for _, w_params in with_writes for p in w_params] + params
        with prepared_cursor() as cursor:
            cursor.execute(sql, params)
        event._state.adding = False
        event._state.db = connection.alias
    else:
        for w_sql, w_params in with_writes:
            with connection.cursor() as cursor:
                cursor.execute(w_sql, w_params)
        event.save(force_insert=True)
    _hand_over_after_commit(connection, str(event.id), marked)
    return event


class _Batch:
    """The events one transaction published, handed over together after commit."""

    __slots__ = ("ids", "marked", "registry", "savepoints", "done")

    def __init__(self, marked: bool, registry: list[Any], savepoints: list[str]) -> None:
        self.ids: list[str] = []
        self.marked = marked
        self.registry = registry
        self.savepoints = savepoints
        self.done = False

    def __call__(self) -> None:
        self.done = True
        enqueue_many(event_ids=self.ids, marked=self.marked)


def _hand_over_after_commit(connection: Any, event_id: str, marked: bool) -> None:
    if not connection.in_atomic_block:
        # Autocommit: the row is already committed; hand it over now.
        transaction.on_commit(lambda: enqueue_many(event_ids=[event_id], marked=marked))
        return
    batch: _Batch | None = getattr(connection, "_outbox_batch", None)
    # One batch per atomic level: a batch joins the hooks of the savepoint it
    # was registered in, so it is dropped exactly when that savepoint rolls
    # back (its rows go with it), and test helpers that run the hooks of a
    # block see that block's events. Django replaces its list of commit hooks
    # (never edits it in place) when a savepoint or the transaction rolls
    # back, or at commit: while the list is the one the batch was registered
    # in, its hook is still in it and will run; otherwise start a new batch.
    # (Ids of rows rolled back after the batch was registered are delivered
    # as no-ops.)
    # (`atomic(savepoint=False)` blocks add None: no savepoint, same level.)
    savepoints = [sid for sid in connection.savepoint_ids if sid is not None]
    if (
        batch is None
        or batch.done
        or batch.marked != marked
        or batch.registry is not connection.run_on_commit
        or batch.savepoints != savepoints
    ):
        batch = _Batch(marked, connection.run_on_commit, savepoints)
        transaction.on_commit(batch)
        connection._outbox_batch = batch
    batch.ids.append(event_id)


def enqueue(*, event_id: Any, marked: bool = False) -> bool:
    """Hand one event to the broker (see `enqueue_many`)."""
    return enqueue_many(event_ids=[str(event_id)], marked=marked)


def enqueue_many(*, event_ids: list[str], marked: bool = False) -> bool:
    """Hand events to the broker in one call (one `deliver_events` task).
    Never raises: a broker outage leaves the rows pending for
    `dispatch_pending`, and the request that caused them succeeds.
    `marked`: the rows' `enqueued_at` is already set."""
    from marketplace.outbox.tasks import deliver_event, deliver_events

    if not event_ids:
        return True
    def pending() -> Any:
        return OutboxEvent.objects.filter(id__in=event_ids, delivered_at__isnull=True)

    try:
        if not marked:
            pending().update(enqueued_at=timezone.now())
        if len(event_ids) == 1:
            deliver_event.apply_async(args=[event_ids[0]], retry=False)
        else:
            # argsrepr: Celery would otherwise format the ids for its logs on every call.
            deliver_events.apply_async(
                args=[event_ids], retry=False, argsrepr=f"[{len(event_ids)} events]"
            )
    except Exception as exc:  # noqa: BLE001 - broker down, or an eager handler failed
        logger.warning("outbox: could not hand events %s over: %s", event_ids, exc)
        pending().update(enqueued_at=None, last_error=f"enqueue: {exc}"[:2000])
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


def dispatch_pending(*, limit: int = 500, batch: int = 50) -> int:
    """Hand over events that never reached the broker (or got stuck), `batch`
    events per broker call. Returns how many were handed over."""
    stale_before = timezone.now() - STALE_AFTER
    pending = [
        str(event_id)
        for event_id in OutboxEvent.objects.filter(delivered_at__isnull=True)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale_before))
        .order_by("created_at")
        .values_list("id", flat=True)[:limit]
    ]
    handed = 0
    for start in range(0, len(pending), batch):
        chunk = pending[start : start + batch]
        if not enqueue_many(event_ids=chunk):
            break  # the broker is down: stop, the next run tries again
        handed += len(chunk)
    return handed


def pending_count() -> int:
    return OutboxEvent.objects.filter(delivered_at__isnull=True).count()


def is_eager() -> bool:
    return bool(settings.CELERY_TASK_ALWAYS_EAGER)
