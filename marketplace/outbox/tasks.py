"""Thin Celery wrappers around the outbox services."""

from __future__ import annotations

from celery import shared_task

from marketplace.outbox import services


@shared_task(bind=True, max_retries=8, acks_late=True)
def deliver_event(self, event_id: str) -> bool:  # type: ignore[no-untyped-def]
    try:
        return services.deliver(event_id=event_id)
    except Exception as exc:
        if self.request.is_eager:
            raise
        # Exponential backoff: 2, 4, 8, ... seconds, capped at 5 minutes. After
        # the last retry the periodic dispatcher picks the event up again.
        raise self.retry(exc=exc, countdown=min(2 ** (self.request.retries + 1), 300)) from exc


@shared_task(bind=True, max_retries=8, acks_late=True)
def deliver_events(self, event_ids: list[str]) -> int:  # type: ignore[no-untyped-def]
    """Deliver the events one transaction published (one broker call for all).
    Each event is delivered on its own (`services.deliver`); the ones that
    failed are retried with backoff as a smaller batch."""
    failed: list[str] = []
    first_error: Exception | None = None
    for event_id in event_ids:
        try:
            services.deliver(event_id=event_id)
        except Exception as exc:  # noqa: BLE001 - one event must not hold up the rest
            failed.append(event_id)
            first_error = first_error or exc
    if first_error is None:
        return len(event_ids)
    if self.request.is_eager:
        raise first_error
    raise self.retry(
        args=[failed], exc=first_error, countdown=min(2 ** (self.request.retries + 1), 300)
    ) from first_error


@shared_task
def dispatch_pending() -> int:
    return services.dispatch_pending()
