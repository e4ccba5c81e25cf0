"""Texts the services store in English (order timeline notes, the order's
steps posted into the conversation) are shown in Chinese in the Chinese UI,
translated at display time: the stored rows and the API keep the English, and
what people typed is shown as they typed it."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from chat import services as chat_services
from chat.models import Message
from frontend import domain_scan
from frontend.domain_messages import CHAT_NOTES
from trust import escrow
from trust.models import OrderEvent

pytestmark = pytest.mark.django_db


def chinese(client: Client) -> Client:
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    return client


@pytest.fixture
def shipped(listing, buyer, seller, django_capture_on_commit_callbacks):
    conversation, _ = chat_services.conversation_start(listing_id=listing.pk, buyer=buyer)
    chat_services.message_send(conversation=conversation, sender=buyer, body="Still available?",
                               client_id="c1")
    with django_capture_on_commit_callbacks(execute=True):
        order = escrow.order_create(buyer=buyer, listing_id=listing.pk)
        order = escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok",
                                 idempotency_key="t1")
        order = escrow.order_ship(order=order, seller=seller, carrier="SF Express",
                                  tracking="SF123456")
    return order, conversation


def test_order_timeline_notes_are_shown_in_chinese(shipped, buyer_client):
    order, _ = shipped
    page = chinese(buyer_client).get(f"/orders/{order.pk}/").content.decode()
    timeline = page[page.index('data-testid="timeline"'):]
    assert "已收到付款；款项由平台托管。" in timeline
    assert "Payment received" not in timeline
    # stored as the services wrote it
    assert OrderEvent.objects.filter(
        order=order, note="Payment received; the money is held in escrow.").exists()


def test_english_ui_shows_the_notes_as_stored(shipped, buyer_client):
    order, _ = shipped
    page = buyer_client.get(f"/orders/{order.pk}/").content.decode()
    assert "Payment received; the money is held in escrow." in page


def test_a_note_someone_typed_is_shown_as_typed(shipped, buyer, buyer_client):
    order, _ = shipped
    escrow.order_dispute(order=order, buyer=buyer, reason="not_as_described",
                         details="The frame is cracked.")
    page = chinese(buyer_client).get(f"/orders/{order.pk}/").content.decode()
    assert "The frame is cracked." in page


def test_formatted_notes_keep_their_values_in_chinese(shipped, seller, buyer_client):
    order, _ = shipped
    escrow.order_mark_delivered(order=order)
    page = chinese(buyer_client).get(f"/orders/{order.pk}/").content.decode()
    assert "已送达（快递公司）。" in page  # "Delivered (carrier)."


def test_system_messages_in_the_conversation_are_shown_in_chinese(shipped, buyer_client):
    _, conversation = shipped
    page = chinese(buyer_client).get(f"/inbox/{conversation.pk}/").content.decode()
    config = json.loads(re.search(
        r'<script id="chat-config" type="application/json">(.*?)</script>', page).group(1))
    bodies = [m["body"] for m in config["messages"]]
    assert "已付款：款项安全托管，直到买家确认收货。" in bodies
    assert "已通过 SF Express 发货，运单号 SF123456。" in bodies
    assert "Still available?" in bodies  # typed by the buyer: as typed
    # The message rows and the API keep the English.
    assert Message.objects.filter(
        conversation=conversation, body="Shipped with SF Express, tracking SF123456.").exists()
    api = buyer_client.get(f"/api/conversations/{conversation.pk}/messages")
    assert "Shipped with SF Express, tracking SF123456." in api.content.decode()


def test_the_chat_script_gets_the_templates_for_live_system_messages(shipped, buyer_client):
    _, conversation = shipped
    page = chinese(buyer_client).get(f"/inbox/{conversation.pk}/").content.decode()
    text = json.loads(re.search(
        r'<script id="chat-text" type="application/json">(.*?)</script>', page).group(1))
    notes = dict(text["system_notes"])
    assert notes["Shipped with %(carrier)s, tracking %(tracking)s."] == (
        "已通过 %(carrier)s 发货，运单号 %(tracking)s。")
    assert set(notes) == set(CHAT_NOTES)  # every one translated


def test_the_scanner_finds_every_note_the_order_posts_into_chat():
    messages, chat_notes = domain_scan.scan_all()
    assert "Shipped with %(carrier)s, tracking %(tracking)s." in chat_notes
    assert "This order is on hold while a moderator reviews it." in chat_notes
    assert "%(detail)s The buyer was refunded." in messages  # note + " ..."
    assert "The seller refunded." in messages  # note or "..."
    assert "Account suspended: %(reason)s" in messages  # f"..."[:500]
    assert "The card was declined by the issuer." in messages  # a provider's reason
    assert set(chat_notes) <= set(messages)
