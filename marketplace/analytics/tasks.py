"""Thin Celery wrappers; both safe to run twice or concurrently."""

from __future__ import annotations

from celery import shared_task

from marketplace.analytics import services


@shared_task(ignore_result=True)
def flush_events() -> int:
    return services.flush_events()


@shared_task(ignore_result=True)
def purge_events() -> int:
    return services.purge_expired()
