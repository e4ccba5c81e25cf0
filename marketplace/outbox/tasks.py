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


@shared_task
def dispatch_pending() -> int:
    return services.dispatch_pending()
