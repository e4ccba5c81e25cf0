"""Each capability that has landed creates the right notification (and the
right e-mail) when driven through its own services."""

from __future__ import annotations

import pytest
from django.core import mail

from chat import services as chat
from listings import services as listings
from marketplace.notifications.models import DeliveryStatus, EmailDelivery, Notification
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory
from tests.search.conftest import index, index_all, make_listing  # noqa: F401 - index is a fixture
from trust import escrow, reputation

pytestmark = pytest.mark.django_db


@pytest.fixture
def seller(db):
    return UserFactory(username="seller", display_name="Seller")


@pytest.fixture
def buyer(db):
    return UserFactory(username="buyer", display_name="Buyer")


def test_price_drop_notifies_and_mails_the_favouriter(
    seller, buyer, django_capture_on_commit_callbacks
):
    listing = ListingFactory(seller=seller, active=True, price_minor=50_000, title="Sony A7 III")
    listings.favourite_add(listing=listing, user=buyer)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(seller).patch(
            f"/api/listings/{listing.id}",
            {"price": {"amount_minor": 42_000, "currency": "CNY"}},
            format="json",
        )
    assert response.status_code == 200

    (note,) = Notification.objects.filter(recipient=buyer)
    assert note.kind == "price_drop"
    assert note.payload["new_price"] == {"amount_minor": 42_000, "currency": "CNY"}
    assert note.link == f"/items/{listing.id}/"
    assert not Notification.objects.filter(recipient=seller).exists()
    (message,) = mail.outbox
    assert message.to == [buyer.email]
    assert "“Sony A7 III” dropped from ¥500.00 to ¥420.00." in message.body
    assert f"http://127.0.0.1:8000/items/{listing.id}/" in message.body


@pytest.mark.usefixtures("index")
def test_saved_search_alert_notifies_and_waits_for_the_digest(
    buyer, django_capture_on_commit_callbacks
):
    from search import services as search
    from search.models import SavedSearch

    saved, _ = search.saved_search_create(user=buyer, query={"q": "bike"})
    SavedSearch.objects.filter(id=saved.id).update(checked_until=saved.created_at)
    match = make_listing(title="Cargo bike with child seat", category="bikes")
    index_all()

    with django_capture_on_commit_callbacks(execute=True):
        assert search.saved_search_alerts_run() == 1

    (note,) = Notification.objects.filter(recipient=buyer)
    assert note.kind == "saved_search_match"
    assert note.payload["listing_id"] == str(match.id)
    assert note.group == f"saved_search:{saved.id}"
    assert mail.outbox == []  # daily by default
    with django_capture_on_commit_callbacks(execute=True):
        from marketplace.notifications.services import digests_plan

        digests_plan()
    (digest,) = mail.outbox
    assert "Cargo bike with child seat" in digest.body


def _completed_order(buyer, seller):
    listing = ListingFactory(seller=seller, active=True, price_minor=100_000)
    order = escrow.order_create(buyer=buyer, listing_id=listing.id)
    escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
    escrow.order_ship(order=order, seller=seller, carrier="SF", tracking="SF000001")
    return escrow.order_confirm(order=order, buyer=buyer)


def test_reviews_notify_waiting_then_revealed(buyer, seller, django_capture_on_commit_callbacks):
    order = _completed_order(buyer, seller)

    with django_capture_on_commit_callbacks(execute=True):
        reputation.review_submit(order=order, author=buyer, rating=5, comment="Great")
    waiting = Notification.objects.get(kind="review_waiting")
    assert waiting.recipient == seller
    assert waiting.payload["order_id"] == str(order.pk)

    with django_capture_on_commit_callbacks(execute=True):
        reputation.review_submit(order=order, author=seller, rating=4, comment="Paid fast")
    revealed = Notification.objects.filter(kind="reviews_revealed")
    assert sorted(n.recipient_id for n in revealed) == sorted([buyer.pk, seller.pk])
    assert all(n.link == f"/orders/{order.pk}/" for n in revealed)
    # Both kinds are daily-digest kinds by default: no immediate e-mail.
    assert not EmailDelivery.objects.filter(kind=EmailDelivery.SINGLE).exists()


