"""A newcomer signs up, logs out and logs back in, in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from marketplace.accounts.models import User

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_up_log_out_and_log_in_again(page: Page, live_server):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Sign up").first.click()

    page.fill("#id_username", "browser_bo")
    page.fill("#id_email", "bo@example.com")
    page.fill("#id_password", "sturdy-Pass-42")
    page.get_by_role("button", name="Sign up").click()

    expect(page.get_by_test_id("current-user")).to_have_text("browser_bo")
    assert User.objects.filter(username="browser_bo").exists()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()

    page.get_by_role("link", name="Log in").click()
    page.fill("#id_username", "browser_bo")
    page.fill("#id_password", "sturdy-Pass-42")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("current-user")).to_have_text("browser_bo")


def test_sign_up_with_taken_name_shows_the_reason(page: Page, live_server):
    User.objects.create_user(username="taken", email="t@example.com", password="sturdy-Pass-42")

    page.goto(live_server.url + "/register/")
    page.fill("#id_username", "taken")
    page.fill("#id_email", "other@example.com")
    page.fill("#id_password", "sturdy-Pass-42")
    page.get_by_role("button", name="Sign up").click()

    expect(page.get_by_test_id("error-username")).to_contain_text("already exists")


def test_api_docs_render_in_the_browser(page: Page, live_server):
    page.goto(live_server.url + "/api/docs/")

    expect(page.locator(".swagger-ui")).to_be_visible()
    expect(page.get_by_text("/api/auth/register").first).to_be_visible(timeout=15000)
