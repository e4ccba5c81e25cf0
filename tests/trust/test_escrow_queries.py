"""Query budgets of the escrow transitions: a regression that adds round trips
to the hot path (re-reading locked rows, per-line ledger writes, per-account
lookups) fails here before it shows in the benchmark.

The budgets count SAVEPOINT/RELEASE (each service's atomic block inside the
test transaction) and every outbox insert; hand-over to the broker happens
after commit and is not part of them.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from marketplace.money import Money
from tests.factories import UserFactory
from trust import escrow, ledger
from trust.models import AccountKind, JournalEntry

# As measured with warm account rows (before this work: create 14, pay 20,
# ship 7, confirm 21). create and confirm include the listings service's own
# savepoint, re-lock, update and outbox event (5 statements).
BUDGET = {"create": 11, "pay": 8, "ship": 6, "deliver": 6, "confirm": 12}


@pytest.fixture
def warm_accounts(seller):
    """The platform and seller accounts exist and are remembered, as they are
    after the first order of a running process (the cache fills on commit,
    which never comes inside a test transaction)."""
    for kind in (AccountKind.GATEWAY, AccountKind.ESCROW, AccountKind.FEES, AccountKind.REFUNDS):
        ledger.account_for(kind, "CNY")
    ledger.account_for(AccountKind.AVAILABLE, "CNY", seller.pk)
    for account in ledger.LedgerAccount.objects.all():
        ledger._account_cache[account.key] = account


def test_each_lifecycle_transition_stays_within_its_query_budget(
    django_assert_max_num_queries, listing, buyer, seller, warm_accounts
):
    with django_assert_max_num_queries(BUDGET["create"]):
        order = escrow.order_create(buyer=buyer, listing_id=listing.id)
    with django_assert_max_num_queries(BUDGET["pay"]):
        escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
    with django_assert_max_num_queries(BUDGET["ship"]):
        escrow.order_ship(order=order, seller=seller, carrier="SF Express", tracking="SF12345678")
    with django_assert_max_num_queries(BUDGET["deliver"]):
        escrow.order_mark_delivered(order=order)
    with django_assert_max_num_queries(BUDGET["confirm"]):
        order = escrow.order_confirm(order=order, buyer=buyer)

    assert order.status == "completed"
    assert JournalEntry.objects.filter(order=order).count() == 2
    assert ledger.audit().ok


def test_a_repeated_ledger_key_is_one_read_and_moves_nothing(
    django_assert_num_queries, listing, buyer
):
    order = escrow.order_create(buyer=buyer, listing_id=listing.id)
    order = escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
    escrow_account = ledger.account_for(AccountKind.ESCROW, "CNY")
    gateway_account = ledger.account_for(AccountKind.GATEWAY, "CNY")
    before = ledger.balance(escrow_account)

    # The conflicting insert writes nothing, then the first entry is read back.
    with django_assert_num_queries(2):
        entry = ledger.post(
            idempotency_key=f"order:{order.pk}:pay",
            kind="payment",
            order=order,
            legs=[
                ledger.Leg(gateway_account, debit=order.price),
                ledger.Leg(escrow_account, credit=order.price),
            ],
        )

    assert entry.kind == "payment"
    assert ledger.balance(escrow_account) == before
    assert ledger.audit().ok


def test_an_overdrawing_entry_is_refused_and_rolls_back(db):
    user = UserFactory()
    seller_account = ledger.account_for(AccountKind.AVAILABLE, "CNY", user.pk)
    fees = ledger.account_for(AccountKind.FEES, "CNY")

    with pytest.raises(ledger.LedgerError, match="overdraw"), transaction.atomic():
        ledger.post(
            idempotency_key="test:overdraw",
            kind="test",
            legs=[
                ledger.Leg(seller_account, debit=Money(100, "CNY")),
                ledger.Leg(fees, credit=Money(100, "CNY")),
            ],
        )

    assert not JournalEntry.objects.filter(idempotency_key="test:overdraw").exists()
    assert ledger.balance(fees).amount_minor == 0
    assert ledger.audit().ok
