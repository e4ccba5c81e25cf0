from __future__ import annotations

import logging

from celery import shared_task

from chat import services

logger = logging.getLogger(__name__)


@shared_task
def expire_offers() -> int:
    return services.offers_expire_due()


@shared_task(acks_late=True)
def deliver_events(event_ids: list[str]) -> int:
    """Deliver a batch of outbox events (see chat.outbox_batch). An event that
    fails stays undelivered and the outbox dispatcher hands it over again."""
    from marketplace.outbox.services import deliver

    delivered = 0
    for event_id in event_ids:
        try:
            delivered += bool(deliver(event_id=event_id))
        except Exception as exc:  # noqa: BLE001 - one event must not hold up the batch
            logger.warning("chat: outbox event %s failed: %s", event_id, exc)
    return delivered
