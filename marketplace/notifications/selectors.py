"""Reads about notifications."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from marketplace.notifications.models import Notification


def notifications_for(*, recipient: Any, unread_only: bool = False) -> QuerySet[Notification]:
    """The recipient's notifications, newest first."""
    qs = Notification.objects.filter(recipient=recipient).order_by("-created_at")
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs


def unread_count(*, recipient: Any) -> int:
    return Notification.objects.filter(recipient=recipient, read_at__isnull=True).count()
