"""Reads of the trust app; `order_get_for_party` is the access function."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from marketplace.errors import NotFound
from marketplace.ids import parse_uuid
from trust.models import JournalLine, LedgerAccount, Order


def order_get_for_party(*, order_id: Any, user: Any) -> Order:
    """The order if `user` is its buyer or seller (or a moderator); NotFound otherwise."""
    uid = parse_uuid(order_id)
    if uid is None or user is None or not user.is_authenticated:
        raise NotFound("No such order.")
    qs = Order.objects.select_related("listing", "buyer", "seller").prefetch_related("events")
    if not user.has_perm("trust.view_order"):
        qs = qs.filter(Q(buyer=user) | Q(seller=user))
    order = qs.filter(pk=uid).first()
    if order is None:
        raise NotFound("No such order.")
    return order


def orders_for_user(*, user: Any, role: str | None = None) -> QuerySet[Order]:
    qs = Order.objects.select_related("listing", "buyer", "seller").prefetch_related("events")
    if role == "buyer":
        qs = qs.filter(buyer=user)
    elif role == "seller":
        qs = qs.filter(seller=user)
    else:
        qs = qs.filter(Q(buyer=user) | Q(seller=user))
    return qs.order_by("-created_at")


def statement_lines(*, user: Any) -> QuerySet[JournalLine]:
    """Ledger lines of the user's own accounts, and escrow lines of their sales."""
    accounts = LedgerAccount.objects.filter(user=user)
    return (
        JournalLine.objects.filter(
            Q(account__in=accounts) | Q(account__kind="escrow", entry__order__seller=user)
        )
        .select_related("entry", "account")
        .order_by("-entry__created_at", "-id")
    )
