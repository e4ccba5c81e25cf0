"""Celery tasks for notification e-mails: thin and idempotent (the service
locks the delivery row and sends only while it is pending)."""

from __future__ import annotations

import random
import smtplib
from typing import Any

from celery import shared_task
from django.conf import settings

from marketplace.notifications import services

# What a mail server outage looks like: worth retrying. Anything else (a bug,
# a template error) fails the task loudly instead.
TRANSIENT_MAIL_ERRORS = (smtplib.SMTPException, OSError)


def retry_delay(retries: int) -> float:
    """Exponential backoff with jitter: base, 2x base, 4x base, ... capped at an hour."""
    base = settings.NOTIFICATIONS_EMAIL_RETRY_BACKOFF
    delay = min(base * (2**retries), 3600.0)
    return delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security


@shared_task(bind=True, max_retries=None, acks_late=True)
def send_email_delivery(self: Any, delivery_id: str) -> str:
    try:
        return services.email_delivery_send(delivery_id=delivery_id)
    except TRANSIENT_MAIL_ERRORS as exc:
        final = self.request.retries >= settings.NOTIFICATIONS_EMAIL_MAX_RETRIES
        services.email_delivery_record_failure(
            delivery_id=delivery_id, error=f"{type(exc).__name__}: {exc}", final=final
        )
        if final:
            return "failed"
        countdown = retry_delay(self.request.retries)
        if self.request.is_eager:
            # Eager mode (embedded default, unit tests) propagates Retry instead
            # of re-running: run the next attempt in-process, without waiting.
            retry = self.retry(exc=exc, countdown=countdown, throw=False)
            return retry.sig.apply(retries=self.request.retries + 1).get()
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task
def send_daily_digests() -> int:
    """Beat: plan today's digests (one per user); each is sent by its own task."""
    return len(services.digests_plan())


@shared_task
def sweep_stale_emails() -> int:
    """Beat: hand pending e-mails that never reached a worker to Celery again."""
    return services.email_sweep_stale()
