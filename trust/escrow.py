"""Escrow orders: every transition is one function here.

Each transition takes the order row lock (`select_for_update`), checks the
current state, and is idempotent: repeating a transition that already
happened returns the order unchanged; any other illegal move raises
InvalidState (HTTP 409 with the current state). Money moves only through
`trust.ledger.post` with a key derived from the order and the step, so a
retried call never moves money twice.

    created -> payment_pending -> paid -> shipped -> delivered -> completed
    created/payment_pending -> cancelled (buyer, seller, or unpaid timeout)
    paid -> cancelled + refund (seller cancels, or misses the ship deadline)
    paid/shipped/delivered -> disputed -> refunded | completed | split
    paid -> completed (in-person handover with the buyer's code)
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from listings import services as listing_services
from listings.models import Listing, ListingStatus
from marketplace.errors import InvalidState, NotAllowed, NotFound, ValidationFailed
from marketplace.ids import parse_uuid, uuid7
from marketplace.money import Money
from marketplace.outbox.services import publish
from marketplace.sql import prepared_cursor
from trust import ledger
from trust.models import (
    AccountKind,
    DisputeEvidence,
    DisputeState,
    Order,
    OrderEvent,
    OrderStatus,
    Payment,
    PaymentStatus,
    evidence_upload_to,
)
from trust.payments import gateway

logger = logging.getLogger(__name__)
S = OrderStatus

DISPUTE_REASONS = ("not_received", "not_as_described", "damaged", "counterfeit", "other")
# Claims a seller cannot settle alone: straight to a moderator.
ESCALATE_AT_ONCE = ("counterfeit", "damaged")


class PaymentDeclined(ValidationFailed):
    status_code = 402

    def __init__(self, reason: str) -> None:
        super().__init__({"payment_method": [reason]}, code="payment_declined")


# --- helpers ---------------------------------------------------------------------------------


def fee_for(price: Money) -> Money:
    """The seller's fee: a percentage with a minimum, never above the price."""
    fee = price.percent(settings.ESCROW_FEE_BASIS_POINTS)
    fee = max(fee, Money(settings.ESCROW_FEE_MINIMUM_MINOR, price.currency))
    return min(fee, price)


def add_business_days(start: datetime, days: int) -> datetime:
    current = start
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current


# The hot path's statements are written by hand and built once per process:
# compiling them with the ORM on every call (annotations, subqueries, a full
# UPDATE of every column) was about half of an order's CPU. Each statement
# names its columns from the models' metadata, so a new field cannot be missed.


@functools.cache
def _order_attnames() -> list[str]:
    return [f.attname for f in Order._meta.concrete_fields]


@functools.cache
def _lock_sql(count_payments: bool) -> str:
    from chat.models import Conversation

    columns = ", ".join(f'o."{f.column}"' for f in Order._meta.concrete_fields)
    payments = (
        ", (SELECT count(*) FROM trust_payment p WHERE p.order_id = o.id)" if count_payments else ""
    )
    return (
        f"SELECT {columns}, (SELECT c.id FROM {Conversation._meta.db_table} c "  # noqa: S608 - names from model metadata
        f"WHERE c.listing_id = o.listing_id AND c.buyer_id = o.buyer_id LIMIT 1){payments} "
        "FROM trust_order o WHERE o.id = %s FOR UPDATE OF o"
    )


def _lock(order: Order | Any, *, count_payments: bool = False) -> Order:
    """Lock and re-read the order row (`SELECT ... FOR UPDATE`). The
    buyer-seller conversation's id rides along in the same query (one round
    trip fewer for the system message), and with `count_payments` the number
    of payment attempts (`payment_attempts`)."""
    order_id = order.pk if isinstance(order, Order) else order
    if connection.vendor != "postgresql":
        return _lock_orm(order_id, count_payments=count_payments)
    names = _order_attnames()
    with prepared_cursor() as cursor:
        cursor.execute(_lock_sql(count_payments), (order_id,))
        row = cursor.fetchone()
    if row is None:
        raise Order.DoesNotExist("No such order.")
    locked = Order.from_db(connection.alias, names, row[: len(names)])
    locked.conversation_ref = row[len(names)]
    if count_payments:
        locked.payment_attempts = row[len(names) + 1]
    return locked


def _conversation_subquery(listing_ref: Any, buyer_ref: Any) -> Subquery:
    from chat.models import Conversation

    return Subquery(
        Conversation.objects.filter(listing_id=listing_ref, buyer_id=buyer_ref).values("pk")[:1]
    )


def _lock_orm(order_id: Any, *, count_payments: bool) -> Order:
    """`_lock` through the ORM, for databases other than PostgreSQL."""
    qs = Order.objects.select_for_update(of=("self",)).annotate(
        conversation_ref=_conversation_subquery(OuterRef("listing_id"), OuterRef("buyer_id"))
    )
    if count_payments:
        qs = qs.annotate(
            payment_attempts=Coalesce(
                Subquery(
                    Payment.objects.filter(order_id=OuterRef("pk"))
                    .order_by()
                    .values("order_id")
                    .annotate(n=Count("pk"))
                    .values("n")
                ),
                0,
            )
        )
    return qs.get(pk=order_id)


