"""Disputes, moderator decisions, deadlines and webhooks."""

from __future__ import annotations

from datetime import UTC, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from listings.models import Listing
from tests.conftest import client_for
from trust import escrow, ledger
from trust.models import JournalLine, LedgerAccount, Order, Payment
from trust.payments import carrier_webhook, sandbox_webhook, sign

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(buyer, listing):
    order = escrow.order_create(buyer=buyer, listing_id=listing.id)
    return escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")


@pytest.fixture
def shipped(paid, seller):
    return escrow.order_ship(
        order=paid, seller=seller, carrier="SF Express", tracking="SF000111222"
    )


def test_seller_refunds_a_dispute(buyer, seller, shipped):
    client_for(buyer).post(
        f"/api/orders/{shipped.id}/dispute",
        {"reason": "not_as_described", "details": "It is scratched"},
        format="json",
    )
    order = Order.objects.get(id=shipped.id)
    assert order.status == "disputed" and order.dispute_state == "awaiting_seller"

    response = client_for(seller).post(
        f"/api/orders/{shipped.id}/dispute/respond", {"action": "refund"}, format="json"
    )

    assert response.json()["status"] == "refunded"
    assert ledger.user_available(seller.pk, "CNY").amount_minor == 0
    assert ledger.audit().ok
    assert Listing.objects.get(id=shipped.listing_id).status == "active"


def test_return_flow_refunds_when_the_seller_gets_the_item_back(buyer, seller, shipped):
    escrow.order_dispute(order=shipped, buyer=buyer, reason="not_as_described")
    escrow.dispute_seller_respond(order=shipped, seller=seller, action="accept_return")
    client_for(buyer).post(
        f"/api/orders/{shipped.id}/dispute/return-shipped",
        {"carrier": "SF", "tracking": "SFRETURN1"},
        format="json",
    )

    response = client_for(seller).post(f"/api/orders/{shipped.id}/dispute/return-received")

    assert response.json()["status"] == "refunded"
    actions = [e["action"] for e in response.json()["timeline"]]
    assert actions[-4:] == ["disputed", "return_accepted", "return_shipped", "refunded"]


def test_counterfeit_claims_go_straight_to_a_moderator_who_splits(
    buyer, seller, shipped, moderator
):
    order = escrow.order_dispute(order=shipped, buyer=buyer, reason="counterfeit")
    assert order.dispute_state == "escalated"

    resolved = escrow.dispute_resolve(
        order=order, moderator=moderator, decision="split", refund_minor=40_000
    )

    assert resolved.status == "split"
    # Seller gets 60,000 minus 5 % fee on that share; the buyer gets 40,000 back.
    assert ledger.user_available(seller.pk, "CNY").amount_minor == 57_000
    assert ledger.audit().ok
    assert (
        escrow.dispute_resolve(order=order, moderator=moderator, decision="refund").status
        == "split"
    )  # a second decision changes nothing


def test_silent_seller_is_escalated_after_72_hours(buyer, shipped):
    escrow.order_dispute(order=shipped, buyer=buyer, reason="not_received")
    later = timezone.now() + timedelta(hours=73)

    assert escrow.run_timers(now=later)["disputes_escalated"] == 1
    assert Order.objects.get(id=shipped.id).dispute_state == "escalated"
    assert escrow.run_timers(now=later)["disputes_escalated"] == 0


def test_unpaid_orders_expire_and_the_listing_returns(buyer, listing):
    order = escrow.order_create(buyer=buyer, listing_id=listing.id)

    assert escrow.run_timers(now=timezone.now() + timedelta(minutes=29))["expired_unpaid"] == 0
    assert escrow.run_timers(now=timezone.now() + timedelta(minutes=31))["expired_unpaid"] == 1

    assert Order.objects.get(id=order.id).status == "cancelled"
    listing.refresh_from_db()
    assert listing.status == "active"


def test_paid_but_unshipped_after_3_business_days_is_refunded(buyer, seller, paid):
    order = Order.objects.get(id=paid.id)
    assert order.ship_by.weekday() < 5
    assert escrow.run_timers(now=order.ship_by - timedelta(minutes=1))["cancelled_unshipped"] == 0

    assert escrow.run_timers(now=order.ship_by + timedelta(minutes=1))["cancelled_unshipped"] == 1
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert ledger.user_held(seller.pk, "CNY").amount_minor == 0
    assert ledger.audit().ok


def test_business_days_skip_weekends():
    from datetime import datetime

    friday = datetime(2026, 11, 20, 12, tzinfo=UTC)

    assert escrow.add_business_days(friday, 3).weekday() == 2  # Wednesday


