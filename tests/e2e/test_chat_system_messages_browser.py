"""An order step posted into the conversation while the buyer has it open in
the Chinese UI arrives over the websocket in English (as stored, as the API
sends it) and is shown in Chinese by chat.js, from the templates the page
carries; real Daphne, Redis channel layer, PostgreSQL."""

from __future__ import annotations

import subprocess
import threading

import pytest
from django.db import connection
from django.test import Client
from playwright.sync_api import Browser, expect

from tests.conftest import start_daphne
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def ship_order(order, seller) -> None:
    from trust import escrow

    try:
        escrow.order_ship(order=order, seller=seller, carrier="SF Express",
                          tracking="SF7654321")
    finally:
        connection.close()


def test_a_live_order_step_is_shown_in_chinese(browser: Browser):
    from chat import services as chat_services
    from listings.models import Category
    from tests.listings.factories import ListingFactory
    from trust import escrow

    seller = UserFactory(username="sally")
    buyer = UserFactory(username="bob")
    listing = ListingFactory(seller=seller, active=True, price_minor=50_000,
                             category=Category.objects.get(slug="bikes"), title="Road bike",
                             attributes={"type": "road", "frame_size": "M"})
    conversation, _ = chat_services.conversation_start(listing_id=listing.pk, buyer=buyer)
    order = escrow.order_create(buyer=buyer, listing_id=listing.pk)
    order = escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok",
                             idempotency_key="live-pay")

    server = start_daphne({"DJANGO_DEBUG": "1"})
    client = Client()
    client.force_login(buyer)
    context = browser.new_context(base_url=server.http_url)
    context.add_cookies([
        {"name": "sessionid", "value": client.cookies["sessionid"].value,
         "url": server.http_url},
        {"name": "django_language", "value": "zh-hans", "url": server.http_url},
    ])
    errors: list[str] = []
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"/inbox/{conversation.pk}/")
        log = page.locator("#log")
        # Sent before the page opened: translated by the page.
        expect(log).to_contain_text("已付款：款项安全托管，直到买家确认收货。")
        expect(page.locator("#conn[data-state=open]")).to_be_attached()

        # In a thread of its own: Playwright's event loop runs in this one, and
        # the broadcast (async_to_sync) refuses to run beside it.
        ship = threading.Thread(target=ship_order, args=(order, seller))
        ship.start()
        ship.join(timeout=30)

        # Arrives live, in English; shown in Chinese with its values kept.
        expect(log).to_contain_text("已通过 SF Express 发货，运单号 SF7654321。")
        assert "Shipped with" not in log.inner_text()
        assert errors == []
    finally:
        context.close()
        server.proc.terminate()
        try:
            server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
