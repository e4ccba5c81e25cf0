"""Settings > Verification (phone by SMS code, identity by the sandbox
provider) and Settings > Payouts (saved payout details, masked): through the
web pages, each refused step answering a message and a 4xx, never a 500, and
changing nothing."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client

from marketplace.accounts import selectors as account_selectors
from marketplace.accounts.models import IdentityVerification, PhoneVerification, User
from marketplace.accounts.providers import SandboxSms
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

VERIFY = "/me/settings/verification/"
PAYOUTS = "/me/settings/payouts/"


def web_login(user) -> Client:
    """A real login through the page: step-up needs its session row."""
    client = Client()
    response = client.post("/login/", {"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.content
    return client


def html(response) -> str:
    return response.content.decode()


def last_code(phone: str) -> str:
    sent = [m["text"] for m in SandboxSms.outbox if m["to"] == phone]
    return re.search(r"\b(\d{6})\b", sent[-1]).group(1)


@pytest.fixture(autouse=True)
def empty_sms_outbox():
    SandboxSms.outbox.clear()
    yield
    SandboxSms.outbox.clear()


# --- phone ---------------------------------------------------------------------------------


def send_code(client: Client, phone: str, capture) -> None:
    """Ask for a code; the SMS leaves when the transaction commits."""
    with capture(execute=True):
        response = client.post(VERIFY, {"action": "phone_send", "phone": phone})
    assert response.status_code == 302, html(response)


def test_phone_is_verified_with_the_code_sent_by_sms(user, django_capture_on_commit_callbacks):
    client = web_login(user)
    assert 'data-testid="phone-status"><span class="badge">Not verified' in html(
        client.get(VERIFY))

    send_code(client, "+86 139 8765 4321", django_capture_on_commit_callbacks)
    page = html(client.get(VERIFY))
    assert "We sent a code by SMS to +86*********21." in page
    assert 'id="phone-code"' in page and 'data-testid="sandbox-sms"' in page

    done = client.post(VERIFY, {"action": "phone_confirm", "code": last_code("+8613987654321")},
                       follow=True)

    user.refresh_from_db()
    assert user.phone == "+8613987654321" and user.phone_verified
    page = html(done)
    assert "Your phone number is verified." in page
    assert '<span class="badge ok">Verified</span> +86*********21' in page
    assert "+8613987654321" not in page  # only masked on the page


def test_a_wrong_code_says_how_many_tries_are_left_and_verifies_nothing(user):
    client = web_login(user)
    client.post(VERIFY, {"action": "phone_send", "phone": "+8613812345678"})

    response = client.post(VERIFY, {"action": "phone_confirm", "code": "000000"})

    assert response.status_code == 400
    assert "Wrong code; 4 attempts left." in html(response)
    assert 'id="phone-code"' in html(response)  # still waiting for the right code
    user.refresh_from_db()
    assert not user.phone_verified and user.phone == ""


def test_a_badly_written_number_is_refused_with_the_format(user):
    client = web_login(user)

    response = client.post(VERIFY, {"action": "phone_send", "phone": "12345"})

    assert response.status_code == 400
    page = html(response)
    assert "Enter the number in international format" in page and 'value="12345"' in page
    assert not PhoneVerification.objects.exists() and SandboxSms.outbox == []


def test_asking_for_a_second_code_at_once_is_429_with_the_reason(user):
    client = web_login(user)
    client.post(VERIFY, {"action": "phone_cancel"})
    client.post(VERIFY, {"action": "phone_send", "phone": "+8613812345678"})
    client.post(VERIFY, {"action": "phone_cancel"})

    response = client.post(VERIFY, {"action": "phone_send", "phone": "+8613812345679"})

    assert response.status_code == 429
    assert "Wait a minute before asking for another code." in html(response)
    assert PhoneVerification.objects.filter(user=user).count() == 1


def test_confirming_without_a_code_sent_or_an_unknown_action_is_a_message(user):
    client = web_login(user)
    response = client.post(VERIFY, {"action": "phone_confirm", "code": "123456"})
    assert response.status_code == 409 and "Ask for a code first." in html(response)
    response = client.post(VERIFY, {"action": "explode"})
    assert response.status_code == 403 and "Unknown action." in html(response)


def test_someone_elses_phone_check_cannot_be_confirmed_from_my_session(
    user, other_user, django_capture_on_commit_callbacks
):
    mine = web_login(user)
    theirs = web_login(other_user)
    send_code(theirs, "+8613900000000", django_capture_on_commit_callbacks)
    their_check = PhoneVerification.objects.get(user=other_user)
    session = mine.session
    session["mkt_phone_check"] = str(their_check.pk)
    session.save()

    response = mine.post(VERIFY, {"action": "phone_confirm", "code": last_code("+8613900000000")})

    assert response.status_code == 404
    other_user.refresh_from_db()
    user.refresh_from_db()
    assert not other_user.phone_verified and not user.phone_verified


# --- identity ------------------------------------------------------------------------------


def test_identity_is_verified_by_the_sandbox_provider(user):
    client = web_login(user)
    response = client.post(VERIFY, {
        "action": "identity", "full_name": "Wang Fang", "document_type": "national_id",
        "document_number": "110101199003071234", "country": "cn",
    }, follow=True)
    user.refresh_from_db()
    assert user.identity_verified
    page = html(response)
    assert "Your identity is verified." in page
    assert 'data-testid="identity-status"><span class="badge ok">Verified' in page
    assert 'id="document_number"' not in page  # nothing more to do
    assert "110101199003071234" not in page


def test_a_rejected_document_shows_the_reason_and_can_be_tried_again(user):
    client = web_login(user)
    response = client.post(VERIFY, {
        "action": "identity", "full_name": "Wang Fang", "document_type": "passport",
        "document_number": "reject", "country": "CN",
    }, follow=True)
    user.refresh_from_db()
    assert not user.identity_verified
    page = html(response)
    assert "The document could not be verified." in page
    assert 'class="badge bad">Rejected' in page and 'id="document_number"' in page


def test_an_unknown_document_type_is_refused_and_nothing_is_recorded(user):
    client = web_login(user)
    response = client.post(VERIFY, {
        "action": "identity", "full_name": "Wang Fang", "document_type": "library_card",
        "document_number": "X1", "country": "CN",
    })
    assert response.status_code == 400 and 'data-testid="identity-error"' in html(response)
    assert not IdentityVerification.objects.exists()


def test_verification_page_speaks_chinese(user):
    client = web_login(user)
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    response = client.post(VERIFY, {"action": "phone_send", "phone": "12345"})
    page = html(response)
    assert "手机号码" in page and "未验证" in page
    assert "Enter the number in international format" not in page


# --- payouts -------------------------------------------------------------------------------


def test_payout_details_are_saved_after_the_password_and_shown_masked(user):
    client = web_login(user)
    assert 'data-testid="payout-none"' in html(client.get(PAYOUTS))

    response = client.post(PAYOUTS, {
        "method": "alipay", "account_name": "Wang Fang", "account_number": "wf@example.com",
        "password": TEST_PASSWORD,
    }, follow=True)

    saved = account_selectors.payout_details(user=User.objects.get(pk=user.pk))
    assert saved == {"method": "alipay", "account_name": "Wang Fang",
                     "account_number": "wf@example.com"}
    page = html(response)
    assert "Payout details saved." in page and "ending in .com" in page
    assert "wf@example.com" not in page  # masked: only the last four characters
    with connection.cursor() as cursor:  # the column itself, not the decrypting field
        cursor.execute("SELECT payout_details FROM accounts_user WHERE id = %s", [user.pk])
        raw = cursor.fetchone()[0]
    assert raw and "wf@example" not in raw  # encrypted at rest


def test_changing_payout_details_without_the_password_changes_nothing(user):
    client = web_login(user)
    client.post(PAYOUTS, {"method": "bank", "account_name": "Wang Fang",
                          "account_number": "6222020200001234", "password": TEST_PASSWORD})
    before = account_selectors.payout_details(user=User.objects.get(pk=user.pk))

    wrong = client.post(PAYOUTS, {"method": "paypal", "account_name": "Mallory",
                                  "account_number": "mallory@example.com",
                                  "password": "not-my-password"})

    assert wrong.status_code == 400 and "Wrong password or code." in html(wrong)
    assert account_selectors.payout_details(user=User.objects.get(pk=user.pk)) == before
    assert "ending in 1234" in html(wrong)


def test_bad_payout_input_is_a_message_not_a_500(user):
    client = web_login(user)
    for data in ({"method": "cash", "account_name": "W", "account_number": "12345678"},
                 {"method": "bank", "account_name": "", "account_number": "12345678"},
                 {"method": "bank", "account_name": "W", "account_number": "1 2"}):
        response = client.post(PAYOUTS, {**data, "password": TEST_PASSWORD})
        assert response.status_code == 400, data
        assert 'data-testid="page-error"' in html(response)
    assert account_selectors.payout_details(user=User.objects.get(pk=user.pk)) == {}


def test_balance_page_links_to_the_payout_details(user):
    page = html(web_login(user).get("/me/balance/"))
    assert f'href="{PAYOUTS}" data-testid="payout-details-link"' in page


def test_verification_and_payout_pages_need_login(client):
    for path in (VERIFY, PAYOUTS):
        response = client.get(path)
        assert response.status_code == 302 and "/login/" in response["Location"], path
        response = client.post(path, {"action": "phone_send", "phone": "+8613812345678"})
        assert response.status_code == 302 and "/login/" in response["Location"], path
    assert not PhoneVerification.objects.exists()
