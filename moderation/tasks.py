"""Thin Celery wrappers around moderation services (idempotent)."""

from __future__ import annotations

from celery import shared_task

from moderation import services


@shared_task
def refresh_queue() -> int:
    """Recompute exposure and the overdue boost of queued cases (beat)."""
    return services.queue_refresh()
