"""The dashboards draw their charts in a real browser (uPlot served locally,
canvas drawn in place of the SVG fallback) with no console errors."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser, expect

from marketplace.analytics.models import Event
from tests.conftest import start_daphne
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory

pytestmark = pytest.mark.django_db(transaction=True)

ARTIFACTS = Path(os.environ.get(
    "E2E_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e-journey"
)).parent / "e2e-dashboards"


def _session_cookie(user, url: str) -> list[dict]:
    client = Client()
    client.force_login(user)
    return [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url}]


def test_ops_and_seller_dashboards_draw_charts_without_console_errors(browser: Browser):
    staff = UserFactory(username="olga_ops", is_staff=True)
    seller, buyer = UserFactory(username="sam_seller"), UserFactory(username="bo_buyer")
    listing = ListingFactory(seller=seller, active=True, title="Blue lamp")
    now = timezone.now()
    Event.objects.bulk_create([
        Event(kind=kind, at=now - timedelta(days=days, minutes=5), user_id=buyer.pk,
              listing_id=listing.pk)
        for kind, days in (("listing_viewed", 3), ("listing_viewed", 1), ("favourited", 1),
                           ("chat_started", 1))
    ] + [Event(kind="searched", at=now - timedelta(hours=1), props={"q": "zither", "results": 0})])
    server = start_daphne({"DJANGO_DEBUG": "1"})
    errors: list[str] = []
    context = browser.new_context(base_url=server.http_url)
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        context.add_cookies(_session_cookie(staff, server.http_url))
        page.goto("/ops/")
        expect(page.get_by_test_id("uplot")).to_have_count(2)
        expect(page.locator("#chart-gmv canvas")).to_be_visible()
        assert page.locator("#chart-gmv svg[data-testid=chart-svg]").count() == 0
        expect(page.get_by_test_id("failed-searches")).to_contain_text("zither")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ops.png"), full_page=True)

        context.clear_cookies()
        context.add_cookies(_session_cookie(seller, server.http_url))
        page.goto("/me/dashboard/")
        expect(page.get_by_test_id("uplot")).to_have_count(2)
        expect(page.get_by_test_id("views-count")).to_have_text("2")
        box = page.locator("#chart-views canvas").bounding_box()
        assert box and box["width"] > 200 and box["height"] > 100
        page.screenshot(path=str(ARTIFACTS / "seller.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
        server.proc.terminate()
        try:
            server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
