"""Accessibility in a real browser: axe-core (vendored, test-only, see
tests/e2e/vendor/axe-core/VERSION) runs on the main pages, in English and in
the Chinese UI, as the buyer, the seller and a moderator would see them; any
"serious" or "critical" violation fails the test with the rule, the page and
the offending elements. And the header works from the keyboard: Tab reaches
the search box, Enter searches.

The pages are filled with the data that makes them show their real parts: a
listing found by search, a conversation with an offer, a paid order with its
timeline, notifications, a moderation case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")

# Runs every WCAG 2.0/2.1 A and AA rule plus axe's best practices, reports
# violations only (the other result types are large and unused here).
RUN_AXE = """async () => {
  const r = await axe.run(document, {resultTypes: ["violations"]});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " +
      (n.failureSummary || "").replace(/\\s+/g, " ").slice(0, 240))}));
}"""


@pytest.fixture
def marketplace(search_url, settings) -> dict[str, Any]:
    """A seller with two active bikes (one sold into a paid order), a buyer who
    chats and offers on the other, notifications, and a reported listing on the
    moderation queue."""
    from chat import services as chat_services
    from listings.models import Category
    from moderation import services as moderation
    from search import indexing
    from tests.listings.factories import ListingFactory
    from trust import escrow

    settings.SEARCH_REFRESH_ON_WRITE = True
    seller = UserFactory(username="sally", display_name="Sally Seller")
    buyer = UserFactory(username="bob", display_name="Bob Buyer")
    moderator = UserFactory(username="mia")
    moderation.moderator_add(user=moderator)
    bikes = Category.objects.get(slug="bikes")
    listing = ListingFactory(seller=seller, active=True, category=bikes, price_minor=123_450,
                             negotiable=True, title="Giant road bike",
                             attributes={"type": "road", "frame_size": "M"})
    sold = ListingFactory(seller=seller, active=True, category=bikes, price_minor=80_000,
                          title="City bike with basket",
                          attributes={"type": "city", "frame_size": "M"})
    other = ListingFactory(seller=seller, active=True, category=bikes, price_minor=45_000,
                           title="Folding bike", attributes={"type": "folding", "frame_size": "S"})
    conversation, _ = chat_services.conversation_start(listing_id=listing.pk, buyer=buyer)
    chat_services.message_send(conversation=conversation, sender=buyer,
                               body="Is it still available?", client_id="a11y-1")
    order = escrow.order_create(buyer=buyer, listing_id=sold.pk)
    order = escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok",
                             idempotency_key="a11y-pay")
    escrow.order_ship(order=order, seller=seller, carrier="SF Express", tracking="SF1234567")
    moderation.report_submit(reporter=buyer, target_type="listing", target_id=listing.pk,
                             reason="spam")
    indexing.reindex()
    return {"seller": seller, "buyer": buyer, "moderator": moderator, "listing": listing,
            "other": other, "conversation": conversation, "order": order}


def signed_in(browser: Browser, base: str, user: Any, lang: str,
              viewport: dict[str, int] | None = None) -> BrowserContext:
    """A browser context logged in as `user` (by session cookie: moderators
    would otherwise need a second factor) with the UI language chosen."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(base_url=base, bypass_csp=True,
                                  viewport=viewport or {"width": 1200, "height": 900})
    context.set_default_timeout(20_000)
    context.add_cookies([
        {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base},
        {"name": "django_language", "value": lang, "url": base},
    ])
    return context


