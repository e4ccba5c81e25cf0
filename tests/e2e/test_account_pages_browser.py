"""Account security in a real browser: turn on two-factor login from the QR
code page (the code computed here with pyotp), log out, log back in with a
code; then sign another device out from Sessions and devices. No console
errors on the way."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from marketplace.accounts import security
from marketplace.accounts.models import User
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", Path(__file__).resolve().parents[2]
                                / "test-artifacts")) / "e2e-account-pages"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def watch(page: Page, errors: list[str]) -> Page:
    page.set_default_timeout(15_000)
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_two_factor_on_then_log_in_with_a_code_and_sign_out_another_device(
    browser: Browser, live_server
):
    UserFactory(username="careful_cat", display_name="Careful Cat")
    base = live_server.url
    errors: list[str] = []
    laptop = browser.new_context(user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
    phone = browser.new_context(user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) "
                                           "Safari/604.1", viewport={"width": 390, "height": 800})
    try:
        page = watch(laptop.new_page(), errors)
        log_in(page, base, "careful_cat")
        expect(page.get_by_test_id("current-user")).to_have_text("Careful Cat")

        # Settings > Security: set up, scan (read the key), confirm with a code.
        page.get_by_role("link", name="Settings").click()
        page.get_by_role("link", name="Security").click()
        page.get_by_role("button", name="Set up two-factor login").click()
        expect(page.get_by_test_id("totp-qr")).to_be_visible()
        shot(page, "01-security-qr")
        secret = page.get_by_test_id("totp-secret").inner_text().strip()
        totp = pyotp.TOTP(secret)
        page.get_by_label("Enter the 6-digit code the app shows").fill(totp.now())
        page.get_by_role("button", name="Turn on two-factor login").click()
        expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
        recovery = page.get_by_test_id("recovery-codes").locator("li").all_inner_texts()
        shot(page, "02-recovery-codes")
        assert security.has_two_factor(User.objects.get(username="careful_cat"))

        # Log out, log in again: the password, then a (new) code.
        page.get_by_role("button", name="Log out").click()
        log_in(page, base, "careful_cat")
        expect(page.get_by_label("Code")).to_be_visible()
        shot(page, "03-login-code")
        page.get_by_label("Code").fill(totp.at(time.time() + totp.interval))
        page.get_by_role("button", name="Verify").click()
        expect(page.get_by_test_id("current-user")).to_have_text("Careful Cat")

        # A second device logs in (a TOTP step is good once: a recovery code
        # here), then the laptop signs it out.
        other = watch(phone.new_page(), errors)
        log_in(other, base, "careful_cat")
        other.get_by_label("Code").fill(recovery[0].strip())
        other.get_by_role("button", name="Verify").click()
        expect(other.get_by_test_id("current-user")).to_have_text("Careful Cat")

        page.goto(base + "/me/settings/sessions/")
        rows = page.get_by_test_id("session-row")
        expect(rows).to_have_count(2)
        expect(page.get_by_test_id("current-session")).to_have_count(1)
        shot(page, "04-sessions")
        page.get_by_role("button", name="Sign out Safari on iPhone").click()
        expect(page.get_by_text("That device is signed out.")).to_be_visible()
        expect(page.get_by_test_id("session-row")).to_have_count(1)

        other.goto(base + "/me/settings/sessions/")
        expect(other.get_by_role("button", name="Log in")).to_be_visible()
        assert "/login/" in other.url
        # Nothing wider than the phone's screen on the security page either.
        log_in(other, base, "careful_cat")
        other.get_by_label("Code").fill(recovery[1].strip())
        other.get_by_role("button", name="Verify").click()
        other.goto(base + "/me/settings/security/")
        assert other.evaluate("document.documentElement.scrollWidth") <= 390
        shot(other, "05-security-phone")
        other.goto(base + "/me/settings/privacy/")
        assert other.evaluate("document.documentElement.scrollWidth") <= 390
        shot(other, "06-privacy-phone")
    finally:
        laptop.close()
        phone.close()
    assert errors == []
