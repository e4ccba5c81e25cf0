from __future__ import annotations

from celery import shared_task

from chat import services


@shared_task
def expire_offers() -> int:
    return services.offers_expire_due()
