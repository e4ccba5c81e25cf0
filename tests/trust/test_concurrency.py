"""Races on real PostgreSQL: threads, each with its own connection."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from marketplace.errors import DomainError
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory
from trust import escrow, ledger
from trust.models import Order, Payment

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def run_all(functions):
    barrier = threading.Barrier(len(functions))
    outcomes = []
    lock = threading.Lock()

    def runner(fn):
        try:
            barrier.wait()
            result = fn()
            with lock:
                outcomes.append(("ok", result))
        except DomainError as exc:
            with lock:
                outcomes.append(("refused", exc.status_code))
        except Exception as exc:  # noqa: BLE001 - any other error is a test failure
            with lock:
                outcomes.append(("crash", repr(exc)))
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(fn,)) for fn in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_fifty_buyers_racing_for_one_listing_give_exactly_one_paid_order():
    seller = UserFactory()
    listing = ListingFactory(seller=seller, active=True, price_minor=50_000)
    buyers = [UserFactory() for _ in range(50)]

    def buy(buyer):
        def attempt():
            order = escrow.order_create(buyer=buyer, listing_id=listing.id)
            return escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok").status

        return attempt

    outcomes = run_all([buy(b) for b in buyers])

    assert [o for o in outcomes if o[0] == "crash"] == []
    assert [o for o in outcomes if o[0] == "ok"] == [("ok", "paid")]
    assert sorted({o[1] for o in outcomes if o[0] == "refused"}) == [409]
    assert Order.objects.count() == 1
    assert Order.objects.get().status == "paid"
    assert Payment.objects.count() == 1
    assert ledger.audit().ok


def test_double_submitted_pay_charges_once():
    seller, buyer = UserFactory(), UserFactory()
    listing = ListingFactory(seller=seller, active=True, price_minor=20_000)
    order = escrow.order_create(buyer=buyer, listing_id=listing.id)

    outcomes = run_all(
        [
            lambda: (
                escrow.order_pay(
                    order=order, buyer=buyer, payment_method="card_ok", idempotency_key="same"
                ).status
            )
            for _ in range(8)
        ]
    )

    assert {o for o in outcomes} == {("ok", "paid")}
    assert Payment.objects.count() == 1
    assert ledger.audit().ok
    assert ledger.order_escrow(order) == 20_000


def test_confirm_and_auto_release_racing_release_once():
    from datetime import timedelta

    from django.utils import timezone

    seller, buyer = UserFactory(), UserFactory()
    listing = ListingFactory(seller=seller, active=True, price_minor=30_000)
    order = escrow.order_create(buyer=buyer, listing_id=listing.id)
    escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
    escrow.order_ship(order=order, seller=seller, carrier="SF", tracking="SF4242")
    escrow.order_mark_delivered(order=order)
    later = timezone.now() + timedelta(days=3)

    outcomes = run_all(
        [
            lambda: escrow.order_confirm(order=order, buyer=buyer).status,
            lambda: escrow.run_timers(now=later)["auto_released"],
            lambda: escrow.order_confirm(order=order, buyer=buyer).status,
        ]
    )

    assert all(o[0] == "ok" for o in outcomes), outcomes
    assert ledger.user_available(seller.pk, "CNY").amount_minor == 28_500
    assert ledger.audit().ok


def test_concurrent_payments_releases_and_refunds_on_shared_accounts_never_deadlock():
    """Every posting locks the hot platform accounts (escrow, gateway, fees,
    refunds) in key order in one statement, so orders paid, released and
    refunded at the same time neither deadlock nor lose money."""
    sellers = [UserFactory() for _ in range(2)]
    buyers = [UserFactory() for _ in range(8)]
    orders = []
    for i, buyer in enumerate(buyers):
        listing = ListingFactory(
            seller=sellers[i % 2], active=True, price_minor=10_000 + i, ships=True
        )
        order = escrow.order_create(buyer=buyer, listing_id=listing.id)
        if i % 4:  # three of four are paid (and shipped) up front
            order = escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
            order = escrow.order_ship(
                order=order, seller=sellers[i % 2], carrier="SF", tracking=f"SF{i:06d}"
            )
        orders.append(order)

    def step(i, order):
        buyer = buyers[i]
        if i % 4 == 0:
            return lambda: escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
        if i % 4 == 1:
            return lambda: escrow.order_confirm(order=order, buyer=buyer)
        if i % 4 == 2:
            return lambda: escrow.dispute_resolve(
                order=escrow.order_dispute(order=order, buyer=buyer, reason="damaged"),
                moderator=None,
                decision="refund",
            )
        return lambda: escrow.dispute_resolve(
            order=escrow.order_dispute(order=order, buyer=buyer, reason="counterfeit"),
            moderator=None,
            decision="split",
            refund_minor=5_000,
        )

    outcomes = run_all([step(i, order) for i, order in enumerate(orders)])

    assert [kind for kind, _ in outcomes] == ["ok"] * 8, outcomes
    statuses = sorted(Order.objects.values_list("status", flat=True))
    assert statuses == sorted(["paid"] * 2 + ["completed"] * 2 + ["refunded"] * 2 + ["split"] * 2)
    report = ledger.audit()
    assert report.ok, report.breaches
