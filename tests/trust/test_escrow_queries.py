"""Query budgets of the escrow transitions: a regression that adds round trips
to the hot path (re-reading locked rows, per-line ledger writes, per-account
lookups) fails here before it shows in the benchmark.

The budgets count SAVEPOINT/RELEASE (each service's atomic block inside the
test transaction) and every outbox insert; hand-over to the broker happens
after commit and is not part of them.
"""

from __future__ import annotations

from uuid import UUID

import pytest
from django.db import transaction

from marketplace.money import Money
from tests.factories import UserFactory
from trust import escrow, ledger
from trust.models import AccountKind, JournalEntry

# As measured with warm account rows, each with the SAVEPOINT and RELEASE of
# the service's atomic block inside the test transaction (before: create 14,
# then 11; pay 20, then 8; ship 7, then 6; confirm 21, then 12). The order's
# UPDATE (or INSERT), its timeline row and its outbox event are one statement;
# create and confirm add the listings service's conditional UPDATE and its
# event (2 statements); pay and confirm add one ledger statement.
BUDGET = {"create": 6, "pay": 5, "ship": 4, "deliver": 4, "confirm": 7}


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
    django_assert_num_queries, listing, buyer, seller, warm_accounts
):
    with django_assert_num_queries(BUDGET["create"]):
        order = escrow.order_create(buyer=buyer, listing_id=listing.id)
    with django_assert_num_queries(BUDGET["pay"]):
        escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
    with django_assert_num_queries(BUDGET["ship"]):
        escrow.order_ship(order=order, seller=seller, carrier="SF Express", tracking="SF12345678")
    with django_assert_num_queries(BUDGET["deliver"]):
        escrow.order_mark_delivered(order=order)
    with django_assert_num_queries(BUDGET["confirm"]):
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


def test_the_combined_statements_write_the_order_its_timeline_and_its_events(
    listing, buyer, seller
):
    from marketplace.outbox.models import OutboxEvent
    from trust.models import Order, Payment

    order = escrow.order_create(buyer=buyer, listing_id=listing.id)
    escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
    escrow.order_ship(order=order, seller=seller, carrier="SF Express", tracking="SF12345678")
    escrow.order_confirm(order=order, buyer=buyer)

    stored = Order.objects.get(pk=order.pk)
    assert stored.status == "completed"
    assert (stored.carrier, stored.tracking) == ("SF Express", "SF12345678")
    assert None not in (stored.paid_at, stored.ship_by, stored.shipped_at, stored.closed_at)
    assert stored.release_at is None
    assert stored.fee_minor == escrow.fee_for(stored.price).amount_minor
    assert [(e.action, e.status) for e in stored.events.all()] == [
        ("created", "created"), ("paid", "paid"), ("shipped", "shipped"),
        ("completed", "completed"),
    ]
    assert stored.events.get(action="created").data == {
        "price": stored.price.to_dict(), "fee": stored.fee.to_dict()
    }
    payment = Payment.objects.get(order=stored)
    assert (payment.status, payment.amount_minor) == ("succeeded", stored.price_minor)
    assert payment.settled_at is not None
    assert list(OutboxEvent.objects.order_by("created_at", "id").values_list("topic", flat=True))[
        -6:
    ] == [
        "listings.listing_reserved", "trust.order_created", "trust.order_paid",
        "trust.order_shipped", "listings.listing_sold", "trust.order_completed",
    ]
    listing.refresh_from_db()
    assert (listing.status, listing.reserved_by) == ("sold", f"order:{order.pk}")


@pytest.mark.django_db(transaction=True)
def test_each_transition_hands_its_events_to_the_broker_in_one_call(
    listing, buyer, seller, settings, monkeypatch
):
    from marketplace.outbox import tasks
    from marketplace.outbox.models import OutboxEvent

    settings.CELERY_TASK_ALWAYS_EAGER = False
    calls: list[list[str]] = []
    monkeypatch.setattr(tasks.deliver_events, "apply_async",
                        lambda *, args, **_: calls.append(list(args[0])))
    monkeypatch.setattr(tasks.deliver_event, "apply_async",
                        lambda *, args, **_: calls.append([args[0]]))

    order = escrow.order_create(buyer=buyer, listing_id=listing.id)
    escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
    escrow.order_ship(order=order, seller=seller, carrier="SF Express", tracking="SF12345678")
    escrow.order_confirm(order=order, buyer=buyer)

    topics = dict(OutboxEvent.objects.values_list("id", "topic"))
    assert [[topics[UUID(i)] for i in call] for call in calls] == [
        ["listings.listing_reserved", "trust.order_created"],
        ["trust.order_paid"],
        ["trust.order_shipped"],
        ["listings.listing_sold", "trust.order_completed"],
    ]
