"""Reads about notifications."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from marketplace.errors import NotFound
from marketplace.notifications.models import Notification


def notifications_for(*, recipient: Any, unread_only: bool = False) -> QuerySet[Notification]:
    """The recipient's notifications, newest first."""
    qs = Notification.objects.filter(recipient=recipient).order_by("-created_at", "-id")
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs


def unread_count(*, recipient: Any) -> int:
    return Notification.objects.filter(recipient=recipient, read_at__isnull=True).count()


def notification_get_for_recipient(*, recipient: Any, notification_id: Any) -> Notification:
    """The access selector: someone else's notification and a missing one
    look the same (NotFound)."""
    try:
        uid = uuid.UUID(str(notification_id))
    except ValueError:
        raise NotFound("No such notification.") from None
    notification = Notification.objects.filter(pk=uid, recipient=recipient).first()
    if notification is None:
        raise NotFound("No such notification.")
    return notification