@functools.cache
def _insert_sql(model: type[Any]) -> tuple[str, tuple[str, ...]]:
    fields = model._meta.concrete_fields
    columns = ", ".join(f'"{f.column}"' for f in fields)
    marks = ", ".join("%s::jsonb" if f.get_internal_type() == "JSONField" else "%s" for f in fields)
    sql = f'INSERT INTO "{model._meta.db_table}" ({columns}) VALUES ({marks})'  # noqa: S608 - names from model metadata
    return sql, tuple(f.attname for f in fields)


def _insert(instance: Any) -> tuple[str, list[Any]]:
    """The INSERT of a new row for `instance` (every column; JSON dumped)."""
    sql, names = _insert_sql(type(instance))
    values = [getattr(instance, name) for name in names]
    for i, field in enumerate(type(instance)._meta.concrete_fields):
        if field.get_internal_type() == "JSONField":
            values[i] = json.dumps(values[i])
    return sql, values


@functools.cache
def _update_sql(fields: tuple[str, ...]) -> str:
    columns = ", ".join(f'"{Order._meta.get_field(name).column}" = %s' for name in fields)
    return f"UPDATE trust_order SET {columns} WHERE id = %s"  # noqa: S608 - names from model metadata


def _mark_saved(instance: Any) -> None:
    instance._state.adding = False
    instance._state.db = connection.alias


def _record(
    order: Order,
    action: str,
    *,
    actor: Any = None,
    note: str = "",
    save: Sequence[str] = (),
    inserts: Sequence[Any] = (),
    **data: Any,
) -> None:
    """Append the timeline row and announce `trust.order_<action>`.

    `save`: order fields to write; `inserts`: new rows (the order itself, a
    payment) to write first. On PostgreSQL they, the timeline row and the
    outbox event are one statement (data-modifying CTEs, see `publish`): one
    round trip instead of four. Call with the order row locked."""
    event = OrderEvent(
        id=uuid7(),
        order_id=order.pk,
        status=order.status,
        action=action,
        actor_id=actor.pk if getattr(actor, "pk", None) else None,
        note=note[:2000],
        data=data,
        at=timezone.now(),
    )
    payload = {
        "order_id": str(order.pk),
        "listing_id": str(order.listing_id),
        "buyer_id": str(order.buyer_id),
        "seller_id": str(order.seller_id),
        "status": order.status,
        "action": action,
        "note": note[:500],
    }
    topic = f"trust.order_{action}"
    if connection.vendor != "postgresql":
        for instance in inserts:
            instance.save(force_insert=True)
        if save:
            order.save(update_fields=list(save))
        event.save(force_insert=True)
        publish(topic=topic, payload=payload)
        return
    writes = [_insert(instance) for instance in inserts]
    if save:
        writes.append((_update_sql(tuple(save)), [getattr(order, f) for f in save] + [order.pk]))
    writes.append(_insert(event))
    publish(topic=topic, payload=payload, with_writes=writes)
    for instance in (*inserts, event):
        _mark_saved(instance)


def _listing_ref(order: Order) -> Listing:
    """The listing as the listings services take it: they lock and re-read the
    row by its key themselves, so loading it here would be a wasted query."""
    return Listing(pk=order.listing_id)


def _refuse(order: Order, action: str) -> InvalidState:
    return InvalidState(
        f"Cannot {action} an order that is {order.get_status_display().lower()}.",
        state=order.status,
    )


def _require(actor: Any, user_id: Any, what: str) -> None:
    if actor is None or actor.pk != user_id:
        raise NotAllowed(f"Only the {what} can do this.")


def _accounts(order: Order) -> dict[str, Any]:
    cur = order.currency
    return {
        "gateway": ledger.account_for(AccountKind.GATEWAY, cur),
        "escrow": ledger.account_for(AccountKind.ESCROW, cur),
        "fees": ledger.account_for(AccountKind.FEES, cur),
        "refunds": ledger.account_for(AccountKind.REFUNDS, cur),
        "seller": ledger.account_for(AccountKind.AVAILABLE, cur, order.seller_id),
    }


def _hold_funds(order: Order) -> None:
    cur = order.currency
    ledger.post(
        idempotency_key=f"order:{order.pk}:pay",
        kind="payment",
        order=order,
        memo="buyer paid into escrow",
        legs=[
            ledger.Leg(ledger.account_for(AccountKind.GATEWAY, cur), debit=order.price),
            ledger.Leg(ledger.account_for(AccountKind.ESCROW, cur), credit=order.price),
        ],
    )


def _release(order: Order, *, seller_share: Money, key: str) -> None:
    """Pay `seller_share` of the escrow to the seller (minus the fee on that
    share) and refund the rest to the buyer."""
    acc = _accounts(order)
    price = order.price
    refund = price - seller_share
    fee = fee_for(seller_share) if seller_share else Money.zero(order.currency)
    legs = [ledger.Leg(acc["escrow"], debit=price)]
    if seller_share:
        legs.append(ledger.Leg(acc["seller"], credit=seller_share - fee))
        legs.append(ledger.Leg(acc["fees"], credit=fee))
    if refund:
        legs.append(ledger.Leg(acc["refunds"], credit=refund))
    ledger.post(
        idempotency_key=key,
        kind="release" if not refund else "settle",
        order=order,
        memo=f"seller {seller_share}, fee {fee}, refund {refund}",
        legs=legs,
    )
    if refund:
        _pay_out_refund(order, refund, key=f"{key}:refund")
    order.fee_minor = fee.amount_minor
    order.refunded_minor = refund.amount_minor


