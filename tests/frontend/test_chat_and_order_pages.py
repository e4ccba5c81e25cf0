"""Inbox, conversation, checkout into escrow, order actions, reviews, balance:
rendering, and that nobody else gets in."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from chat import services as chat_services
from chat.models import Conversation
from trust import escrow
from trust.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(listing, buyer):
    conversation, _ = chat_services.conversation_start(listing_id=listing.pk, buyer=buyer)
    chat_services.message_send(conversation=conversation, sender=buyer, body="Still available?",
                               client_id="c1")
    return conversation


def _chat_config(html: str) -> dict:
    match = re.search(r'<script id="chat-config" type="application/json">(.*?)</script>', html)
    return json.loads(match.group(1))


def test_chat_with_seller_opens_one_conversation(listing, buyer, buyer_client):
    first = buyer_client.post(f"/items/{listing.pk}/chat/")
    again = buyer_client.post(f"/items/{listing.pk}/chat/")
    conversation = Conversation.objects.get(listing=listing, buyer=buyer)
    assert first["Location"] == again["Location"] == f"/inbox/{conversation.pk}/"


def test_seller_cannot_chat_with_themselves(listing, seller_client):
    response = seller_client.post(f"/items/{listing.pk}/chat/", HTTP_REFERER="/")
    assert response.status_code == 302 and not Conversation.objects.exists()


def test_conversation_page_carries_history_and_socket_config(conversation, seller_client, seller):
    html = seller_client.get(f"/inbox/{conversation.pk}/").content.decode()
    config = _chat_config(html)
    assert config["conversation"] == str(conversation.pk) and config["me"] == str(seller.pk)
    assert [m["body"] for m in config["messages"]] == ["Still available?"]
    assert "frontend/js/chat.js" in html and "Chat with Bob Buyer" in html
    assert 'id="offer-form"' not in html  # only the buyer makes offers


def test_buyer_sees_the_offer_form(conversation, buyer_client):
    assert 'id="offer-form"' in buyer_client.get(f"/inbox/{conversation.pk}/").content.decode()


def test_inbox_lists_conversations_with_unread_counts(conversation, seller_client):
    html = seller_client.get("/inbox/").content.decode()
    assert "Giant road bike" in html and 'data-testid="unread"' in html and "1 new" in html


def test_someone_elses_conversation_is_not_found(conversation, stranger_client):
    assert stranger_client.get(f"/inbox/{conversation.pk}/").status_code == 404
    assert Client().get(f"/inbox/{conversation.pk}/").status_code == 302  # to login


def test_checkout_shows_fee_then_pays_into_escrow(listing, buyer, buyer_client):
    page = buyer_client.get(f"/items/{listing.pk}/buy/").content.decode()
    assert "¥1,234.50" in page and 'data-testid="checkout-fee"' in page
    assert "¥61.73" in page  # 5 % of 1,234.50, rounded half up
    response = buyer_client.post(f"/items/{listing.pk}/buy/", {"payment_method": "card_ok"})
    order = Order.objects.get(buyer=buyer)
    assert response["Location"] == f"/orders/{order.pk}/"
    assert order.status == "paid" and order.price_minor == 123_450


def test_declined_card_leaves_the_order_waiting_with_the_reason(listing, buyer, buyer_client):
    buyer_client.post(f"/items/{listing.pk}/buy/", {"payment_method": "card_declined"})
    order = Order.objects.get(buyer=buyer)
    assert order.status == "created"
    html = buyer_client.get(f"/orders/{order.pk}/").content.decode()
    assert 'class="error"' in html and "Pay into escrow" in html


@pytest.fixture
def paid_order(listing, buyer):
    order = escrow.order_create(buyer=buyer, listing_id=listing.pk)
    return escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok",
                            idempotency_key="t1")


def test_order_flow_ship_confirm_and_both_review(paid_order, seller_client, buyer_client):
    url = f"/orders/{paid_order.pk}/"
    assert "Mark as shipped" in seller_client.get(url).content.decode()
    assert "Mark as shipped" not in buyer_client.get(url).content.decode()

    seller_client.post(url + "ship/", {"carrier": "SF Express", "tracking": "SF123456"})
    paid_order.refresh_from_db()
    assert paid_order.status == "shipped"
    buyer_client.post(url + "confirm/")
    paid_order.refresh_from_db()
    assert paid_order.status == "completed"

    html = buyer_client.get(url).content.decode()
    assert 'data-testid="timeline"' in html and html.count("<li><strong>") >= 4
    buyer_client.post(url + "review/", {"rating": "5", "comment": "Great bike"})
    html = buyer_client.get(url).content.decode()
    assert 'data-testid="my-review"' in html and 'data-testid="their-review"' not in html
    seller_client.post(url + "review/", {"rating": "4", "comment": "Quick payer"})
    html = buyer_client.get(url).content.decode()
    assert "Quick payer" in html  # double-blind: revealed once both wrote


def test_buyer_cannot_ship_and_stranger_cannot_see_or_act(paid_order, buyer_client,
                                                          stranger_client):
    url = f"/orders/{paid_order.pk}/"
    response = buyer_client.post(url + "ship/", {"carrier": "SF", "tracking": "1"})
    assert response.status_code == 302
    assert stranger_client.get(url).status_code == 404
    assert stranger_client.post(url + "confirm/").status_code == 404
    paid_order.refresh_from_db()
    assert paid_order.status == "paid"


def test_dispute_from_the_order_page(paid_order, buyer_client):
    buyer_client.post(f"/orders/{paid_order.pk}/dispute/",
                      {"reason": "not_as_described", "details": "Wrong size"})
    paid_order.refresh_from_db()
    assert paid_order.status == "disputed"


def test_balance_and_statement_after_a_sale(paid_order, buyer, seller, seller_client,
                                           buyer_client):
    escrow.order_ship(order=paid_order, seller=seller, carrier="SF", tracking="SF1234")
    escrow.order_confirm(order=paid_order, buyer=buyer)
    html = seller_client.get("/me/balance/").content.decode()
    assert "¥1,172.77" in html  # 1,234.50 less the 61.73 fee
    assert html.count("<tr><td>") >= 1
    assert "¥0.00" in buyer_client.get("/me/balance/").content.decode()
    assert Client().get("/me/balance/").status_code == 302


def test_orders_list_shows_both_roles(paid_order, buyer_client, seller_client):
    assert "Buying" in buyer_client.get("/orders/").content.decode()
    assert "Selling" in seller_client.get("/orders/").content.decode()


def test_notification_centre_lists_opens_and_marks_read(buyer, buyer_client, stranger_client,
                                                        listing):
    from marketplace.notifications import services as notifications
    from marketplace.notifications.models import Notification

    first = notifications.notify(recipient=buyer, kind="price_drop", link=f"/items/{listing.pk}/",
                                 payload={"listing_title": "Giant road bike"})
    notifications.notify(recipient=buyer, kind="price_drop", link="/", payload={})
    html = buyer_client.get("/me/notifications/").content.decode()
    assert html.count('data-testid="notification"') == 2
    assert '<span class="badge">2</span>' in html  # unread count in the header

    assert stranger_client.post(f"/me/notifications/{first.pk}/").status_code == 404
    response = buyer_client.post(f"/me/notifications/{first.pk}/")
    assert response["Location"] == f"/items/{listing.pk}/"
    assert Notification.objects.filter(recipient=buyer, read_at__isnull=True).count() == 1
    buyer_client.post("/me/notifications/")
    assert not Notification.objects.filter(recipient=buyer, read_at__isnull=True).exists()


def test_settings_change_profile_and_email_frequencies(buyer, buyer_client):
    from marketplace.notifications import services as notifications

    page = buyer_client.get("/me/settings/").content.decode()
    assert 'name="freq__chat_message"' in page and "Bob Buyer" in page
    buyer_client.post("/me/settings/", {"section": "profile", "display_name": "Bobby",
                                        "city": "Beijing", "bio": "Bikes and books"})
    buyer.refresh_from_db()
    assert (buyer.display_name, buyer.city, buyer.bio) == ("Bobby", "Beijing", "Bikes and books")
    form = {f"freq__{name}": "never" for name in notifications.preferences_for(user=buyer)}
    buyer_client.post("/me/settings/", {"section": "emails", **form})
    assert set(notifications.preferences_for(user=buyer).values()) == {"never"}
    response = buyer_client.post("/me/settings/", {"section": "emails", **form,
                                                   "freq__offer": "hourly"})
    assert response.status_code == 400
    assert notifications.preferences_for(user=buyer)["offer"] == "never"
    assert Client().get("/me/settings/").status_code == 302


def test_seller_pays_out_from_the_balance_page(client, seller, buyer):
    from tests.listings.factories import ListingFactory
    from trust import ledger

    listing = ListingFactory(seller=seller, active=True, price_minor=100_000, ships=True)
    order = escrow.order_create(buyer=buyer, listing_id=listing.id)
    escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
    escrow.order_ship(order=order, seller=seller, carrier="SF", tracking="SF000001")
    escrow.order_confirm(order=order, buyer=buyer)
    seller.payout_details = json.dumps({"method": "bank", "account_number": "6222020000001234"})
    seller.save(update_fields=["payout_details"])
    before = ledger.user_available(seller.pk, "CNY").amount_minor
    client.force_login(seller)

    page = client.get("/me/balance/")
    assert page.status_code == 200 and "need a verified identity" in page.content.decode()
    too_much = client.post("/me/balance/", {"amount": "999999", "key": "k1"})
    assert too_much.status_code == 400 and "available balance" in too_much.content.decode()
    sent = client.post("/me/balance/", {"amount": "100.00", "key": "k2"})
    again = client.post("/me/balance/", {"amount": "100.00", "key": "k2"})  # a double submit

    assert sent.status_code == again.status_code == 302
    assert ledger.user_available(seller.pk, "CNY").amount_minor == before - 10_000
    bad = client.post("/me/balance/", {"amount": "1e3", "key": "k3"})
    assert bad.status_code == 400
