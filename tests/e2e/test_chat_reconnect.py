"""The chat page survives a server restart: it reconnects on its own and shows
the message that was sent while it was away, once."""

from __future__ import annotations

import subprocess

import pytest
from playwright.sync_api import Browser, expect

import tests.conftest as shared
from chat import services as chat_services
from tests.factories import TEST_PASSWORD, UserFactory
from tests.listings.factories import ListingFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _stop(server: shared.ServerProcess) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()


def test_chat_reconnects_after_a_restart_and_catches_up(browser: Browser, monkeypatch):
    seller, buyer = UserFactory(username="sam"), UserFactory(username="bea")
    listing = ListingFactory(seller=seller, active=True, title="Desk lamp")
    conversation, _ = chat_services.conversation_start(listing_id=listing.pk, buyer=buyer)
    server = shared.start_daphne({"DJANGO_DEBUG": "1"})
    context = browser.new_context(base_url=server.http_url)
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    try:
        page.goto("/login/")
        page.fill("#id_username", "bea")
        page.fill("#id_password", TEST_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.goto(f"/inbox/{conversation.pk}/")
        expect(page.locator("#conn[data-state=open]")).to_be_attached()

        _stop(server)
        expect(page.locator("#conn")).to_have_text("Reconnecting…")
        chat_services.message_send(conversation=conversation, sender=seller,
                                   body="Sent while you were away", client_id="away-1")
        monkeypatch.setattr(shared, "free_port", lambda: server.port)
        server = shared.start_daphne({"DJANGO_DEBUG": "1"})

        # jittered backoff, capped at 10 s between attempts
        expect(page.locator("#conn[data-state=open]")).to_be_attached(timeout=40_000)
        expect(page.locator("#log")).to_contain_text("Sent while you were away")
        expect(page.get_by_test_id("chat-message")).to_have_count(1)
        # Only the browser's own reports of the refused reconnects while the server was down.
        assert [e for e in errors if "WebSocket connection" not in e] == []
    finally:
        context.close()
        _stop(server)