def test_order_events_notify_the_party_they_concern(buyer, seller,
                                                    django_capture_on_commit_callbacks):
    from trust import events as trust_events

    listing = ListingFactory(seller=seller, active=True, price_minor=100_000, title="Lamp")
    with django_capture_on_commit_callbacks(execute=True):
        order = escrow.order_create(buyer=buyer, listing_id=listing.id)
    assert not Notification.objects.exists()  # an unpaid order is nobody's news yet

    with django_capture_on_commit_callbacks(execute=True):
        escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
    (paid,) = Notification.objects.filter(kind="order_paid")
    assert paid.recipient == seller and paid.link == f"/orders/{order.pk}/"
    assert paid.payload["status"] == "paid"
    assert [m.to for m in mail.outbox] == [[seller.email]]  # orders mail at once

    with django_capture_on_commit_callbacks(execute=True):
        escrow.order_ship(order=order, seller=seller, carrier="SF", tracking="SF000001")
    assert Notification.objects.get(kind="order_shipped").recipient == buyer

    with django_capture_on_commit_callbacks(execute=True):
        escrow.order_confirm(order=order, buyer=buyer)
    assert Notification.objects.get(kind="order_completed").recipient == seller

    # A redelivered event tells nobody twice.
    count = Notification.objects.count()
    trust_events.on_order_event({"order_id": str(order.pk), "action": "paid",
                                 "buyer_id": str(buyer.pk), "seller_id": str(seller.pk),
                                 "status": "paid"})
    assert Notification.objects.count() == count


@pytest.fixture
def conversation(seller, buyer):
    listing = ListingFactory(
        seller=seller, active=True, negotiable=True, price_minor=100_000, title="Road bike"
    )
    conversation, _ = chat.conversation_start(listing_id=listing.id, buyer=buyer)
    return conversation


def test_burst_of_thirty_chat_messages_gives_one_email(
    buyer, seller, conversation, settings, django_capture_on_commit_callbacks
):
    settings.CHAT_MESSAGE_RATE = (1000, 10)
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(30):
            chat.message_send(
                conversation=conversation, sender=buyer, body=f"hello {i}", client_id=f"c{i}"
            )

    notes = Notification.objects.filter(recipient=seller, kind="chat_message")
    assert notes.count() >= 1
    assert all(n.group == f"conversation:{conversation.pk}" for n in notes)
    assert [m.to for m in mail.outbox] == [[seller.email]]
    assert "New message about “Road bike”." in mail.outbox[0].body
    assert EmailDelivery.objects.filter(status=DeliveryStatus.SENT).count() == 1


def test_offer_made_notifies_the_seller_and_accept_notifies_the_buyer(
    buyer, seller, conversation, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        offer = chat.offer_make(conversation=conversation, buyer=buyer, amount_minor=90_000)
    made = Notification.objects.get(recipient=seller, kind__startswith="offer")
    assert made.kind == "offer_made"
    assert made.payload["offer_id"] == str(offer.pk)
    assert made.payload["amount"] == {"amount_minor": 90_000, "currency": "CNY"}

    with django_capture_on_commit_callbacks(execute=True):
        chat.offer_accept(offer=offer, actor=seller)
    accepted = Notification.objects.get(recipient=buyer, kind__startswith="offer")
    assert accepted.kind == "offer_accepted"
    # Offers are e-mailed immediately (the "offer" preference), each on its own:
    # they share the conversation's group with chat but not its burst throttle.
    assert sorted(m.to[0] for m in mail.outbox) == sorted([seller.email, buyer.email])
    by_recipient = {m.to[0]: m.body for m in mail.outbox}
    assert "New offer of ¥900.00 on “Road bike”." in by_recipient[seller.email]
    assert "Your offer of ¥900.00 on “Road bike” was accepted." in by_recipient[buyer.email]