def _pay_out_refund(order: Order, refund: Money, *, key: str) -> None:
    acc = _accounts(order)
    payment = order.payments.filter(status=PaymentStatus.SUCCEEDED).first()
    if payment is not None:
        gateway().refund(reference=payment.provider_reference, amount=refund, idempotency_key=key)
    ledger.post(
        idempotency_key=key,
        kind="refund_payout",
        order=order,
        memo="refund sent to the buyer's card",
        legs=[
            ledger.Leg(acc["refunds"], debit=refund),
            ledger.Leg(acc["gateway"], credit=refund),
        ],
    )


def _refund_all(order: Order, *, key: str) -> None:
    _release(order, seller_share=Money.zero(order.currency), key=key)


def _conversation_note(order: Order, body: str) -> None:
    """Post the step into the buyer-seller conversation, if there is one."""
    from chat.models import Conversation
    from chat.services import system_message_post

    if hasattr(order, "conversation_ref"):  # read with the row lock (`_lock`)
        conversation_id = order.conversation_ref
    else:
        conversation_id = (
            Conversation.objects.filter(listing_id=order.listing_id, buyer_id=order.buyer_id)
            .values_list("pk", flat=True)
            .first()
        )
    if conversation_id is not None:
        system_message_post(
            conversation_id=conversation_id,
            body=body,
            data={"order_id": str(order.pk), "status": order.status},
            dedupe_key=f"o:{str(order.pk)[-12:]}:{order.status}:{body[:20]}",
        )


def _close(order: Order, status: str, now: datetime) -> None:
    order.status = status
    order.closed_at = now
    order.release_at = None


# --- create ------------------------------------------------------------------------------------


def order_create(*, buyer: Any, listing_id: Any, offer_id: Any = None) -> Order:
    """Open an order at the accepted offer's price or the list price; the
    listing is reserved for it. Of many buyers racing for one listing exactly
    one gets the order (the listing row lock decides); the others get 409."""
    from chat.models import Offer, OfferStatus

    uid = parse_uuid(listing_id)
    if uid is None:
        raise NotFound("No such listing.")
    with transaction.atomic():
        listing = _lock_listing(uid, buyer.pk)
        if listing is None or listing.status not in (ListingStatus.ACTIVE, ListingStatus.RESERVED):
            from listings.selectors import listing_get_for_user

            listing_get_for_user(listing_id=uid, user=buyer)  # 404 unless visible
            raise InvalidState(
                "This listing is not for sale.", state=listing.status if listing else None
            )
        if listing.seller_id == buyer.pk:
            raise ValidationFailed({"listing": ["You cannot buy your own listing."]})
        price = listing.price
        offer = None
        if offer_id:
            offer = Offer.objects.filter(
                pk=parse_uuid(offer_id), listing_id=listing.pk, buyer=buyer
            ).first()
            if offer is None:
                raise ValidationFailed({"offer": ["No such offer of yours on this listing."]})
            if offer.status != OfferStatus.ACCEPTED:
                raise InvalidState("Only an accepted offer sets the price.", state=offer.status)
            price = offer.amount
            existing = Order.objects.filter(offer=offer).exclude(status__in=[S.CANCELLED]).first()
            if existing is not None:
                return existing
        if listing.status == ListingStatus.RESERVED:
            # Only the buyer whose offer reserved it may check out.
            if offer is None or listing.reserved_by != f"offer:{offer.pk}":
                raise InvalidState(
                    "This listing is reserved for another buyer.", state=listing.status
                )
        now = timezone.now()
        order = Order(
            id=uuid7(),
            listing_id=listing.pk,
            buyer=buyer,
            seller_id=listing.seller_id,
            offer=offer,
            price_minor=price.amount_minor,
            currency=price.currency,
            fee_minor=fee_for(price).amount_minor,
            status=S.CREATED,
            created_at=now,
            pay_by=now + timedelta(minutes=settings.ESCROW_PAY_WITHIN_MINUTES),
            delivery="ship" if listing.ships else "handover",
            handover_code=f"{secrets.randbelow(10**6):06d}",
        )
        order.conversation_ref = listing.conversation_ref
        if listing.status == ListingStatus.RESERVED:
            listing_services.listing_release_reservation(
                listing=listing, order_ref=f"offer:{offer.pk}"
            )
        reserved = listing_services.listing_reserve(
            listing=listing, order_ref=f"order:{order.pk}"
        )
        # The order's INSERT rides with its first timeline row. No savepoint:
        # on a clash the whole transaction rolls back anyway.
        try:
            _record(
                order, "created", actor=buyer, inserts=[order],
                price=price.to_dict(), fee=order.fee.to_dict(),
            )
        except IntegrityError:
            raise InvalidState(
                "Someone else is already buying this listing.", state=ListingStatus.RESERVED
            ) from None
        order.listing = reserved
        _conversation_note(order, "Order created: waiting for payment.")
    return order


