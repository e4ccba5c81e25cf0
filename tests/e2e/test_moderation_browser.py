"""A scam listing is held when its seller publishes it, and a moderator removes
it from the queue in the browser; the audit log shows the decision."""

from __future__ import annotations

import subprocess

import pytest
from django.test import Client
from playwright.sync_api import Browser, expect

from moderation import services as moderation
from tests.conftest import start_daphne
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_scam_listing_is_held_and_a_moderator_removes_it(browser: Browser, tmp_path):
    from listings.models import Listing

    UserFactory(username="scammy")
    moderator = UserFactory(username="mod_mia")
    moderation.moderator_add(user=moderator)
    # Hold anything the fraud checks score above 0.3 (default 0.8): the model is
    # not trained in this process, the rules alone decide.
    server = start_daphne({"DJANGO_DEBUG": "1", "FRAUD_HOLD_THRESHOLD": "0.3"})
    errors: list[str] = []
    seller = browser.new_context(base_url=server.http_url)
    mod = browser.new_context(base_url=server.http_url)
    try:
        page = seller.new_page()
        page.set_default_timeout(20_000)
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.goto("/login/")
        page.fill("#id_username", "scammy")
        page.fill("#id_password", TEST_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.goto("/sell/")
        page.fill("#id_title", "iPhone 15 Pro Max 1TB brand new sealed")
        page.select_option("#id_category", "phones")
        page.select_option("#id_condition", "new")
        page.fill("#id_price", "800")
        page.fill("#id_description", "Pay the deposit first by bank transfer or WeChat "
                  "13812345678, I ship from abroad. No escrow, cheaper outside the platform.")
        page.select_option("#id_city", "Shenzhen")
        page.select_option("#phones-brand", "Apple")
        page.fill("#phones-model", "iPhone 15 Pro Max")
        page.select_option("#phones-storage", "1TB")
        page.get_by_role("button", name="Save draft").click()
        page.get_by_role("button", name="Save and publish").click()
        expect(page.get_by_test_id("listing-status")).to_have_text("Under review")
        listing = Listing.objects.get(seller__username="scammy")
        assert listing.status == "pending_review"

        # The moderator (signed in by session: moderators log in with two factors)
        client = Client()
        client.force_login(moderator)
        mod.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                          "url": server.http_url}])
        mpage = mod.new_page()
        mpage.set_default_timeout(20_000)
        mpage.on("console", lambda m: m.type == "error" and errors.append(m.text))
        mpage.goto("/moderation/")
        mpage.get_by_role("link", name="iPhone 15 Pro Max 1TB brand new sealed").click()
        expect(mpage.get_by_test_id("case-listing")).to_contain_text("Fraud score")
        mpage.select_option("#action", "remove")
        mpage.fill("#note", "Deposit outside the platform")
        mpage.get_by_role("button", name="Decide").click()
        expect(mpage.locator(".messages")).to_contain_text("Decision recorded")
        listing.refresh_from_db()
        assert listing.status != "pending_review" and listing.removed_by_moderator
        mpage.goto("/moderation/audit/")
        expect(mpage.get_by_test_id("audit-row").first).to_contain_text("Deposit outside")
        assert errors == []
    finally:
        seller.close()
        mod.close()
        server.proc.terminate()
        try:
            server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
