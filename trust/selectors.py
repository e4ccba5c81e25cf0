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


def order_dispute_facts(*, order_id: Any) -> dict[str, Any] | None:
    """{id, seller_id, listing_id, dispute_reason} of an order (None for an
    unknown id): what a moderation case about its dispute needs."""
    uid = parse_uuid(order_id)
    if uid is None:
        return None
    return (
        Order.objects.filter(pk=uid)
        .values("id", "seller_id", "listing_id", "dispute_reason")
        .first()
    )


# --- for moderation (no access check: moderators and the system read any order) --------


def order_for_moderation(*, order_id: Any) -> Order | None:
    """The order a moderator's dispute decision acts on (hand it to
    `trust.escrow.dispute_resolve`); None for an unknown id."""
    uid = parse_uuid(order_id)
    if uid is None:
        return None
    return Order.objects.filter(pk=uid).first()


def order_state(*, order_id: Any) -> dict[str, Any]:
    """{status, dispute_state} for the moderation audit log's before/after
    ({} for an unknown id)."""
    row = Order.objects.filter(pk=order_id).values("status", "dispute_state").first()
    return dict(row) if row else {}


def order_buyer_id(*, order_id: Any) -> Any:
    """The buyer of an order (None for an unknown id): a dispute decision
    concerns them as well as the seller."""
    return Order.objects.filter(pk=order_id).values_list("buyer_id", flat=True).first()


def open_order_count(*, listing_id: Any = None, seller_id: Any = None) -> int:
    """Orders not yet closed (OPEN_STATUSES) on a listing, or else of a
    seller; 0 without either, and no query then."""
    from trust.models import OPEN_STATUSES

    orders = Order.objects.filter(status__in=OPEN_STATUSES)
    if listing_id:
        orders = orders.filter(listing_id=listing_id)
    elif seller_id:
        orders = orders.filter(seller_id=seller_id)
    else:
        return 0
    return orders.count()


def seller_order_counts(*, seller_id: Any) -> dict[str, int]:
    """{status: number of orders} of a seller (one grouped query)."""
    from django.db.models import Count

    rows = Order.objects.filter(seller_id=seller_id).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def seller_completed_orders(*, seller_id: Any, as_of: Any) -> int:
    """Orders the seller had completed (funds released) by `as_of`
    (inclusive): a fraud feature as it stood at a past moment."""
    from trust.models import OrderStatus

    return Order.objects.filter(
        seller_id=seller_id, status=OrderStatus.COMPLETED, closed_at__lte=as_of
    ).count()


def order_evidence(*, order_id: Any) -> dict[str, Any] | None:
    """What a moderator sees of a disputed order: status, price, parties,
    the dispute and the timeline (two queries); None for an unknown id."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return None
    return {
        "id": str(order.pk), "status": order.status, "price": order.price.to_dict(),
        "buyer_id": str(order.buyer_id), "seller_id": str(order.seller_id),
        "dispute_reason": order.dispute_reason, "dispute_details": order.dispute_details,
        "dispute_state": order.dispute_state,
        "timeline": [
            {"status": e.status, "action": e.action, "note": e.note, "at": e.at.isoformat()}
            for e in order.events.order_by("at")
        ],
    }


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


# --- dashboards (KPIs) --------------------------------------------------------------------------


def order_kpis(*, window: Any, currency: str) -> dict[str, Any]:
    """For the operator dashboard, over `window` (marketplace.analytics.kpi.Window):

    - GMV: the sum of prices of orders paid in the window (by `paid_at`,
      whatever happened to them later), per day and in total, in `currency`;
    - orders created per day, by their status now;
    - dispute rate: of the orders paid in the window, the share that had a
      dispute opened (`dispute_state` set, open or resolved).
    """
    from django.db.models import Count, Sum

    from marketplace.analytics.kpi import local_day, rate

    paid = Order.objects.filter(paid_at__gte=window.start, paid_at__lte=window.end,
                                currency=currency)
    gmv_by_day = {
        r["day"]: r["gmv"]
        for r in paid.annotate(day=local_day("paid_at")).values("day")
        .annotate(gmv=Sum("price_minor")).order_by()
    }
    counts = paid.aggregate(paid=Count("id"), disputed=Count("id", filter=~Q(dispute_state="")))
    created = Order.objects.filter(created_at__gte=window.start, created_at__lte=window.end)
    by_status: dict[str, dict[Any, int]] = {}
    for r in (created.annotate(day=local_day("created_at")).values("day", "status")
              .annotate(n=Count("id")).order_by()):
        by_status.setdefault(r["status"], {})[r["day"]] = r["n"]
    gmv_daily = window.series(gmv_by_day)
    return {
        "gmv": {"amount_minor": int(sum(gmv_daily)), "currency": currency},
        "gmv_daily": [int(v) for v in gmv_daily],
        "orders_created": created.count(),
        "orders_daily_by_status": {s: window.series(d) for s, d in sorted(by_status.items())},
        "paid_orders": counts["paid"],
        "disputed_orders": counts["disputed"],
        "dispute_rate": rate(counts["disputed"], counts["paid"]),
    }


def seller_sales_kpis(*, seller: Any, window: Any, currency: str) -> dict[str, Any]:
    """The seller's own orders in the window: sold (paid in the window) and
    the money of sales completed in the window (funds released)."""
    from django.db.models import Count, Sum

    mine = Order.objects.filter(seller=seller, currency=currency)
    paid = mine.filter(paid_at__gte=window.start, paid_at__lte=window.end).aggregate(
        n=Count("id"), total=Sum("price_minor"))
    completed = mine.filter(status="completed", closed_at__gte=window.start,
                            closed_at__lte=window.end).aggregate(n=Count("id"),
                                                                 total=Sum("price_minor"))
    return {
        "paid_orders": paid["n"],
        "paid_value": {"amount_minor": int(paid["total"] or 0), "currency": currency},
        "completed_orders": completed["n"],
        "completed_value": {"amount_minor": int(completed["total"] or 0), "currency": currency},
    }