def _lock_listing(listing_id: Any, buyer_id: Any) -> Listing | None:
    """Lock the listing row and read what an order needs of it, with the
    buyer's conversation about it (None when there is no such listing)."""
    from chat.models import Conversation

    if connection.vendor != "postgresql":
        return (
            Listing.objects.select_for_update(of=("self",))
            .annotate(conversation_ref=_conversation_subquery(OuterRef("pk"), buyer_id))
            .filter(pk=listing_id)
            .first()
        )

    conversations, listings = Conversation._meta.db_table, Listing._meta.db_table
    sql = (
        "SELECT l.id, l.seller_id, l.price_minor, l.price_currency, l.ships, "  # noqa: S608
        f"l.status, l.reserved_by, (SELECT c.id FROM {conversations} c "
        "WHERE c.listing_id = l.id AND c.buyer_id = %s LIMIT 1) "
        f"FROM {listings} l WHERE l.id = %s FOR UPDATE OF l"
    )
    with prepared_cursor() as cursor:
        cursor.execute(sql, (buyer_id, listing_id))
        row = cursor.fetchone()
    if row is None:
        return None
    # In the model's field order, as `from_db` expects.
    listing = Listing.from_db(
        connection.alias,
        ["id", "seller_id", "price_minor", "price_currency", "ships", "status", "reserved_by"],
        row[:7],
    )
    listing.conversation_ref = row[7]
    return listing


# --- pay ---------------------------------------------------------------------------------------


def order_pay(*, order: Order, buyer: Any, payment_method: str, idempotency_key: str = "") -> Order:
    """Charge the buyer through the gateway and hold the funds in escrow.

    card_ok -> paid; card_declined -> PaymentDeclined (402), order unchanged;
    card_review -> payment_pending until the webhook. Paying a paid order
    again returns it (no second charge)."""
    _require(buyer, order.buyer_id, "buyer")
    if not isinstance(payment_method, str) or not payment_method:
        raise ValidationFailed({"payment_method": ["Choose a payment method."]})
    with transaction.atomic():
        locked = _lock(order, count_payments=True)
        if locked.status in (S.PAID, S.SHIPPED, S.DELIVERED, S.COMPLETED, S.PAYMENT_PENDING):
            return locked
        if locked.status != S.CREATED:
            raise _refuse(locked, "pay")
        # The attempt number came with the row lock, which keeps it stable until
        # commit. Keys carry the order's id, so with no attempt yet there is no
        # earlier payment with this key to look for.
        attempts = locked.payment_attempts
        key = f"order:{locked.pk}:charge:{idempotency_key or attempts + 1}"
        result = gateway().charge(amount=locked.price, method=payment_method, idempotency_key=key)
        payment = Payment.objects.filter(idempotency_key=key).first() if attempts else None
        if payment is None:
            payment = Payment(
                idempotency_key=key,
                order=locked,
                amount_minor=locked.price_minor,
                currency=locked.currency,
                method=payment_method,
                provider_reference=result.reference,
                status=PaymentStatus.FAILED
                if result.status == "declined"
                else PaymentStatus.PENDING,
                failure_reason=result.reason if result.status == "declined" else "",
            )
            payment.created_at = timezone.now()
            if result.status == "succeeded":
                # Settled in the same insert (no second write), which rides
                # with the order's UPDATE in `_settle_payment`.
                payment.status, payment.settled_at = PaymentStatus.SUCCEEDED, payment.created_at
            else:
                payment.save(force_insert=True)
        if result.status == "declined":
            # The failure is recorded (committed below), then refused.
            decline = PaymentDeclined(result.reason)
        else:
            decline = None
            if result.status == "succeeded":
                _settle_payment(locked, payment)
            else:
                locked.status = S.PAYMENT_PENDING
                locked.save(update_fields=["status"])
                _record(locked, "payment_pending", actor=buyer, note="The payment is under review.")
    if decline is not None:
        raise decline
    return locked


def _settle_payment(order: Order, payment: Payment) -> None:
    """Call with the order row locked. A payment not yet saved (`order_pay`'s
    settled charge) is inserted in the same statement as the order's UPDATE."""
    now = timezone.now()
    inserts = []
    if payment._state.adding:
        inserts.append(payment)
    elif payment.status != PaymentStatus.SUCCEEDED:
        payment.status = PaymentStatus.SUCCEEDED
        payment.settled_at = now
        payment.save(update_fields=["status", "settled_at"])
    _hold_funds(order)
    order.status = S.PAID
    order.paid_at = now
    order.ship_by = add_business_days(now, settings.ESCROW_SHIP_WITHIN_BUSINESS_DAYS)
    _record(
        order, "paid", note="Payment received; the money is held in escrow.",
        save=("status", "paid_at", "ship_by"), inserts=inserts,
    )
    _conversation_note(order, "Paid: the money is held safely until the buyer confirms.")


