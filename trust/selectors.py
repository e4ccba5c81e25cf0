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


def data_export_for(user: Any) -> Any:
    """The user's orders (either side), reviews written and received, and
    their ledger statement, for the data export (accounts' registry,
    TrustConfig.ready). The other party appears by public name only."""
    from marketplace.accounts.privacy import ExportPart
    from trust.reputation_models import Review

    orders = [
        {
            "id": str(o.id),
            "role": "buyer" if o.buyer_id == user.pk else "seller",
            "listing": o.listing.title,
            "counterpart": (o.seller if o.buyer_id == user.pk else o.buyer).public_name,
            "status": o.status,
            "price": {"amount_minor": o.price_minor, "currency": o.currency},
            "fee": {"amount_minor": o.fee_minor, "currency": o.currency},
            "created_at": o.created_at.isoformat(),
            "timeline": [{"status": e.status, "at": e.at.isoformat()} for e in o.events.all()],
        }
        for o in orders_for_user(user=user).order_by("created_at")
    ]
    reviews = Review.objects.filter(Q(author=user) | Q(subject=user)).select_related(
        "author", "subject"
    )
    statement = [
        {
            "at": line.entry.created_at.isoformat(),
            "kind": line.entry.kind,
            "account": line.account.kind,
            "amount_minor": line.amount_minor,
            "currency": line.currency,
        }
        for line in statement_lines(user=user)
    ]
    return ExportPart(
        {
            "orders": orders,
            "reviews": [
                {
                    "direction": "written" if r.author_id == user.pk else "received",
                    "about" if r.author_id == user.pk else "by": (
                        r.subject if r.author_id == user.pk else r.author
                    ).public_name,
                    "rating": r.rating,
                    "comment": r.comment,
                    "created_at": r.created_at.isoformat(),
                }
                for r in reviews
            ],
            "ledger_statement": statement,
        }
    )


def deletion_blockers(user: Any) -> list[str]:
    """Why the account cannot be deleted yet: orders still open on either side
    (accounts' deletion-check registry, TrustConfig.ready)."""
    from trust.models import OPEN_STATUSES

    open_orders = (
        Order.objects.filter(Q(buyer=user) | Q(seller=user), status__in=list(OPEN_STATUSES))
        .values_list("id", flat=True)
        .count()
    )
    return [f"{open_orders} open order(s) must be completed or cancelled"] if open_orders else []
