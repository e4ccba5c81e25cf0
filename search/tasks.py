"""Celery tasks of the search app (thin wrappers around services)."""

from __future__ import annotations

from celery import shared_task

from search import indexing, services


@shared_task(bind=True, max_retries=8, acks_late=True)
def sync_listing(self, listing_id: str) -> str:  # type: ignore[no-untyped-def]
    try:
        return services.sync_listing(listing_id=listing_id)
    except Exception as exc:
        if self.request.is_eager:
            raise
        raise self.retry(exc=exc, countdown=min(2 ** (self.request.retries + 1), 300)) from exc


@shared_task
def run_saved_search_alerts() -> int:
    return services.saved_search_alerts_run()


@shared_task
def repair_index() -> int:
    """Nightly safety net: fix whatever the event stream missed."""
    return indexing.repair(indexing.check())


@shared_task(ignore_result=True)
def refresh_recommendations() -> int:
    """Rebuild the item-item similarity table behind GET /api/feed."""
    from search import recommend

    return recommend.refresh()