def payment_webhook(*, event: dict[str, Any]) -> str:
    """Apply a verified provider event. Replays are ignored; events for a
    payment that is already final (e.g. a late `failed` after `succeeded`)
    change nothing. Returns what happened."""
    from trust.models import WebhookEvent

    with transaction.atomic():
        try:
            with transaction.atomic():
                record = WebhookEvent.objects.create(
                    event_id=event["id"], source="payments", kind=event["type"], payload=event
                )
        except IntegrityError:
            return "duplicate"
        reference = str(event["data"].get("reference", ""))
        payment = (
            Payment.objects.select_related("order").filter(provider_reference=reference).first()
        )
        if payment is None:
            outcome = "unknown_payment"
        else:
            order = _lock(payment.order)
            payment.refresh_from_db()
            if payment.status != PaymentStatus.PENDING:
                outcome = f"ignored_payment_{payment.status}"
            elif event["type"] == "payment.succeeded":
                if order.status == S.PAYMENT_PENDING:
                    _settle_payment(order, payment)
                    outcome = "paid"
                else:
                    outcome = f"ignored_order_{order.status}"
            elif event["type"] == "payment.failed":
                payment.status = PaymentStatus.FAILED
                payment.failure_reason = str(event["data"].get("reason", ""))[:200]
                payment.save(update_fields=["status", "failure_reason"])
                if order.status == S.PAYMENT_PENDING:
                    order.status = S.CREATED
                    order.save(update_fields=["status"])
                    _record(order, "payment_failed", note=payment.failure_reason)
                outcome = "failed"
            else:
                outcome = "ignored_type"
        record.outcome = outcome
        record.save(update_fields=["outcome"])
    return outcome


# --- ship, handover, deliver, confirm ---


def order_ship(*, order: Order, seller: Any, carrier: str, tracking: str) -> Order:
    _require(seller, order.seller_id, "seller")
    errors: dict[str, list[str]] = {}
    if not isinstance(carrier, str) or not 2 <= len(carrier.strip()) <= 60:
        errors["carrier"] = ["Name the carrier."]
    if not isinstance(tracking, str) or not 4 <= len(tracking.strip()) <= 100:
        errors["tracking"] = ["Enter the tracking number."]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        locked = _lock(order)
        if locked.status == S.SHIPPED and locked.tracking == tracking.strip():
            return locked
        if locked.status != S.PAID:
            raise _refuse(locked, "ship")
        locked.status = S.SHIPPED
        locked.carrier, locked.tracking = carrier.strip(), tracking.strip()
        locked.shipped_at = timezone.now()
        # Without a tracking event the buyer still gets a window after a long transit.
        locked.release_at = locked.shipped_at + timedelta(days=14)
        _record(
            locked, "shipped", actor=seller, carrier=locked.carrier, tracking=locked.tracking,
            save=("status", "carrier", "tracking", "shipped_at", "release_at"),
        )
        _conversation_note(locked, f"Shipped with {locked.carrier}, tracking {locked.tracking}.")
    return locked


def order_mark_delivered(*, order: Order, source: str = "carrier") -> Order:
    with transaction.atomic():
        locked = _lock(order)
        if locked.status == S.DELIVERED:
            return locked
        if locked.status != S.SHIPPED:
            raise _refuse(locked, "deliver")
        now = timezone.now()
        locked.status = S.DELIVERED
        locked.delivered_at = now
        locked.release_at = now + timedelta(hours=settings.ESCROW_CONFIRM_WINDOW_HOURS)
        _record(
            locked, "delivered", note=f"Delivered ({source}).",
            save=("status", "delivered_at", "release_at"),
        )
        _conversation_note(locked, "Delivered. Please check the item and confirm.")
    return locked


def carrier_webhook(*, event: dict[str, Any]) -> str:
    from trust.models import WebhookEvent

    with transaction.atomic():
        try:
            with transaction.atomic():
                WebhookEvent.objects.create(
                    event_id=event["id"], source="shipping", kind=event["type"], payload=event
                )
        except IntegrityError:
            return "duplicate"
        if event["type"] != "tracking.delivered":
            return "ignored_type"
        order = Order.objects.filter(
            tracking=str(event["data"].get("tracking", "")), status__in=[S.SHIPPED, S.DELIVERED]
        ).first()
        if order is None:
            return "unknown_tracking"
        order_mark_delivered(order=order)
    return "delivered"


def _complete(locked: Order, *, actor: Any, action: str, note: str) -> None:
    _release(locked, seller_share=locked.price, key=f"order:{locked.pk}:release")
    _close(locked, S.COMPLETED, timezone.now())
    locked.dispute_state = DisputeState.RESOLVED if locked.dispute_state else ""
    listing_services.listing_mark_sold(listing=_listing_ref(locked), order_ref=f"order:{locked.pk}")
    _record(
        locked, action, actor=actor, note=note,
        save=("status", "closed_at", "release_at", "dispute_state", "fee_minor", "refunded_minor"),
    )
    _conversation_note(locked, "Completed: the money was released to the seller.")


def order_confirm(*, order: Order, buyer: Any) -> Order:
    """The buyer received the item: release the funds to the seller."""
    _require(buyer, order.buyer_id, "buyer")
    with transaction.atomic():
        locked = _lock(order)
        if locked.status == S.COMPLETED:
            return locked
        if locked.status not in (S.SHIPPED, S.DELIVERED):
            raise _refuse(locked, "confirm")
        _complete(locked, actor=buyer, action="completed", note="The buyer confirmed receipt.")
    return locked


