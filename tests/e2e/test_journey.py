"""The whole journey in two real browsers (headless Chromium) against a real
Daphne (HTTP + websockets) on PostgreSQL and Redis, osmem-server for search,
moto's S3 server for photos and a Celery worker over Redis: a seller lists a
bike with two photos; a buyer finds it by a misspelled query, chats (both
see messages live), offers, gets a counter, accepts, pays into escrow; the
seller ships, the buyer confirms, both review. Then the key pages again in
the Chinese UI. Screenshots of every step go to test-artifacts/e2e-journey/
(E2E_ARTIFACTS overrides); no console errors.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import ServerProcess, start_daphne
from tests.listings.images import jpeg

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", ROOT / "test-artifacts" / "e2e-journey"))
TIMEOUT = 20_000


@pytest.fixture
def journey_server(search_url, s3_storage, celery_worker_on_shared_redis, settings
                   ) -> Iterator[ServerProcess]:
    """Daphne pointed at this test's osmem clone and moto bucket; its background
    work (outbox events, search indexing, photo sizes) goes through Redis to a
    real Celery worker, which shares the same search server and bucket."""
    from search import indexing

    settings.SEARCH_REFRESH_ON_WRITE = True
    indexing.ensure_index()
    server = start_daphne({
        "ELASTICSEARCH_URL": search_url,
        "SEARCH_REFRESH_ON_WRITE": "1",
        "AWS_STORAGE_BUCKET_NAME": s3_storage,
        "AWS_S3_ENDPOINT_URL": settings.AWS_S3_ENDPOINT_URL,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "API_THROTTLING": "off",
        "DJANGO_DEBUG": "1",  # WhiteNoise serves the app's static files without collectstatic
    })
    yield server
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()


class Watched:
    """A browser context whose pages record console errors and uncaught exceptions."""

    def __init__(self, browser: Browser, name: str, base_url: str) -> None:
        self.name = name
        self.errors: list[str] = []
        self.context: BrowserContext = browser.new_context(
            base_url=base_url, locale="en-GB", viewport={"width": 1200, "height": 900}
        )
        self.context.set_default_timeout(TIMEOUT)
        self.page: Page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.step = 0

    def shot(self, label: str) -> None:
        self.step += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{self.name}-{self.step:02d}-{label}.png"),
                             full_page=True)


def sign_up(who: Watched, username: str) -> None:
    page = who.page
    page.goto("/register/")
    page.fill("#id_username", username)
    page.fill("#id_email", f"{username}@example.com")
    page.fill("#id_password", "sturdy-Pass-42")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_test_id("current-user")).to_have_text(username)


def fits_a_phone(who: Watched, label: str) -> None:
    """At 390 px wide nothing sticks out sideways; then back to the desktop size."""
    who.page.set_viewport_size({"width": 390, "height": 844})
    width = who.page.evaluate("document.documentElement.scrollWidth")
    who.shot(label)
    assert width <= 390, f"{label}: the page is {width}px wide on a phone"
    who.page.set_viewport_size({"width": 1200, "height": 900})


def another_bike_listed_in_chinese() -> None:
    """A second seller's bike with a Chinese title, in the index (the first is sold)."""
    from listings.models import Category
    from search import indexing
    from tests.listings.factories import ListingFactory

    ListingFactory(active=True, category=Category.objects.get(slug="bikes"),
                   title="捷安特城市自行车 九成新", price_minor=80_000,
                   attributes={"type": "city", "frame_size": "M"})
    indexing.reindex()


def wait_connected(page: Page) -> None:
    expect(page.locator("#conn[data-state=open]")).to_be_attached()


def chat_log(page: Page):
    return page.locator("#log")


