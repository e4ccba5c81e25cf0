"""Payouts: a seller's available balance goes to their payout details; big
payouts need a verified identity; retries never pay twice."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from tests.conftest import client_for
from tests.listings.factories import ListingFactory
from trust import escrow, ledger

pytestmark = pytest.mark.django_db

CNY = "CNY"


@pytest.fixture
def earning_seller(seller, buyer):
    """A seller with ¥3,000 sold (less the fee) in their available balance and payout details."""
    listing = ListingFactory(seller=seller, active=True, price_minor=300_000, ships=True)
    order = escrow.order_create(buyer=buyer, listing_id=listing.id)
    escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
    escrow.order_ship(order=order, seller=seller, carrier="SF", tracking="SF000001")
    escrow.order_confirm(order=order, buyer=buyer)
    seller.payout_details = json.dumps({"method": "bank", "account_number": "6222020000001234"})
    seller.save(update_fields=["payout_details"])
    return seller


def pay_out(client, minor, key="po-1"):
    return client.post("/api/me/payouts", {"amount": {"amount_minor": minor, "currency": CNY}},
                       format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_payout_moves_the_balance_once_even_when_retried(earning_seller):
    before = ledger.user_available(earning_seller.pk, CNY).amount_minor
    client = client_for(earning_seller)

    first = pay_out(client, 50_000)
    again = pay_out(client, 50_000)

    assert first.status_code == again.status_code == 201, first.content
    assert first.json()["id"] == again.json()["id"]
    assert ledger.user_available(earning_seller.pk, CNY).amount_minor == before - 50_000
    assert first.json()["available"]["amount_minor"] == before - 50_000
    assert ledger.audit().ok


def test_a_payout_above_the_threshold_needs_a_verified_identity(earning_seller, settings):
    settings.PAYOUT_IDENTITY_THRESHOLD_MINOR = 200_000
    before = ledger.user_available(earning_seller.pk, CNY).amount_minor
    client = client_for(earning_seller)

    refused = pay_out(client, 250_000)

    assert refused.status_code == 403 and refused.json()["code"] == "identity_required"
    assert ledger.user_available(earning_seller.pk, CNY).amount_minor == before
    earning_seller.identity_verified_at = timezone.now()
    earning_seller.save(update_fields=["identity_verified_at"])
    assert pay_out(client, 250_000, key="po-2").status_code == 201


@pytest.mark.parametrize(("minor", "key", "field"), [
    (10**9, "po-3", "amount"),  # more than the balance
    (0, "po-4", "amount"),
    (1_000, "", "idempotency_key"),
])
def test_bad_payouts_are_refused_and_move_nothing(earning_seller, minor, key, field):
    before = ledger.user_available(earning_seller.pk, CNY).amount_minor

    response = pay_out(client_for(earning_seller), minor, key=key)

    assert response.status_code == 400 and field in response.json(), response.content
    assert ledger.user_available(earning_seller.pk, CNY).amount_minor == before


def test_a_payout_needs_payout_details_and_an_account(earning_seller, api_client):
    earning_seller.payout_details = ""
    earning_seller.save(update_fields=["payout_details"])

    assert pay_out(client_for(earning_seller), 1_000).json()["payout_details"]
    assert pay_out(api_client, 1_000).status_code == 401