def order_handover(*, order: Order, seller: Any, code: Any) -> Order:
    """In-person deal: the seller enters the code the buyer shows on the spot;
    both have met, so the funds are released."""
    _require(seller, order.seller_id, "seller")
    with transaction.atomic():
        locked = _lock(order)
        if locked.status == S.COMPLETED:
            return locked
        if locked.status != S.PAID:
            raise _refuse(locked, "hand over")
        if not isinstance(code, str) or not secrets.compare_digest(
            code.strip(), locked.handover_code
        ):
            raise ValidationFailed({"code": ["That is not the buyer's handover code."]})
        _complete(
            locked,
            actor=seller,
            action="handed_over",
            note="Handed over in person; the buyer's code matched.",
        )
    return locked


# --- cancel --------------------------------------------------------------------------------------


def order_cancel(*, order: Order, actor: Any, reason: str = "") -> Order:
    """Before payment either side may cancel; after payment (not yet shipped)
    only the seller, and the buyer is refunded in full."""
    if actor.pk not in (order.buyer_id, order.seller_id):
        raise NotFound("No such order.")
    with transaction.atomic():
        locked = _lock(order)
        if locked.status == S.CANCELLED:
            return locked
        if locked.status in (S.CREATED, S.PAYMENT_PENDING):
            _cancel_unpaid(locked, actor=actor, note=reason or "Cancelled before payment.")
        elif locked.status == S.PAID and actor.pk == locked.seller_id:
            _cancel_with_refund(locked, actor=actor, note=reason or "The seller cancelled.")
        elif locked.status == S.PAID:
            raise InvalidState(
                "After payment only the seller can cancel; open a dispute if something is wrong.",
                state=locked.status,
            )
        else:
            raise _refuse(locked, "cancel")
    return locked


def _cancel_unpaid(locked: Order, *, actor: Any, note: str) -> None:
    _close(locked, S.CANCELLED, timezone.now())
    locked.save()
    listing_services.listing_release_reservation(
        listing=_listing_ref(locked), order_ref=f"order:{locked.pk}"
    )
    _record(locked, "cancelled", actor=actor, note=note)
    _conversation_note(locked, "The order was cancelled; the item is available again.")


def _cancel_with_refund(locked: Order, *, actor: Any, note: str) -> None:
    _refund_all(locked, key=f"order:{locked.pk}:cancel_refund")
    _close(locked, S.CANCELLED, timezone.now())
    locked.save()
    listing_services.listing_release_reservation(
        listing=_listing_ref(locked), order_ref=f"order:{locked.pk}"
    )
    _record(locked, "cancelled", actor=actor, note=note + " The buyer was refunded.")
    _conversation_note(locked, "The order was cancelled and the buyer refunded.")


# --- disputes ------------------------------------------------------------------------------------


def order_dispute(*, order: Order, buyer: Any, reason: str, details: str = "") -> Order:
    """The buyer complains before release: the funds stay frozen. The seller
    has ESCROW_DISPUTE_RESPONSE_HOURS to refund, accept a return or contest;
    counterfeit and damage claims go to a moderator at once."""
    _require(buyer, order.buyer_id, "buyer")
    if reason not in DISPUTE_REASONS:
        raise ValidationFailed({"reason": [f"One of {', '.join(DISPUTE_REASONS)}."]})
    if not isinstance(details, str) or len(details) > 5000:
        raise ValidationFailed({"details": ["At most 5000 characters."]})
    with transaction.atomic():
        locked = _lock(order)
        if locked.status == S.DISPUTED:
            return locked
        if locked.status not in (S.PAID, S.SHIPPED, S.DELIVERED):
            raise _refuse(locked, "dispute")
        now = timezone.now()
        locked.status_before_dispute = locked.status
        locked.status = S.DISPUTED
        locked.release_at = None
        locked.dispute_reason, locked.dispute_details = reason, details
        if reason in ESCALATE_AT_ONCE:
            locked.dispute_state = DisputeState.ESCALATED
            locked.dispute_respond_by = None
        else:
            locked.dispute_state = DisputeState.AWAITING_SELLER
            locked.dispute_respond_by = now + timedelta(
                hours=settings.ESCROW_DISPUTE_RESPONSE_HOURS
            )
        locked.save()
        _record(locked, "disputed", actor=buyer, note=details, reason=reason)
        if locked.dispute_state == DisputeState.ESCALATED:
            _record(locked, "escalated", note=f"'{reason}' claims go to a moderator.")
        _conversation_note(locked, "The buyer opened a dispute; the money stays on hold.")
    return locked


