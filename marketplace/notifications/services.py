"""Writing notifications and delivering them: in-app record, live push over
the channel layer, e-mail through Celery (immediately, as a daily digest, or
never, per user and kind).

Delivery rules:
- the Notification row is the source of truth; a live push and the e-mail
  task are started after commit, so a rolled-back write notifies nobody;
- an immediate e-mail is an EmailDelivery row written in the same
  transaction as the notification (a Redis outage cannot lose it: the sweep
  hands stale pending rows to Celery again);
- sending locks the delivery row and sends only while it is pending; a burst
  of one group (e.g. a conversation) gets one e-mail per window.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.errors import ValidationFailed
from marketplace.notifications import kinds
from marketplace.notifications.models import (
    DeliveryStatus,
    EmailDelivery,
    EmailThrottle,
    Notification,
    NotificationPreference,
)

logger = logging.getLogger(__name__)


def user_group_name(user_id: Any) -> str:
    """The channel-layer group every open notifications socket of a user joins."""
    return f"notifications.{user_id}"


def notify(
    *,
    recipient: Any,
    kind: str,
    payload: dict[str, Any],
    link: str = "",
    dedupe_key: str | None = None,
    group: str | None = None,
) -> Notification:
    """Record a notification for `recipient` (a user) and return it.

    With a `dedupe_key` the call is idempotent per recipient: a second call
    with the same key returns the first record and stores nothing (and
    delivers nothing again). The unique constraint decides, not a
    check-then-insert, so concurrent deliveries of one event cannot both write.

    `group` (or `payload["group"]`, or the kind's default such as
    "conversation:<id>" for chat) coalesces e-mails: one per group and
    NOTIFICATIONS_EMAIL_GROUP_WINDOW seconds.
    """
    group = group or str(payload.get("group") or "") or kinds.default_group(kind, payload)
    fields = {"kind": kind, "payload": payload, "link": link, "group": group[:200]}
    if dedupe_key is not None:
        existing = Notification.objects.filter(recipient=recipient, dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():  # a savepoint: the caller's transaction survives a clash
                notification = Notification.objects.create(
                    recipient=recipient, dedupe_key=dedupe_key, **fields
                )
                _plan_delivery(notification, recipient)
                return notification
        except IntegrityError:
            return Notification.objects.get(recipient=recipient, dedupe_key=dedupe_key)
    with transaction.atomic():
        notification = Notification.objects.create(recipient=recipient, **fields)
        _plan_delivery(notification, recipient)
    return notification


def _plan_delivery(notification: Notification, recipient: Any) -> None:
    """In the notification's transaction: write the immediate e-mail's delivery
    row when the user wants one; after commit, push live and start the task."""
    delivery_id = None
    if recipient.email and email_frequency(user=recipient, kind=notification.kind) == (
        kinds.IMMEDIATELY
    ):
        delivery = EmailDelivery.objects.create(
            key=f"notification:{notification.pk}",
            recipient=recipient,
            kind=EmailDelivery.SINGLE,
        )
        delivery.notifications.add(notification)
        delivery_id = delivery.pk
    _pending().append((notification.pk, recipient.pk, delivery_id))
    # One callback per call (a savepoint rollback drops its own), but the first
    # to run flushes everything pending: one channel-layer round for a fan-out
    # (a price drop to 1,000 favouriters) instead of one event loop per push.
    transaction.on_commit(_flush_pending, robust=True)


_local = threading.local()


def _pending() -> list[tuple[Any, Any, Any]]:
    if not hasattr(_local, "pending"):
        _local.pending = []
    return _local.pending


def _flush_pending() -> None:
    """After commit: push what was written live and hand e-mails to Celery.
    Entries of a rolled-back write are harmless: the push re-reads the rows
    (gone ones are skipped) and the e-mail task finds no delivery."""
    batch, _local.pending = _pending(), []
    if not batch:
        return
    push_notifications(notification_ids=[n for n, _, _ in batch])
    for _, _, delivery_id in batch:
        if delivery_id is not None:
            enqueue_email(delivery_id=delivery_id)


# --- reading state --------------------------------------------------------------------


def notifications_mark_read(*, recipient: Any, notification_ids: list[Any] | None = None) -> int:
    """Mark the recipient's notifications (all, or the given ids) read; returns
    how many. Every open tab hears the new unread count after commit."""
    unread = Notification.objects.filter(recipient=recipient, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(id__in=notification_ids)
    changed = unread.update(read_at=timezone.now())
    if changed:
        recipient_id = recipient.pk
        transaction.on_commit(lambda: push_unread_count(recipient_id=recipient_id), robust=True)
    return changed


def notification_mark_read(*, notification: Notification) -> Notification:
    """Mark one notification (already fetched through the access selector) read."""
    notifications_mark_read(recipient=notification.recipient, notification_ids=[notification.pk])
    notification.refresh_from_db(fields=["read_at"])
    return notification


# --- live push --------------------------------------------------------------------------


def notification_as_dict(notification: Notification) -> dict[str, Any]:
    """The public shape of a notification (REST and websocket alike)."""
    return {
        "id": str(notification.pk),
        "kind": notification.kind,
        "payload": notification.payload,
        "link": notification.link,
        "created_at": notification.created_at.isoformat().replace("+00:00", "Z"),
        "read_at": notification.read_at.isoformat().replace("+00:00", "Z")
        if notification.read_at
        else None,
        "is_read": notification.read_at is not None,
    }


def _group_send(messages: list[tuple[Any, dict[str, Any]]]) -> None:
    """A doorbell, not a store: a lost push is caught up through the REST list,
    so a channel-layer failure is logged and never fails the caller. All
    messages go out in one event loop (one Redis connection)."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None or not messages:
        return

    async def send_all() -> None:
        for recipient_id, message in messages:
            await layer.group_send(user_group_name(recipient_id), message)

    try:
        async_to_sync(send_all)()
    except Exception as exc:  # noqa: BLE001 - Redis down must not fail a write
        logger.warning("notifications: live push of %d failed: %s", len(messages), exc)