def test_delivered_orders_auto_release_after_the_window_unless_disputed(
    buyer, seller, shipped, client
):
    body, signature = carrier_webhook(tracking="SF000111222")
    response = client.post(
        "/api/shipping/webhook",
        data=body,
        content_type="application/json",
        HTTP_X_SIGNATURE=signature,
    )
    assert response.json() == {"outcome": "delivered"}
    order = Order.objects.get(id=shipped.id)
    assert order.status == "delivered"

    assert escrow.run_timers(now=order.release_at - timedelta(minutes=1))["auto_released"] == 0
    assert escrow.run_timers(now=order.release_at + timedelta(minutes=1))["auto_released"] == 1
    order.refresh_from_db()
    assert order.status == "completed"
    assert ledger.user_available(seller.pk, "CNY").amount_minor == 95_000


def test_a_dispute_stops_the_auto_release(buyer, shipped):
    escrow.order_mark_delivered(order=shipped)
    order = Order.objects.get(id=shipped.id)
    escrow.order_dispute(order=order, buyer=buyer, reason="not_as_described")

    assert escrow.run_timers(now=timezone.now() + timedelta(days=3))["auto_released"] == 0
    assert Order.objects.get(id=shipped.id).status == "disputed"


# --- webhooks ---------------------------------------------------------------------------


@pytest.fixture
def pending(buyer, listing):
    order = escrow.order_create(buyer=buyer, listing_id=listing.id)
    escrow.order_pay(order=order, buyer=buyer, payment_method="card_review")
    return Order.objects.get(id=order.id), Payment.objects.get(order=order).provider_reference


def post_webhook(client, body, signature):
    return client.post(
        "/api/payments/webhook",
        data=body,
        content_type="application/json",
        HTTP_X_SIGNATURE=signature,
    )


def test_bad_signature_is_refused_and_changes_nothing(client, pending):
    order, reference = pending
    body, _ = sandbox_webhook(kind="payment.succeeded", reference=reference)

    response = post_webhook(client, body, sign(body, secret="wrong-secret"))

    assert response.status_code == 400
    assert response.json()["code"] == "bad_signature"
    assert Order.objects.get(id=order.id).status == "payment_pending"


def test_missing_signature_and_garbage_body_are_400(client, pending):
    assert (
        client.post(
            "/api/payments/webhook", data=b"{}", content_type="application/json"
        ).status_code
        == 400
    )
    body = b"not json"
    assert post_webhook(client, body, sign(body)).status_code == 400


def test_old_signatures_are_refused_as_replays(client, pending):
    import time

    order, reference = pending
    body, _ = sandbox_webhook(kind="payment.succeeded", reference=reference)

    response = post_webhook(client, body, sign(body, timestamp=int(time.time()) - 3600))

    assert response.status_code == 400
    assert Order.objects.get(id=order.id).status == "payment_pending"


def test_replayed_event_is_ignored(client, pending):
    order, reference = pending
    body, signature = sandbox_webhook(
        kind="payment.succeeded", reference=reference, event_id="evt_1"
    )

    assert post_webhook(client, body, signature).json() == {"outcome": "paid"}
    assert post_webhook(client, body, signature).json() == {"outcome": "duplicate"}
    assert JournalLine.objects.filter(entry__kind="payment").count() == 2  # one entry


def test_late_failure_after_success_is_ignored(client, pending):
    order, reference = pending
    ok_body, ok_sig = sandbox_webhook(kind="payment.succeeded", reference=reference)
    fail_body, fail_sig = sandbox_webhook(kind="payment.failed", reference=reference, reason="late")

    post_webhook(client, ok_body, ok_sig)
    response = post_webhook(client, fail_body, fail_sig)

    assert response.json()["outcome"] == "ignored_payment_succeeded"
    assert Order.objects.get(id=order.id).status == "paid"


def test_failure_puts_the_order_back_to_created(client, pending):
    order, reference = pending
    body, signature = sandbox_webhook(
        kind="payment.failed", reference=reference, reason="insufficient funds"
    )

    assert post_webhook(client, body, signature).json() == {"outcome": "failed"}
    assert Order.objects.get(id=order.id).status == "created"


# --- audit -------------------------------------------------------------------------------


def test_ledger_audit_command_passes_on_a_healthy_ledger(shipped, buyer):
    escrow.order_confirm(order=shipped, buyer=buyer)
    out = StringIO()

    call_command("ledger_audit", stdout=out)

    assert "Ledger OK" in out.getvalue()


def test_ledger_audit_command_exits_non_zero_on_a_breach(paid):
    LedgerAccount.objects.filter(kind="escrow").update(balance_minor=1)  # corrupt the cache

    with pytest.raises(SystemExit) as exited:
        call_command("ledger_audit", stdout=StringIO(), stderr=StringIO())

    assert exited.value.code == 1