def dispute_seller_respond(*, order: Order, seller: Any, action: str, note: str = "") -> Order:
    """refund (buyer refunded), accept_return (buyer ships it back) or contest
    (a moderator decides)."""
    _require(seller, order.seller_id, "seller")
    if action not in ("refund", "accept_return", "contest"):
        raise ValidationFailed({"action": ["One of refund, accept_return, contest."]})
    with transaction.atomic():
        locked = _lock(order)
        if locked.status != S.DISPUTED or locked.dispute_state != DisputeState.AWAITING_SELLER:
            raise _refuse(locked, "answer the dispute of")
        if action == "refund":
            _refund_to_close(locked, actor=seller, note=note or "The seller refunded.")
        elif action == "accept_return":
            locked.dispute_state = DisputeState.RETURN_ACCEPTED
            locked.dispute_respond_by = None
            locked.save()
            _record(locked, "return_accepted", actor=seller, note=note)
            _conversation_note(locked, "The seller accepted a return: ship the item back.")
        else:
            _escalate(locked, actor=seller, note=note or "The seller contests the claim.")
    return locked


def dispute_return_shipped(*, order: Order, buyer: Any, carrier: str, tracking: str) -> Order:
    _require(buyer, order.buyer_id, "buyer")
    with transaction.atomic():
        locked = _lock(order)
        if locked.dispute_state != DisputeState.RETURN_ACCEPTED:
            raise _refuse(locked, "ship back")
        locked.dispute_state = DisputeState.RETURN_SHIPPED
        locked.save()
        _record(locked, "return_shipped", actor=buyer, carrier=carrier, tracking=tracking)
    return locked


def dispute_return_received(*, order: Order, seller: Any) -> Order:
    _require(seller, order.seller_id, "seller")
    with transaction.atomic():
        locked = _lock(order)
        if locked.status == S.REFUNDED:
            return locked
        if locked.dispute_state != DisputeState.RETURN_SHIPPED:
            raise _refuse(locked, "receive the return of")
        _refund_to_close(locked, actor=seller, note="The seller received the return.")
    return locked


def _escalate(locked: Order, *, actor: Any, note: str) -> None:
    locked.dispute_state = DisputeState.ESCALATED
    locked.dispute_respond_by = None
    locked.save()
    _record(locked, "escalated", actor=actor, note=note)
    _conversation_note(locked, "A moderator will look at the dispute.")


def _refund_to_close(locked: Order, *, actor: Any, note: str) -> None:
    _refund_all(locked, key=f"order:{locked.pk}:dispute_refund")
    _close(locked, S.REFUNDED, timezone.now())
    locked.dispute_state = DisputeState.RESOLVED
    locked.save()
    listing_services.listing_release_reservation(
        listing=_listing_ref(locked), order_ref=f"order:{locked.pk}"
    )
    _record(locked, "refunded", actor=actor, note=note)
    _conversation_note(locked, "The buyer was refunded.")


def dispute_resolve(
    *, order: Order, moderator: Any, decision: str, refund_minor: int | None = None, note: str = ""
) -> Order:
    """A moderator's decision: refund (all to the buyer), release (all to the
    seller) or split (refund `refund_minor` to the buyer, the rest released).
    Moderation calls this; trust does not know moderation."""
    if decision not in ("refund", "release", "split"):
        raise ValidationFailed({"action": ["One of refund, release, split."]})
    with transaction.atomic():
        locked = _lock(order)
        if locked.status in (S.REFUNDED, S.COMPLETED, S.SPLIT):
            return locked
        if locked.status != S.DISPUTED:
            raise _refuse(locked, "resolve")
        if decision == "refund":
            _refund_to_close(
                locked, actor=moderator, note=note or "A moderator refunded the buyer."
            )
        elif decision == "release":
            _complete(
                locked,
                actor=moderator,
                action="released",
                note=note or "A moderator released the money to the seller.",
            )
        else:
            if not isinstance(refund_minor, int) or not 0 < refund_minor < locked.price_minor:
                raise ValidationFailed(
                    {"refund_minor": ["For a split, refund more than 0 and less than the price."]}
                )
            share = locked.price - Money(refund_minor, locked.currency)
            _release(locked, seller_share=share, key=f"order:{locked.pk}:split")
            _close(locked, S.SPLIT, timezone.now())
            locked.dispute_state = DisputeState.RESOLVED
            locked.save()
            listing_services.listing_mark_sold(
                listing=_listing_ref(locked), order_ref=f"order:{locked.pk}"
            )
            _record(
                locked,
                "split",
                actor=moderator,
                note=note or f"A moderator refunded {Money(refund_minor, locked.currency)}.",
            )
            _conversation_note(locked, "A moderator split the payment.")
    return locked


def _require_open_dispute(order: Order) -> None:
    if order.status != S.DISPUTED or order.dispute_state == DisputeState.RESOLVED:
        raise _refuse(order, "add evidence to")


