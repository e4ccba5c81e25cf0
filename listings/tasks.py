"""Celery tasks of listings: thin, idempotent wrappers around services."""

from __future__ import annotations

from celery import shared_task

from listings import services, viewcounts


@shared_task(name="listings.tasks.expire_listings")
def expire_listings() -> int:
    """Expire active listings past their expiry date (beat: "listings-expire-stale")."""
    return services.listings_expire_due()


@shared_task(
    name="listings.tasks.make_photo_variants",
    bind=True,
    max_retries=5,
    acks_late=True,
)
def make_photo_variants(self, photo_id: str) -> bool:  # type: ignore[no-untyped-def]
    """Thumbnail and medium sizes of one photo; safe to run twice."""
    try:
        return services.photo_make_variants(photo_id=photo_id)
    except Exception as exc:
        if self.request.is_eager:
            raise
        # Storage hiccups are transient: retry with backoff (4, 8, 16 ... s).
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 2)) from exc


@shared_task(name="listings.tasks.backfill_photo_variants")
def backfill_photo_variants() -> int:
    """Sizes for photos whose task was lost (e.g. the broker was down at upload)."""
    return services.photos_backfill_variants()


@shared_task(name="listings.tasks.flush_view_counts")
def flush_view_counts() -> int:
    """Buffered view counts into the database (beat: "listings-flush-view-counts")."""
    return viewcounts.flush_view_counts()
