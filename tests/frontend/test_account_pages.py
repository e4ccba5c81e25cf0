"""Settings > Security (two-factor), Sessions and devices, Privacy (export,
deletion) and the appeal page: each through the web pages, with the refused
paths answering a message and a 4xx, never a 500, and changing nothing."""

from __future__ import annotations

import base64
import io
import re
import time
from datetime import timedelta

import pyotp
import pytest
import zxingcpp
from django.core import signing
from django.test import Client
from django.utils import timezone
from PIL import Image

from marketplace.accounts import privacy, security
from marketplace.accounts.models import TotpDevice, UserSession
from marketplace.notifications.models import Notification
from moderation import services as moderation_services
from moderation.models import Appeal, Case
from tests.factories import TEST_PASSWORD, UserFactory
from tests.listings.factories import ListingFactory

pytestmark = pytest.mark.django_db

SECURITY = "/me/settings/security/"
SESSIONS = "/me/settings/sessions/"
PRIVACY = "/me/settings/privacy/"


def code(secret: str, steps_ahead: int = 0) -> str:
    """A valid TOTP code; a step is accepted once, so later codes step ahead."""
    totp = pyotp.TOTP(secret)
    return totp.at(time.time() + steps_ahead * totp.interval)


def web_login(user, agent: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0") -> Client:
    """A real login through the page (a session row with its device)."""
    client = Client(HTTP_USER_AGENT=agent)
    response = client.post("/login/", {"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.content
    return client


def html(response) -> str:
    return response.content.decode()


def decode_qr_data_uri(page: str) -> str:
    """The text of the inline QR code image on the page."""
    png = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    image = Image.open(io.BytesIO(base64.b64decode(png)))
    return zxingcpp.read_barcodes(image)[0].text


def enable_two_factor(client: Client) -> str:
    client.post(SECURITY, {"action": "enrol"})
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', html(client.get(SECURITY)))
    response = client.post(SECURITY, {"action": "confirm", "totp": code(secret.group(1))})
    assert response.status_code == 200
    return secret.group(1)


# --- two-factor login ---------------------------------------------------------------------


def test_two_factor_set_up_shows_a_qr_of_the_otpauth_uri_and_the_codes_once(user):
    client = web_login(user)
    assert "Set up two-factor login" in html(client.get(SECURITY))

    assert client.post(SECURITY, {"action": "enrol"}).status_code == 302
    page = html(client.get(SECURITY))
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    uri = decode_qr_data_uri(page)
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
    assert not security.has_two_factor(user)
    assert secret not in str(dict(client.session))  # the secret stays in the encrypted row

    done = client.post(SECURITY, {"action": "confirm", "totp": code(secret)})

    assert done.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>", html(done))
    assert len(codes) == 10
    assert security.has_two_factor(user)
    again = html(client.get(SECURITY))
    assert not any(c in again for c in codes)  # shown once only
    assert "10 recovery codes left." in again


def test_a_wrong_first_code_says_so_and_keeps_the_same_key(user):
    client = web_login(user)
    client.post(SECURITY, {"action": "enrol"})
    before = re.search(r'totp-secret">([A-Z2-7]+)<', html(client.get(SECURITY))).group(1)

    response = client.post(SECURITY, {"action": "confirm", "totp": "000000"})

    assert response.status_code == 400
    assert "That code is not valid." in html(response)
    assert f'totp-secret">{before}<' in html(response)
    assert not security.has_two_factor(user)


def test_confirm_without_set_up_or_an_unknown_action_is_a_message_not_a_500(user):
    client = web_login(user)

    confirm = client.post(SECURITY, {"action": "confirm", "totp": "123456"})
    unknown = client.post(SECURITY, {"action": "explode"})

    assert confirm.status_code == 409 and "Start two-factor enrolment first." in html(confirm)
    assert unknown.status_code == 403 and "Unknown action." in html(unknown)
    assert not TotpDevice.objects.filter(user=user).exists()


def test_turning_two_factor_off_needs_the_password_or_a_code(user):
    client = web_login(user)
    secret = enable_two_factor(client)
    UserSession.objects.filter(user=user).update(
        stepped_up_at=timezone.now() - timedelta(minutes=30)
    )

    refused = client.post(SECURITY, {"action": "disable", "password": "not-it"})
    assert refused.status_code == 400 and "Wrong password or code." in html(refused)
    assert security.has_two_factor(user)

    done = client.post(SECURITY, {"action": "disable", "code": code(secret, 1)})

    assert done.status_code == 302
    assert not security.has_two_factor(user)


def test_new_recovery_codes_after_the_password(user):
    client = web_login(user)
    enable_two_factor(client)

    response = client.post(SECURITY, {"action": "regenerate", "password": TEST_PASSWORD})

    assert response.status_code == 200
    assert len(re.findall(r"<li><code>[0-9a-f-]{11}</code></li>", html(response))) == 10


def test_login_page_asks_for_the_code_when_two_factor_is_on(user):
    secret = enable_two_factor(web_login(user))
    client = Client()

    first = client.post("/login/", {"username": user.username, "password": TEST_PASSWORD})

    assert first.status_code == 200
    challenge = re.search(r'name="challenge" value="([^"]+)"', html(first)).group(1)
    assert "authenticator app" in html(first)
    assert client.get(SECURITY).status_code == 302  # not logged in yet
    wrong = client.post("/login/", {"challenge": challenge, "code": "000000"})
    assert wrong.status_code == 400 and "That code is not valid." in html(wrong)
    done = client.post("/login/", {"challenge": challenge, "code": code(secret, 1)})
    assert done.status_code == 302
    assert client.get(SECURITY).status_code == 200


def test_security_page_speaks_chinese(user):
    client = web_login(user)
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    client.post(SECURITY, {"action": "enrol"})

    wrong = html(client.post(SECURITY, {"action": "confirm", "totp": "000000"}))

    assert "两步验证登录" in wrong and "验证码无效。" in wrong


def test_security_pages_need_login(client):
    for path in (SECURITY, SESSIONS, PRIVACY, "/me/appeals/"):
        response = client.get(path)
        assert response.status_code == 302 and "/login/" in response["Location"], path


# --- sessions and devices ---------------------------------------------------------------------


def test_sessions_page_lists_each_device_and_marks_this_one(user):
    laptop = web_login(user)
    web_login(user, agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1")

    page = html(laptop.get(SESSIONS))

    assert page.count('data-testid="session-row"') == 2
    assert "Firefox on Linux" in page and "Safari on iPhone" in page
    assert page.count('data-testid="current-session"') == 1
    assert "this computer" in page  # 127.0.0.1, from the built-in table
    notice = Notification.objects.get(recipient=user, kind="new_device_login")
    assert notice.link == SESSIONS  # the new-device notice opens this page


def test_signing_out_another_device_ends_that_session(user):
    laptop = web_login(user)
    phone = web_login(user, agent="Mozilla/5.0 (iPhone) Safari/604.1")
    other = UserSession.objects.get(user=user, device_label="Safari on iPhone")

    response = laptop.post(f"{SESSIONS}{other.id}/end/")

    assert response.status_code == 302
    assert phone.get(SESSIONS).status_code == 302  # back to the login page
    assert laptop.get(SESSIONS).status_code == 200
    other.refresh_from_db()
    assert other.ended_at is not None


def test_sign_out_everywhere_else_keeps_this_device(user):
    laptop = web_login(user)
    phones = [web_login(user, agent=f"Mozilla/5.0 (Android {n}) Chrome/120") for n in (1, 2)]

    laptop.post(f"{SESSIONS}end-others/")

    assert all(p.get(SESSIONS).status_code == 302 for p in phones)
    assert laptop.get(SESSIONS).status_code == 200
    assert UserSession.objects.filter(user=user, ended_at__isnull=True).count() == 1


def test_someone_elses_session_is_404_and_stays(user, other_user):
    web_login(other_user)
    theirs = UserSession.objects.get(user=other_user)

    response = web_login(user).post(f"{SESSIONS}{theirs.id}/end/")
    bad = web_login(user).post(f"{SESSIONS}not-a-uuid/end/")

    assert response.status_code == 404 and bad.status_code == 404
    theirs.refresh_from_db()
    assert theirs.ended_at is None


# --- privacy: export and deletion --------------------------------------------------------------


def test_export_request_prepares_the_zip_and_the_page_links_it(user,
                                                              django_capture_on_commit_callbacks):
    client = web_login(user)
    assert "Request my data" in html(client.get(PRIVACY))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(PRIVACY, {"action": "export"})
    assert response.status_code == 302

    page = html(client.get(PRIVACY))
    link = re.search(r'href="([^"]+)" data-testid="export-download"', page).group(1)
    assert link.startswith("/api/me/export/download?token=")
    download = Client().get(link.replace("&amp;", "&"))
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"


def test_export_in_progress_shows_its_progress(user):
    client = web_login(user)
    export, _ = privacy.data_export_request(user=user)
    type(export).objects.filter(pk=export.pk).update(status="running", progress=40)

    page = html(client.get(PRIVACY))

    assert 'value="40"' in page and "Your file is being prepared." in page


def test_deleting_the_account_needs_the_box_and_the_password_and_can_be_undone(user):
    client = web_login(user)
    UserSession.objects.filter(user=user).update(
        stepped_up_at=timezone.now() - timedelta(minutes=30)
    )

    unticked = client.post(PRIVACY, {"action": "delete", "password": TEST_PASSWORD})
    wrong = client.post(PRIVACY, {"action": "delete", "confirm": "yes", "password": "nope"})
    user.refresh_from_db()
    assert unticked.status_code == 403 and "Tick the box" in html(unticked)
    assert wrong.status_code == 400 and "Wrong password or code." in html(wrong)
    assert user.deletion_due_at is None

    done = client.post(PRIVACY, {"action": "delete", "confirm": "yes",
                                 "password": TEST_PASSWORD})

    assert done.status_code == 302
    user.refresh_from_db()
    assert user.deletion_due_at is not None
    page = html(client.get(PRIVACY))
    assert 'data-testid="deletion-scheduled"' in page and "Keep my account" in page
    client.post(PRIVACY, {"action": "restore"})
    user.refresh_from_db()
    assert user.deletion_due_at is None


def test_privacy_page_explains_what_is_kept(user):
    page = html(web_login(user).get(PRIVACY))
    assert "completed orders, reviews and the money ledger stay" in page


# --- appeals --------------------------------------------------------------------------------


@pytest.fixture
def moderator(db):
    user = UserFactory(username="mod_page")
    moderation_services.moderator_add(user=user)
    return user


@pytest.fixture
def suspended(moderator):
    """A seller suspended after a report: (case, seller, their statement's link)."""
    seller = UserFactory(username="suspended_sam")
    listing = ListingFactory(seller=seller, active=True)
    moderation_services.report_submit(reporter=UserFactory(), target_type="listing",
                                      target_id=listing.id, reason="scam", details="")
    case = Case.objects.get()
    moderation_services.case_decide(case_id=case.id, moderator=moderator, action="suspend",
                                    note="Deposit scam")
    statement = Notification.objects.get(recipient=seller, kind="moderation_decision")
    return case, seller, statement


def test_statement_of_reasons_links_to_the_appeal_page(suspended, settings):
    case, seller, statement = suspended

    assert statement.link.startswith("/appeal/")
    assert statement.payload["appeal"]["url"] == settings.SITE_URL.rstrip("/") + statement.link
    page = Client().get(statement.link)
    assert page.status_code == 200
    assert "Account suspended" in html(page) and "Deposit scam" in html(page)


def test_suspended_user_appeals_on_the_page_without_logging_in(suspended):
    case, seller, statement = suspended
    client = Client()

    empty = client.post(statement.link, {"statement": "   "})
    assert empty.status_code == 400 and "Explain in 1 to" in html(empty)
    assert Appeal.objects.count() == 0

    sent = client.post(statement.link, {"statement": "It was a real camera."})

    assert sent.status_code == 302
    appeal = Appeal.objects.get()
    assert appeal.appellant == seller and appeal.status == "pending"
    page = html(client.get(statement.link))
    assert "Waiting for a moderator" in page and "It was a real camera." in page
    assert 'name="statement"' not in page  # one appeal per decision
    again = client.post(statement.link, {"statement": "Once more"})
    assert again.status_code == 409 and Appeal.objects.count() == 1


def test_forged_appeal_link_is_refused_with_a_message(suspended):
    _case, _seller, statement = suspended

    response = Client().get(statement.link.rstrip("/") + "x/")
    posted = Client().post(statement.link.rstrip("/") + "x/", {"statement": "hi"})

    assert response.status_code == 403 and "This appeal link is not valid." in html(response)
    assert posted.status_code == 403 and Appeal.objects.count() == 0


def test_expired_appeal_link_says_the_appeal_period_ended(suspended, monkeypatch, settings):
    case, seller, _ = suspended
    long_ago = time.time() - (settings.MODERATION_APPEAL_WINDOW_DAYS + 1) * 86400
    monkeypatch.setattr(signing.time, "time", lambda: long_ago)
    token = moderation_services.appeal_token(case_id=case.id, user_id=seller.id)
    monkeypatch.undo()

    response = Client().post(f"/appeal/{token}/", {"statement": "Too late?"})

    assert response.status_code == 410
    assert "The appeal period of this decision has ended." in html(response)
    assert Appeal.objects.count() == 0


def test_appeal_page_in_chinese_with_the_date_per_locale(suspended):
    _case, _seller, statement = suspended
    client = Client()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})

    page = html(client.get(statement.link))

    assert "对审核决定提出申诉" in page and "账户已停用" in page
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", page)  # DATE_FORMAT of zh-hans


def test_my_appeals_lists_status_for_the_signed_in_user(moderator):
    seller = UserFactory()
    listing = ListingFactory(seller=seller, active=True)
    moderation_services.report_submit(reporter=UserFactory(), target_type="listing",
                                      target_id=listing.id, reason="scam", details="")
    case = Case.objects.get()
    moderation_services.case_decide(case_id=case.id, moderator=moderator, action="remove")
    moderation_services.appeal_submit(appellant=seller, case_id=case.id, statement="Mine")
    client = web_login(seller)

    page = html(client.get("/me/appeals/"))

    assert "Waiting for a moderator" in page and "Removed" in page
    link = re.search(r'href="(/appeal/[^"]+/)"', page).group(1)
    assert client.get(link).status_code == 200
    assert "Waiting for a moderator" not in html(web_login(UserFactory()).get("/me/appeals/"))


def test_statement_of_reasons_email_carries_the_appeal_link(moderator, settings, mailoutbox,
                                                            django_capture_on_commit_callbacks):
    seller = UserFactory(email="sam@example.com")
    listing = ListingFactory(seller=seller, active=True)
    moderation_services.report_submit(reporter=UserFactory(), target_type="listing",
                                      target_id=listing.id, reason="scam", details="")
    case = Case.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        moderation_services.case_decide(case_id=case.id, moderator=moderator, action="remove")

    mail = next(m for m in mailoutbox if m.to == ["sam@example.com"])
    site = settings.SITE_URL.rstrip("/")
    link = re.search(rf"{re.escape(site)}(/appeal/[^/\s]+/)", mail.body).group(1)
    page = Client().get(link)
    assert page.status_code == 200 and "Removed" in html(page)