def dispute_evidence_add(*, order: Order, actor: Any, uploads: list[Any]) -> list[DisputeEvidence]:
    """Attach photos to the open dispute of `order` (the buyer or the seller).

    Every upload goes through the listings photo pipeline (size and pixel
    caps, real image check, EXIF and GPS dropped by re-encoding) before any
    lock is taken, since decoding is slow. Then, under the order row lock, the
    dispute must still be open and the uploader stays within
    ESCROW_DISPUTE_EVIDENCE_MAX_PHOTOS. All or nothing: one bad photo stores none.
    """
    from listings.photos import process_upload

    if actor is None or actor.pk not in (order.buyer_id, order.seller_id):
        raise NotAllowed("Only the buyer or the seller can add evidence.")
    limit = settings.ESCROW_DISPUTE_EVIDENCE_MAX_PHOTOS
    if not uploads:
        raise ValidationFailed({"image": ["Attach at least one photo (field `image`)."]})
    if len(uploads) > limit:
        raise ValidationFailed({"image": [f"At most {limit} photos per party."]})
    _require_open_dispute(order)  # fail fast, before decoding anything
    processed = [process_upload(upload) for upload in uploads]
    stored: list[str] = []
    with transaction.atomic():
        locked = _lock(order)
        _require_open_dispute(locked)
        already = DisputeEvidence.objects.filter(order=locked, uploaded_by_id=actor.pk).count()
        if already + len(processed) > limit:
            raise ValidationFailed(
                {"image": [f"At most {limit} photos per party; you have {already}."]}
            )
        try:
            items = []
            for photo in processed:
                item = DisputeEvidence(
                    order=locked,
                    uploaded_by_id=actor.pk,
                    width=photo.width,
                    height=photo.height,
                    size_bytes=len(photo.content),
                )
                item.image.name = default_storage.save(
                    evidence_upload_to(item, "evidence.jpg"), ContentFile(photo.content)
                )
                stored.append(item.image.name)
                items.append(item)
            DisputeEvidence.objects.bulk_create(items)
            role = "buyer" if actor.pk == locked.buyer_id else "seller"
            _record(
                locked,
                "evidence_added",
                actor=actor,
                note=f"The {role} added {len(items)} photo(s) as evidence.",
                evidence=[str(item.pk) for item in items],
            )
        except Exception:
            for name in stored:
                default_storage.delete(name)
            raise
    return items


# --- timers (Celery beat) -----------------------------------------------------------------------


def _sweep(due: Q, act: Callable[[Order], None], *, batch: int = 500) -> int:
    """Run `act` on each order matching `due`, each in its own transaction.

    The row lock is taken with the same condition, so an order that moved on
    since it was selected (paid, shipped, answered...) is skipped."""
    done = 0
    for order_id in Order.objects.filter(due).values_list("pk", flat=True)[:batch]:
        with transaction.atomic():
            locked = Order.objects.select_for_update(of=("self",)).filter(due, pk=order_id).first()
            if locked is None:
                continue
            act(locked)
            done += 1
    return done


def orders_expire_unpaid(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return _sweep(
        Q(status=S.CREATED, pay_by__lte=now),
        lambda order: _cancel_unpaid(order, actor=None, note="Not paid in time."),
    )


def orders_cancel_unshipped(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return _sweep(
        Q(status=S.PAID, ship_by__lte=now),
        lambda order: _cancel_with_refund(
            order, actor=None, note="The seller did not ship in time."
        ),
    )


def orders_auto_release(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return _sweep(
        Q(status__in=[S.SHIPPED, S.DELIVERED], release_at__lte=now),
        lambda order: _complete(
            order,
            actor=None,
            action="auto_released",
            note="No complaint within the confirmation window.",
        ),
    )


def disputes_escalate_silent(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return _sweep(
        Q(
            status=S.DISPUTED,
            dispute_state=DisputeState.AWAITING_SELLER,
            dispute_respond_by__lte=now,
        ),
        lambda order: _escalate(order, actor=None, note="The seller did not answer in time."),
    )


def run_timers(*, now: datetime | None = None) -> dict[str, int]:
    return {
        "expired_unpaid": orders_expire_unpaid(now=now),
        "cancelled_unshipped": orders_cancel_unshipped(now=now),
        "auto_released": orders_auto_release(now=now),
        "disputes_escalated": disputes_escalate_silent(now=now),
    }


# --- moderation: freezing a suspended account's orders --------------------------------------


def orders_freeze_for_user(*, user: Any, note: str = "") -> int:
    """A moderator suspended `user` (buyer or seller): stop their open orders
    for review. Unpaid ones are cancelled (no money moved); paid, shipped and
    delivered ones become disputes escalated to a moderator (the funds stay
    in escrow, no auto-release), which announces `trust.order_escalated` so
    the moderation queue gets one case per order. Takes each order's row lock;
    idempotent (already disputed orders are left as they are). Returns how
    many orders changed. Moderation calls this; trust does not know moderation."""
    note = note or "The account was suspended by a moderator."
    changed = 0
    order_ids = list(
        Order.objects.filter(Q(buyer=user) | Q(seller=user))
        .filter(status__in=[S.CREATED, S.PAID, S.SHIPPED, S.DELIVERED])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for order_id in order_ids:
        with transaction.atomic():
            locked = _lock(order_id)
            if locked.status == S.CREATED:
                _cancel_unpaid(locked, actor=None, note=note)
            elif locked.status in (S.PAID, S.SHIPPED, S.DELIVERED):
                locked.status_before_dispute = locked.status
                locked.status = S.DISPUTED
                locked.release_at = None
                locked.dispute_reason = "account_suspended"
                locked.dispute_details = note
                locked.dispute_state = DisputeState.ESCALATED
                locked.dispute_respond_by = None
                locked.save()
                _record(locked, "escalated", note=note)
                _conversation_note(locked, "This order is on hold while a moderator reviews it.")
            else:
                continue
            changed += 1
    return changed
