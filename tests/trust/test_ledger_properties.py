"""Property-based: random sequences of order operations (with retries and
repeats) never break the ledger's invariants and never create or lose money."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from marketplace.errors import DomainError
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory
from trust import escrow, ledger
from trust.models import AccountKind, LedgerAccount, Order, Payment
from trust.payments import sandbox_webhook


def attempt(fn):
    """Run one operation; refusals (4xx domain errors) are legitimate outcomes."""
    try:
        return fn()
    except DomainError:
        return None


class OrderLedgerMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self):
        super().__init__()
        self.seller = UserFactory()
        self.moderator = UserFactory()
        self.clock = timezone.now()

    @rule(target=orders, price=st.integers(min_value=100, max_value=5_000_000), ships=st.booleans())
    def create(self, price, ships):
        buyer = UserFactory()
        listing = ListingFactory(seller=self.seller, active=True, price_minor=price, ships=ships)
        return escrow.order_create(buyer=buyer, listing_id=listing.id).pk

    @rule(
        order_id=orders,
        method=st.sampled_from(["card_ok", "card_declined", "card_review"]),
        key=st.sampled_from(["", "k1", "k2"]),
        repeat=st.integers(1, 2),
    )
    def pay(self, order_id, method, key, repeat):
        order = Order.objects.get(pk=order_id)
        for _ in range(repeat):
            attempt(
                lambda: escrow.order_pay(
                    order=order, buyer=order.buyer, payment_method=method, idempotency_key=key
                )
            )

    @rule(
        order_id=orders,
        outcome=st.sampled_from(["payment.succeeded", "payment.failed"]),
        replay=st.booleans(),
    )
    def webhook(self, order_id, outcome, replay):
        import json

        from trust.payments import parse_event

        payment = Payment.objects.filter(order_id=order_id).order_by("-created_at").first()
        if payment is None:
            return
        body, _ = sandbox_webhook(kind=outcome, reference=payment.provider_reference)
        event = parse_event(body)
        escrow.payment_webhook(event=event)
        if replay:
            assert escrow.payment_webhook(event=json.loads(body)) == "duplicate"

    @rule(order_id=orders)
    def ship(self, order_id):
        order = Order.objects.get(pk=order_id)
        attempt(
            lambda: escrow.order_ship(
                order=order, seller=self.seller, carrier="SF", tracking=f"SF{str(order_id)[-8:]}"
            )
        )

    @rule(order_id=orders)
    def deliver(self, order_id):
        attempt(lambda: escrow.order_mark_delivered(order=Order.objects.get(pk=order_id)))

    @rule(order_id=orders, repeat=st.integers(1, 2))
    def confirm(self, order_id, repeat):
        order = Order.objects.get(pk=order_id)
        for _ in range(repeat):
            attempt(lambda: escrow.order_confirm(order=order, buyer=order.buyer))

    @rule(order_id=orders)
    def handover(self, order_id):
        order = Order.objects.get(pk=order_id)
        attempt(
            lambda: escrow.order_handover(order=order, seller=self.seller, code=order.handover_code)
        )

    @rule(order_id=orders, by_seller=st.booleans())
    def cancel(self, order_id, by_seller):
        order = Order.objects.get(pk=order_id)
        actor = self.seller if by_seller else order.buyer
        attempt(lambda: escrow.order_cancel(order=order, actor=actor))

    @rule(order_id=orders, reason=st.sampled_from(escrow.DISPUTE_REASONS))
    def dispute(self, order_id, reason):
        order = Order.objects.get(pk=order_id)
        attempt(lambda: escrow.order_dispute(order=order, buyer=order.buyer, reason=reason))

    @rule(order_id=orders, action=st.sampled_from(["refund", "accept_return", "contest"]))
    def seller_responds(self, order_id, action):
        order = Order.objects.get(pk=order_id)
        attempt(
            lambda: escrow.dispute_seller_respond(order=order, seller=self.seller, action=action)
        )

    @rule(
        order_id=consumes(orders),
        decision=st.sampled_from(["refund", "release", "split"]),
        share=st.floats(min_value=0.01, max_value=0.99),
    )
    def moderator_decides(self, order_id, decision, share):
        order = Order.objects.get(pk=order_id)
        refund = max(1, min(order.price_minor - 1, int(order.price_minor * share)))
        attempt(
            lambda: escrow.dispute_resolve(
                order=order, moderator=self.moderator, decision=decision, refund_minor=refund
            )
        )

    @rule(hours=st.integers(min_value=1, max_value=24 * 20))
    def time_passes(self, hours):
        self.clock += timedelta(hours=hours)
        escrow.run_timers(now=self.clock)

    @invariant()
    def ledger_balances_and_money_is_conserved(self):
        report = ledger.audit()
        assert report.ok, report.breaches

        def total(kind):
            return (
                LedgerAccount.objects.filter(kind=kind).aggregate(s=Sum("balance_minor"))["s"] or 0
            )

        # What the provider holds for us equals what we owe and earned.
        assert total(AccountKind.GATEWAY) == (
            total(AccountKind.ESCROW)
            + total(AccountKind.AVAILABLE)
            + total(AccountKind.FEES)
            + total(AccountKind.REFUNDS)
        )
        assert total(AccountKind.REFUNDS) == 0  # refunds are always paid out at once


@pytest.mark.django_db
def test_random_order_operations_keep_the_ledger_sound():
    run_state_machine_as_test(
        OrderLedgerMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