def push_notifications(*, notification_ids: list[Any]) -> None:
    """Push each (committed) notification with its recipient's unread count."""
    from django.db.models import Count

    notifications = list(Notification.objects.filter(pk__in=notification_ids).order_by("pk"))
    if not notifications:
        return
    counts = dict(
        Notification.objects.filter(
            recipient_id__in={n.recipient_id for n in notifications}, read_at__isnull=True
        )
        .values("recipient_id")
        .annotate(n=Count("pk"))
        .values_list("recipient_id", "n")
    )
    _group_send(
        [
            (
                n.recipient_id,
                {
                    "type": "notification.created",
                    "notification": notification_as_dict(n),
                    "unread_count": counts.get(n.recipient_id, 0),
                },
            )
            for n in notifications
        ]
    )


def push_unread_count(*, recipient_id: Any) -> None:
    from marketplace.notifications.selectors import unread_count

    count = unread_count(recipient=recipient_id)
    _group_send([(recipient_id, {"type": "notification.unread", "unread_count": count})])


# --- preferences --------------------------------------------------------------------------


def email_frequency(*, user: Any, kind: str) -> str:
    """The user's e-mail frequency for a notification kind (stored or default)."""
    key = kinds.preference_key(kind)
    stored = (
        NotificationPreference.objects.filter(user=user, kind=key)
        .values_list("frequency", flat=True)
        .first()
    )
    return stored or kinds.default_frequency(kind)


def preferences_for(*, user: Any) -> dict[str, str]:
    """Every known kind with the user's frequency (defaults filled in)."""
    stored = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "frequency"))
    return {name: stored.get(name, kind.default) for name, kind in kinds.KINDS.items()}


def preferences_update(*, user: Any, changes: dict[str, Any]) -> dict[str, str]:
    """Set frequencies (`{"chat_message": "daily", ...}`; kind "*" sets all).
    Unknown kinds or values are refused as a whole."""
    if not isinstance(changes, dict) or not changes:
        raise ValidationFailed(
            'Send an object of kind -> frequency, e.g. {"saved_search_match": "never"}.'
        )
    errors: dict[str, list[str]] = {}
    for name, value in changes.items():
        if name != kinds.ALL_KINDS and name not in kinds.KINDS:
            errors[name] = [f"Unknown kind. Known: {', '.join(kinds.KINDS)}."]
        elif value not in kinds.FREQUENCIES:
            errors[name] = [f"Must be one of: {', '.join(kinds.FREQUENCIES)}."]
    if errors:
        raise ValidationFailed(errors)
    expanded: dict[str, str] = {}
    if kinds.ALL_KINDS in changes:
        expanded = dict.fromkeys(kinds.KINDS, changes[kinds.ALL_KINDS])
    expanded.update({k: v for k, v in changes.items() if k != kinds.ALL_KINDS})
    with transaction.atomic():
        for name, value in expanded.items():
            NotificationPreference.objects.update_or_create(
                user=user, kind=name, defaults={"frequency": value}
            )
    return preferences_for(user=user)


# --- e-mail ---------------------------------------------------------------------------------