def test_seller_and_buyer_complete_a_deal_then_the_chinese_ui(
    browser: Browser, journey_server: ServerProcess, tmp_path: Path
):
    seller = Watched(browser, "seller", journey_server.http_url)
    buyer = Watched(browser, "buyer", journey_server.http_url)
    photos = []
    for i, colour in enumerate([(200, 60, 40), (40, 90, 200)]):
        path = tmp_path / f"bike-{i}.jpg"
        path.write_bytes(jpeg(800, 600, color=colour))
        photos.append(str(path))

    # --- the seller lists a bike with two photos and publishes it ---
    sign_up(seller, "sally")
    s = seller.page
    s.get_by_role("link", name="Sell", exact=True).click()
    s.fill("#id_title", "Brompton folding bicycle, 6 speed")
    s.select_option("#id_category", "bikes")
    s.select_option("#id_condition", "good")
    s.fill("#id_price", "1,200")
    s.check("#id_negotiable")
    s.fill("#id_description", "Light, quick to fold, new tyres. Pickup in Jing'an or shipping.")
    s.select_option("#id_city", "Shanghai")
    s.check("#id_ships")
    s.select_option("#bikes-type", "folding")
    s.select_option("#bikes-frame_size", "S")
    seller.shot("listing-form")
    s.get_by_role("button", name="Save draft").click()
    expect(s.locator("#dropzone")).to_be_visible()
    s.set_input_files("#photo-input", photos)
    expect(s.get_by_test_id("uploaded-photo")).to_have_count(2)
    seller.shot("photos-uploaded")
    s.get_by_role("button", name="Save and publish").click()
    expect(s.get_by_test_id("listing-title")).to_have_text("Brompton folding bicycle, 6 speed")
    expect(s.locator(".gallery .thumbs button")).to_have_count(2)
    expect(s.get_by_test_id("listing-price")).to_have_text("¥1,200.00")
    listing_url = s.url
    seller.shot("published")

    # --- the buyer finds it with a typo and opens it ---
    sign_up(buyer, "bob")
    b = buyer.page
    b.get_by_role("searchbox", name="Search").first.fill("bicyle")
    b.keyboard.press("Enter")
    expect(b.get_by_test_id("search-result")).to_have_count(1)
    buyer.shot("search-typo")
    b.get_by_test_id("search-result").first.click()
    expect(b.get_by_test_id("listing-title")).to_have_text("Brompton folding bicycle, 6 speed")
    buyer.shot("listing")
    fits_a_phone(buyer, "listing-phone")

    # --- chat: both sides see messages live ---
    b.get_by_role("button", name="Chat with seller").click()
    wait_connected(b)
    b.fill("#body", "Hi! Is it still available?")
    b.get_by_role("button", name="Send", exact=True).click()
    expect(chat_log(b)).to_contain_text("Is it still available?")

    s.goto("/inbox/")
    s.get_by_test_id("conversation-link").first.click()
    wait_connected(s)
    expect(chat_log(s)).to_contain_text("Is it still available?")
    expect(b.get_by_test_id("read-receipt")).to_be_visible()  # the seller has read it
    s.fill("#body", "Yes, it is.")
    expect(b.locator("#typing")).to_contain_text("typing")
    s.get_by_role("button", name="Send", exact=True).click()
    expect(chat_log(b)).to_contain_text("Yes, it is.")  # live, no reload
    b.fill("#body", "Great, I'll make an offer.")
    b.get_by_role("button", name="Send", exact=True).click()
    expect(chat_log(s)).to_contain_text("I'll make an offer")
    buyer.shot("chat")
    fits_a_phone(buyer, "chat-phone")

    # --- offer, counter, accept ---
    b.fill("#offer-amount", "1000")
    b.get_by_role("button", name="Send offer").click()
    offer_card = s.get_by_test_id("offer-card").last
    expect(offer_card).to_contain_text("¥1,000.00")
    offer_card.get_by_placeholder("Your counter-offer").fill("1100")
    offer_card.get_by_role("button", name="Counter", exact=True).click()
    counter_card = b.get_by_test_id("offer-card").last
    expect(counter_card).to_contain_text("¥1,100.00")
    expect(b.get_by_test_id("offer-card").first).to_contain_text("Countered")
    seller.shot("counter-offer")
    counter_card.get_by_role("button", name="Accept", exact=True).click()
    expect(counter_card).to_contain_text("Accepted")
    expect(s.get_by_test_id("offer-card").last).to_contain_text("Accepted")
    buyer.shot("offer-accepted")

    # --- checkout into escrow ---
    counter_card.get_by_role("link", name="Pay now").click()
    expect(b.get_by_test_id("checkout-price")).to_have_text("¥1,100.00")
    expect(b.get_by_test_id("checkout-fee")).to_have_text("¥55.00")
    buyer.shot("checkout")
    b.get_by_role("button", name=re.compile("Pay ¥1,100.00")).click()
    expect(b.get_by_test_id("order-status")).to_have_text("Paid, funds held")
    order_url = b.url
    buyer.shot("paid")

    # --- the seller ships, the buyer confirms ---
    s.goto("/orders/")
    s.get_by_role("link", name="Brompton folding bicycle, 6 speed").click()
    s.fill("#carrier", "SF Express")
    s.fill("#tracking", "SF1234567890")
    s.get_by_role("button", name="Mark as shipped").click()
    expect(s.get_by_test_id("order-status")).to_have_text("Shipped")
    seller.shot("shipped")
    b.goto(order_url)
    b.get_by_role("button", name="I received it: release the money").click()
    expect(b.get_by_test_id("order-status")).to_have_text("Completed")

    # --- both review (double-blind: shown once both wrote) ---
    b.locator("label[for=star5]").click()
    b.fill("#comment", "Exactly as described, friendly seller.")
    b.get_by_role("button", name="Send review").click()
    expect(b.get_by_test_id("my-review")).to_contain_text("friendly seller")
    buyer.shot("reviewed")
    s.reload()
    s.locator("label[for=star4]").click()
    s.fill("#comment", "Quick payment, thanks!")
    s.get_by_role("button", name="Send review").click()
    expect(s.get_by_test_id("their-review")).to_contain_text("friendly seller")
    s.goto("/me/balance/")
    expect(s.get_by_test_id("available")).to_have_text("¥1,045.00")
    seller.shot("balance")

    # --- the key pages in the Chinese UI ---
    b.goto("/")
    b.get_by_role("button", name="简体中文").click()
    expect(b.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(b.get_by_role("heading", name="最新发布")).to_be_visible()
    buyer.shot("zh-home")
    another_bike_listed_in_chinese()
    b.get_by_role("searchbox", name="搜索").first.fill("自行车")
    b.keyboard.press("Enter")
    expect(b.get_by_test_id("result-count")).to_have_text("1 件商品")
    buyer.shot("zh-search")
    b.get_by_test_id("search-result").first.click()
    expect(b.get_by_test_id("listing-price")).to_have_text("¥800.00")
    expect(b.get_by_role("button", name="联系卖家")).to_be_visible()
    buyer.shot("zh-listing")
    b.goto(listing_url)  # sold by now, still public
    expect(b.get_by_test_id("listing-status")).to_have_text("已售出")
    expect(b.get_by_role("heading", name="卖家")).to_be_visible()
    b.goto(order_url)
    expect(b.get_by_test_id("order-status")).to_have_text("已完成")
    expect(b.get_by_test_id("timeline")).to_contain_text("已发货")
    buyer.shot("zh-order")
    b.goto("/inbox/")
    b.get_by_test_id("conversation-link").first.click()
    expect(b.locator("#conn")).to_have_text("已连接")
    expect(b.get_by_test_id("offer-card").last).to_contain_text("已接受")
    buyer.shot("zh-chat")

    s.goto("/sell/")
    s.get_by_role("button", name="简体中文").click()
    expect(s.get_by_role("heading", name="发布闲置")).to_be_visible()
    expect(s.locator("label[for=id_price]")).to_have_text("价格")
    seller.shot("zh-sell")

    assert seller.errors == [] and buyer.errors == [], (seller.errors, buyer.errors)
    seller.context.close()
    buyer.context.close()
