"""What trust listens to on the outbox: its own order events, to tell the
buyer and seller what happened to their order.

`trust.order_<action>` {order_id, listing_id, buyer_id, seller_id, status,
action, note} is published by `escrow._record` for every transition. Each
action here names who hears of it; the notification kind is `order_<action>`
(the "order" preference), linked to the order page, once per order, action
and person (the dedupe key), so a redelivered event notifies nobody twice.
"""

from __future__ import annotations

from typing import Any

# action -> who is told ("buyer", "seller")
ORDER_NOTIFICATIONS: dict[str, tuple[str, ...]] = {
    "paid": ("seller",),  # ship within the deadline
    "payment_failed": ("buyer",),
    "shipped": ("buyer",),
    "delivered": ("buyer",),  # the confirmation window starts
    "completed": ("seller",),  # the buyer confirmed; money released
    "handed_over": ("buyer", "seller"),
    "auto_released": ("buyer", "seller"),
    "cancelled": ("buyer", "seller"),
    "disputed": ("seller",),
    "escalated": ("buyer", "seller"),
    "return_accepted": ("buyer",),
    "return_shipped": ("seller",),
    "refunded": ("buyer", "seller"),
    "released": ("buyer", "seller"),
    "split": ("buyer", "seller"),
    "evidence_added": ("buyer", "seller"),
}


def on_order_event(payload: dict[str, Any]) -> int:
    """Notify the parties an order action concerns; returns how many were told."""
    from django.contrib.auth import get_user_model

    from marketplace.notifications.services import notify

    action = payload.get("action", "")
    roles = ORDER_NOTIFICATIONS.get(action, ())
    ids = {payload.get(f"{role}_id") for role in roles} - {None}
    if not ids:
        return 0
    order_id = payload["order_id"]
    told = 0
    for user in get_user_model().objects.filter(pk__in=ids, is_active=True):
        role = "buyer" if str(user.pk) == str(payload.get("buyer_id")) else "seller"
        notify(
            recipient=user,
            kind=f"order_{action}",
            payload={"order_id": order_id, "listing_id": payload.get("listing_id"),
                     "status": payload.get("status"), "action": action, "role": role,
                     "note": payload.get("note", "")},
            link=f"/orders/{order_id}/",
            dedupe_key=f"order:{order_id}:{action}:{user.pk}",
        )
        told += 1
    return told


def register() -> None:
    from marketplace.outbox.services import subscribe

    for action in ORDER_NOTIFICATIONS:
        subscribe(f"trust.order_{action}", on_order_event, name="trust.notify_order_parties")