def enqueue_email(*, delivery_id: Any) -> bool:
    """Hand a delivery to Celery. Never raises: a broker outage leaves the row
    pending for `email_sweep_stale`."""
    from marketplace.notifications.tasks import send_email_delivery

    try:
        send_email_delivery.apply_async(args=[str(delivery_id)], retry=False)
    except Exception as exc:  # noqa: BLE001 - broker down, or an eager run failed for good
        logger.warning("notifications: could not hand e-mail %s over: %s", delivery_id, exc)
        return False
    return True


def _lock_throttle(recipient_id: Any, group: str) -> EmailThrottle:
    """The (recipient, group) throttle row, created if missing, locked."""
    EmailThrottle.objects.bulk_create(
        [EmailThrottle(recipient_id=recipient_id, group=group)], ignore_conflicts=True
    )
    return EmailThrottle.objects.select_for_update().get(recipient_id=recipient_id, group=group)


def email_delivery_send(*, delivery_id: Any, now: datetime | None = None) -> str:
    """Send one pending e-mail at most once; returns the delivery's status.

    Takes the EmailDelivery row lock (then the group's throttle lock), so two
    runs of the task cannot both send. `sent_at` is set in the same
    transaction, after the mail backend accepted the message: when the
    backend raises, everything rolls back and the task retries.
    """
    from marketplace.notifications import emails

    with transaction.atomic():
        delivery = (
            EmailDelivery.objects.select_for_update(of=("self",))
            .select_related("recipient")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return "missing"
        if delivery.status != DeliveryStatus.PENDING:
            return delivery.status
        now = now or timezone.now()
        user = delivery.recipient
        items = list(delivery.notifications.filter(read_at__isnull=True).order_by("created_at"))
        if delivery.kind == EmailDelivery.SINGLE:
            # The preference may have changed since the notification was written.
            items = [
                n for n in items if email_frequency(user=user, kind=n.kind) == kinds.IMMEDIATELY
            ]
        if not items or not user.email or not user.is_active:
            return _finish(delivery, DeliveryStatus.SKIPPED)
        throttle = None
        group = items[0].group if delivery.kind == EmailDelivery.SINGLE else ""
        if group:
            # Per kind and group: a chat burst collapses, an offer in the same
            # conversation still gets its own e-mail.
            throttle = _lock_throttle(user.pk, f"{items[0].kind}|{group}"[:200])
            window = timedelta(seconds=settings.NOTIFICATIONS_EMAIL_GROUP_WINDOW)
            if throttle.last_sent_at is not None and now - throttle.last_sent_at < window:
                return _finish(delivery, DeliveryStatus.SUPPRESSED)
        message = (
            emails.single_message(user=user, notification=items[0])
            if delivery.kind == EmailDelivery.SINGLE
            else emails.digest_message(user=user, notifications=items)
        )
        message.send(fail_silently=False)  # raises SMTPException/OSError on an outage
        delivery.status = DeliveryStatus.SENT
        delivery.sent_at = now
        delivery.attempts += 1
        delivery.last_error = ""
        delivery.save(update_fields=["status", "sent_at", "attempts", "last_error"])
        if throttle is not None:
            throttle.last_sent_at = now
            throttle.save(update_fields=["last_sent_at"])
    return DeliveryStatus.SENT


def _finish(delivery: EmailDelivery, status: str) -> str:
    delivery.status = status
    delivery.save(update_fields=["status"])
    return status


def email_delivery_record_failure(*, delivery_id: Any, error: str, final: bool) -> None:
    """Count a failed attempt (outside the rolled-back send); `final` gives up."""
    from django.db.models import F

    updates: dict[str, Any] = {"attempts": F("attempts") + 1, "last_error": error[:2000]}
    if final:
        updates["status"] = DeliveryStatus.FAILED
    EmailDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(**updates)


def email_sweep_stale(*, now: datetime | None = None, limit: int = 500) -> int:
    """Hand pending deliveries that never reached a worker (broker outage, lost
    task) to Celery again. Sending is idempotent, so a duplicate task is harmless."""
    now = now or timezone.now()
    stale = timedelta(seconds=settings.NOTIFICATIONS_EMAIL_STALE_AFTER)
    ids = list(
        EmailDelivery.objects.filter(
            status=DeliveryStatus.PENDING,
            created_at__lt=now - stale,
            created_at__gte=now - timedelta(days=2),
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    handed = 0
    for delivery_id in ids:
        if not enqueue_email(delivery_id=delivery_id):
            break
        handed += 1
    return handed


def digests_plan(*, now: datetime | None = None) -> list[Any]:
    """Create today's digest deliveries: per user, the unread notifications not
    yet e-mailed (nor covered by an earlier digest) of kinds the user gets
    daily. Idempotent per user and day. Returns the new delivery ids (their
    tasks start after commit)."""
    from django.contrib.auth import get_user_model

    now = now or timezone.now()
    since = now - timedelta(days=settings.NOTIFICATIONS_DIGEST_MAX_AGE_DAYS)
    candidates = (
        Notification.objects.filter(
            read_at__isnull=True, created_at__gte=since, email_deliveries__isnull=True
        )
        .order_by("recipient_id", "created_at")
        .values_list("pk", "recipient_id", "kind")
    )
    by_user: dict[Any, list[tuple[Any, str]]] = {}
    for pk, recipient_id, kind in candidates:
        by_user.setdefault(recipient_id, []).append((pk, kind))
    if not by_user:
        return []
    stored: dict[Any, dict[str, str]] = {}
    for user_id, kind, frequency in NotificationPreference.objects.filter(
        user_id__in=list(by_user)
    ).values_list("user_id", "kind", "frequency"):
        stored.setdefault(user_id, {})[kind] = frequency
    users = set(
        get_user_model()
        .objects.filter(pk__in=list(by_user), is_active=True)
        .exclude(email="")
        .values_list("pk", flat=True)
    )
    day = timezone.localdate(now).isoformat()
    wanted: dict[Any, list[Any]] = {}
    for user_id, items in by_user.items():
        if user_id not in users:
            continue
        prefs = stored.get(user_id, {})
        ids = [
            pk
            for pk, kind in items
            if prefs.get(kinds.preference_key(kind), kinds.default_frequency(kind)) == kinds.DAILY
        ]
        if ids:
            wanted[user_id] = ids
    created: list[Any] = []
    user_ids = list(wanted)
    for start in range(0, len(user_ids), 500):
        created += _digest_create({u: wanted[u] for u in user_ids[start : start + 500]}, day=day)
    return created


def _digest_create(wanted: dict[Any, list[Any]], *, day: str) -> list[Any]:
    """Bulk-insert one digest delivery per user (the unique key makes a second
    planner of the same day insert nothing) and link its notifications."""
    through = EmailDelivery.notifications.through
    with transaction.atomic():
        rows = [
            EmailDelivery(key=f"digest:{u}:{day}", recipient_id=u, kind=EmailDelivery.DIGEST)
            for u in wanted
        ]
        EmailDelivery.objects.bulk_create(rows, ignore_conflicts=True)
        # Ours are the rows whose generated id was stored (not an earlier run's).
        mine = {d.pk: d.recipient_id for d in rows}
        inserted = list(
            EmailDelivery.objects.filter(pk__in=list(mine)).values_list("pk", flat=True)
        )
        through.objects.bulk_create(
            [
                through(emaildelivery_id=pk, notification_id=n)
                for pk in inserted
                for n in wanted[mine[pk]]
            ]
        )
        for pk in inserted:
            transaction.on_commit(lambda d=pk: enqueue_email(delivery_id=d), robust=True)
    return inserted


# --- unsubscribe ------------------------------------------------------------------------------

UNSUBSCRIBE_SALT = "notifications.unsubscribe"


def unsubscribe_token(*, user: Any, kind: str) -> str:
    """A signed, login-free token for "stop e-mailing me <kind>" (or "*": all).
    No expiry: an unsubscribe link in an old e-mail must still work."""
    from django.core import signing

    return signing.dumps({"u": str(user.pk), "k": kind}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_parse(*, token: str) -> tuple[Any, str]:
    """(user, kind) for a valid token; ValidationFailed otherwise."""
    from django.contrib.auth import get_user_model
    from django.core import signing

    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        user = get_user_model().objects.filter(pk=data["u"]).first()
        kind = str(data["k"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise ValidationFailed("This unsubscribe link is invalid.") from None
    if user is None:
        raise ValidationFailed("This unsubscribe link is invalid.")
    return user, kind


def unsubscribe_apply(*, token: str, scope: str) -> tuple[Any, list[str]]:
    """Set "never" for the token's kind (`scope="kind"`) or every kind
    (`scope="all"`); returns (user, kinds changed)."""
    user, kind = unsubscribe_parse(token=token)
    if scope == "all" or kind == kinds.ALL_KINDS:
        changed = list(kinds.KINDS)
        preferences_update(user=user, changes={kinds.ALL_KINDS: kinds.NEVER})
    else:
        key = kinds.preference_key(kind)
        if key not in kinds.KINDS:
            raise ValidationFailed("This unsubscribe link is invalid.")
        changed = [key]
        preferences_update(user=user, changes={key: kinds.NEVER})
    return user, changed
