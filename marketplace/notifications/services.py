"""Writing notifications. Kept small on purpose: a later issue adds the API,
e-mail and live push on top of these records."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.notifications.models import Notification


def notify(
    *,
    recipient: Any,
    kind: str,
    payload: dict[str, Any],
    link: str = "",
    dedupe_key: str | None = None,
) -> Notification:
    """Record a notification for `recipient` (a user) and return it.

    With a `dedupe_key` the call is idempotent per recipient: a second call
    with the same key returns the first record and stores nothing. The unique
    constraint decides, not a check-then-insert, so concurrent deliveries of
    one event cannot both write.
    """
    if dedupe_key is not None:
        existing = Notification.objects.filter(recipient=recipient, dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():  # a savepoint: the caller's transaction survives a clash
                return Notification.objects.create(
                    recipient=recipient,
                    kind=kind,
                    payload=payload,
                    link=link,
                    dedupe_key=dedupe_key,
                )
        except IntegrityError:
            return Notification.objects.get(recipient=recipient, dedupe_key=dedupe_key)
    return Notification.objects.create(recipient=recipient, kind=kind, payload=payload, link=link)


def notifications_mark_read(*, recipient: Any, notification_ids: list[Any] | None = None) -> int:
    """Mark the recipient's notifications (all, or the given ids) read; returns how many."""
    unread = Notification.objects.filter(recipient=recipient, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(id__in=notification_ids)
    return unread.update(read_at=timezone.now())