def axe_violations(page: Page, path: str, lang: str) -> list[str]:
    page.goto(path)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(RUN_AXE)
    return [
        f"{path} [{lang}] {v['impact']} {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"])
        for v in found if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_main_pages_have_no_serious_accessibility_violations(
    browser: Browser, live_server, marketplace, lang
):
    m = marketplace
    base = live_server.url
    problems: list[str] = []

    anonymous = browser.new_context(base_url=base, bypass_csp=True)
    anonymous.add_cookies([{"name": "django_language", "value": lang, "url": base}])
    page = anonymous.new_page()
    for path in ("/", "/search/?q=bike", f"/items/{m['listing'].pk}/", "/login/",
                 "/register/"):
        problems += axe_violations(page, path, lang)
    anonymous.close()

    buyer = signed_in(browser, base, m["buyer"], lang)
    page = buyer.new_page()
    for path in ("/", "/search/?q=bike&sort=price_asc", f"/items/{m['listing'].pk}/",
                 "/inbox/", f"/inbox/{m['conversation'].pk}/", "/orders/",
                 f"/orders/{m['order'].pk}/", "/me/notifications/", "/me/settings/",
                 "/me/settings/security/", "/me/settings/sessions/",
                 "/me/settings/privacy/", "/me/settings/verification/",
                 "/me/settings/payouts/", "/me/appeals/", "/me/balance/",
                 f"/items/{m['other'].pk}/buy/", f"/u/{m['seller'].pk}/"):
        problems += axe_violations(page, path, lang)
    buyer.close()

    seller = signed_in(browser, base, m["seller"], lang)
    page = seller.new_page()
    for path in ("/sell/", f"/items/{m['listing'].pk}/", f"/items/{m['listing'].pk}/edit/",
                 "/me/listings/", f"/inbox/{m['conversation'].pk}/",
                 f"/orders/{m['order'].pk}/", "/me/dashboard/"):
        problems += axe_violations(page, path, lang)
    seller.close()

    moderator = signed_in(browser, base, m["moderator"], lang)
    page = moderator.new_page()
    problems += axe_violations(page, "/moderation/", lang)
    case_link = page.get_by_test_id("case-row").first.get_by_role("link").first
    problems += axe_violations(page, case_link.get_attribute("href"), lang)
    problems += axe_violations(page, "/moderation/audit/", lang)
    problems += axe_violations(page, "/moderation/dashboard/", lang)
    moderator.close()

    assert not problems, "\n".join(problems)


def test_pages_at_phone_width_have_no_serious_accessibility_violations(
    browser: Browser, live_server, marketplace
):
    """One column below 760 px: wide tables scroll in a region the keyboard can reach."""
    m = marketplace
    context = signed_in(browser, live_server.url, m["seller"], "en",
                        viewport={"width": 390, "height": 844})
    page = context.new_page()
    problems: list[str] = []
    for path in ("/", "/search/?q=bike", f"/items/{m['listing'].pk}/", "/sell/",
                 f"/inbox/{m['conversation'].pk}/", f"/orders/{m['order'].pk}/",
                 "/me/settings/sessions/", "/me/settings/verification/",
                 "/me/settings/payouts/", "/me/appeals/", "/me/balance/", "/me/dashboard/",
                 "/me/notifications/"):
        problems += axe_violations(page, path, "en")
    context.close()
    assert not problems, "\n".join(problems)


def test_the_audit_catches_a_missing_alt_text_and_an_unlabelled_field(browser: Browser,
                                                                       live_server):
    """The harness itself: axe is loaded with its rules on, so a page with an
    image without alt text and a field without a label does fail."""
    context = browser.new_context(base_url=live_server.url, bypass_csp=True)
    page = context.new_page()
    page.goto("/")
    page.evaluate("""() => {
      const img = document.createElement("img"); img.src = "data:,";
      const input = document.createElement("input");
      document.querySelector("main").append(img, input);
    }""")
    page.add_script_tag(path=str(AXE))
    found = {v["id"]: v["impact"] for v in page.evaluate(RUN_AXE)}
    assert found.get("image-alt") == "critical" and found.get("label") == "critical", found
    context.close()


def test_keyboard_alone_reaches_the_search_box_and_searches(browser: Browser, live_server,
                                                            marketplace):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.goto("/")
    search_box = page.get_by_role("searchbox").first
    # Tab from the top of the page: the skip link, the header's links, then the box.
    for _ in range(15):
        page.keyboard.press("Tab")
        if search_box.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("Fifteen presses of Tab never reached the search box")
    page.keyboard.type("bike")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search/?*q=bike*")
    expect(page.get_by_test_id("search-result").first).to_contain_text("bike")
    context.close()
