"""The whole journey in two real browsers (headless Chromium) against a real
Daphne (HTTP + websockets) on PostgreSQL and Redis, osmem-server for search,
moto's S3 server for photos and a Celery worker over Redis: a seller lists a
bike with two photos; a buyer finds it by a misspelled query, chats (both
see messages live), offers, gets a counter, accepts, pays into escrow; the
seller ships, the buyer confirms, both review. The whole journey runs once
in English and once in the Chinese UI. Screenshots of every step go to
test-artifacts/e2e-journey/ (E2E_ARTIFACTS overrides); no console errors.
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


# What the journey clicks and reads, in each UI language.
TEXT = {
    "en": {
        "sign_up": "Sign up", "sell": "Sell", "save_draft": "Save draft",
        "publish": "Save and publish", "search": "Search", "chat": "Chat with seller",
        "send": "Send", "typing": "typing", "send_offer": "Send offer",
        "counter_placeholder": "Your counter-offer", "counter": "Counter",
        "accept": "Accept", "countered": "Countered", "accepted": "Accepted",
        "pay_now": "Pay now", "paid": "Paid, funds held", "ship": "Mark as shipped",
        "shipped": "Shipped", "confirm": "I received it: release the money",
        "completed": "Completed", "send_review": "Send review",
    },
    "zh-hans": {
        "sign_up": "注册", "sell": "发布", "save_draft": "保存草稿",
        "publish": "保存并发布", "search": "搜索", "chat": "联系卖家",
        "send": "发送", "typing": "正在输入", "send_offer": "发送出价",
        "counter_placeholder": "您的还价", "counter": "还价",
        "accept": "接受", "countered": "已还价", "accepted": "已接受",
        "pay_now": "立即付款", "paid": "已付款，资金托管中", "ship": "标记为已发货",
        "shipped": "已发货", "confirm": "我已收货：放款给卖家",
        "completed": "已完成", "send_review": "提交评价",
    },
}


def choose_language(who: Watched, lang: str) -> None:
    """Switch the UI language with the switcher every page carries (a cookie)."""
    who.page.goto("/")
    if lang != "en":
        who.page.get_by_role("button", name="简体中文").click()
    expect(who.page.locator("html")).to_have_attribute("lang", lang)


def sign_up(who: Watched, username: str, t: dict[str, str]) -> None:
    page = who.page
    page.goto("/register/")
    page.fill("#id_username", username)
    page.fill("#id_email", f"{username}@example.com")
    page.fill("#id_password", "sturdy-Pass-42")
    page.get_by_role("button", name=t["sign_up"]).click()
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


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_seller_and_buyer_complete_a_deal(
    browser: Browser, journey_server: ServerProcess, tmp_path: Path, lang: str
):
    """The same journey in each UI language, start to finish."""
    t = TEXT[lang]
    seller = Watched(browser, f"{lang}-seller", journey_server.http_url)
    buyer = Watched(browser, f"{lang}-buyer", journey_server.http_url)
    photos = []
    for i, colour in enumerate([(200, 60, 40), (40, 90, 200)]):
        path = tmp_path / f"bike-{i}.jpg"
        path.write_bytes(jpeg(800, 600, color=colour))
        photos.append(str(path))

    # --- the seller lists a bike with two photos and publishes it ---
    choose_language(seller, lang)
    sign_up(seller, "sally", t)
    s = seller.page
    s.get_by_role("link", name=t["sell"], exact=True).click()
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
    s.get_by_role("button", name=t["save_draft"]).click()
    expect(s.locator("#dropzone")).to_be_visible()
    s.set_input_files("#photo-input", photos)
    expect(s.get_by_test_id("uploaded-photo")).to_have_count(2)
    seller.shot("photos-uploaded")
    s.get_by_role("button", name=t["publish"]).click()
    expect(s.get_by_test_id("listing-title")).to_have_text("Brompton folding bicycle, 6 speed")
    expect(s.locator(".gallery .thumbs button")).to_have_count(2)
    expect(s.get_by_test_id("listing-price")).to_have_text("¥1,200.00")
    listing_url = s.url
    seller.shot("published")

    # --- the buyer finds it with a typo and opens it ---
    choose_language(buyer, lang)
    sign_up(buyer, "bob", t)
    b = buyer.page
    b.get_by_role("searchbox", name=t["search"]).first.fill("bicyle")
    b.keyboard.press("Enter")
    expect(b.get_by_test_id("search-result")).to_have_count(1)
    buyer.shot("search-typo")
    b.get_by_test_id("search-result").first.click()
    expect(b.get_by_test_id("listing-title")).to_have_text("Brompton folding bicycle, 6 speed")
    buyer.shot("listing")
    fits_a_phone(buyer, "listing-phone")

    # --- chat: both sides see messages live ---
    b.get_by_role("button", name=t["chat"]).click()
    wait_connected(b)
    b.fill("#body", "Hi! Is it still available?")
    b.get_by_role("button", name=t["send"], exact=True).click()
    expect(chat_log(b)).to_contain_text("Is it still available?")

    s.goto("/inbox/")
    s.get_by_test_id("conversation-link").first.click()
    wait_connected(s)
    expect(chat_log(s)).to_contain_text("Is it still available?")
    expect(b.get_by_test_id("read-receipt")).to_be_visible()  # the seller has read it
    s.fill("#body", "Yes, it is.")
    expect(b.locator("#typing")).to_contain_text(t["typing"])
    s.get_by_role("button", name=t["send"], exact=True).click()
    expect(chat_log(b)).to_contain_text("Yes, it is.")  # live, no reload
    b.fill("#body", "Great, I'll make an offer.")
    b.get_by_role("button", name=t["send"], exact=True).click()
    expect(chat_log(s)).to_contain_text("I'll make an offer")
    buyer.shot("chat")
    fits_a_phone(buyer, "chat-phone")

    # --- offer, counter, accept ---
    b.fill("#offer-amount", "1000")
    b.get_by_role("button", name=t["send_offer"]).click()
    offer_card = s.get_by_test_id("offer-card").last
    expect(offer_card).to_contain_text("¥1,000.00")
    offer_card.get_by_placeholder(t["counter_placeholder"]).fill("1100")
    offer_card.get_by_role("button", name=t["counter"], exact=True).click()
    counter_card = b.get_by_test_id("offer-card").last
    expect(counter_card).to_contain_text("¥1,100.00")
    expect(b.get_by_test_id("offer-card").first).to_contain_text(t["countered"])
    seller.shot("counter-offer")
    counter_card.get_by_role("button", name=t["accept"], exact=True).click()
    expect(counter_card).to_contain_text(t["accepted"])
    expect(s.get_by_test_id("offer-card").last).to_contain_text(t["accepted"])
    buyer.shot("offer-accepted")

    # --- checkout into escrow, the fee shown before paying ---
    counter_card.get_by_role("link", name=t["pay_now"]).click()
    expect(b.get_by_test_id("checkout-price")).to_have_text("¥1,100.00")
    expect(b.get_by_test_id("checkout-fee")).to_have_text("¥55.00")
    buyer.shot("checkout")
    b.get_by_role("button", name=re.compile("¥1,100.00")).click()
    expect(b.get_by_test_id("order-status")).to_have_text(t["paid"])
    order_url = b.url
    buyer.shot("paid")

    # --- the seller ships, the buyer confirms ---
    s.goto("/orders/")
    s.get_by_role("link", name="Brompton folding bicycle, 6 speed").click()
    s.fill("#carrier", "SF Express")
    s.fill("#tracking", "SF1234567890")
    s.get_by_role("button", name=t["ship"]).click()
    expect(s.get_by_test_id("order-status")).to_have_text(t["shipped"])
    seller.shot("shipped")
    b.goto(order_url)
    b.get_by_role("button", name=t["confirm"]).click()
    expect(b.get_by_test_id("order-status")).to_have_text(t["completed"])
    expect(b.get_by_test_id("timeline")).to_contain_text(t["shipped"])

    # --- both review (double-blind: shown once both wrote) ---
    b.locator("label[for=star5]").click()
    b.fill("#comment", "Exactly as described, friendly seller.")
    b.get_by_role("button", name=t["send_review"]).click()
    expect(b.get_by_test_id("my-review")).to_contain_text("friendly seller")
    buyer.shot("reviewed")
    s.reload()
    s.locator("label[for=star4]").click()
    s.fill("#comment", "Quick payment, thanks!")
    s.get_by_role("button", name=t["send_review"]).click()
    expect(s.get_by_test_id("their-review")).to_contain_text("friendly seller")
    s.goto("/me/balance/")
    expect(s.get_by_test_id("available")).to_have_text("¥1,045.00")
    seller.shot("balance")

    if lang == "zh-hans":
        # A Chinese query finds a Chinese listing; the sold one stays public.
        b.goto("/")
        expect(b.get_by_role("heading", name="最新发布")).to_be_visible()
        another_bike_listed_in_chinese()
        b.get_by_role("searchbox", name="搜索").first.fill("自行车")
        b.keyboard.press("Enter")
        expect(b.get_by_test_id("result-count")).to_have_text("1 件商品")
        buyer.shot("zh-search")
        b.get_by_test_id("search-result").first.click()
        expect(b.get_by_test_id("listing-price")).to_have_text("¥800.00")
        b.goto(listing_url)
        expect(b.get_by_test_id("listing-status")).to_have_text("已售出")
        expect(b.get_by_role("heading", name="卖家")).to_be_visible()
        buyer.shot("zh-sold-listing")

    assert seller.errors == [] and buyer.errors == [], (seller.errors, buyer.errors)
    seller.context.close()
    buyer.context.close()
