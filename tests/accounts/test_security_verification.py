"""Personal data encrypted at rest; phone and identity verification; levels on
profiles; the payout identity rule."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from marketplace.accounts import selectors
from marketplace.accounts.models import IdentityVerification, PhoneVerification, TotpDevice
from marketplace.accounts.providers import SandboxSms
from marketplace.money import Money

pytestmark = pytest.mark.django_db

PHONE = "+8613812345678"


@pytest.fixture(autouse=True)
def _sandbox_outbox(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
    SandboxSms.outbox.clear()
    yield
    SandboxSms.outbox.clear()


def sent_code() -> str:
    return SandboxSms.outbox[-1]["text"].split("code is ")[1][:6]


def start_phone(client, django_capture_on_commit_callbacks, phone=PHONE):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/me/phone", {"phone": phone})
    return response


def raw(sql: str, *params) -> str:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def test_phone_verification_by_sms_code(user, user_client, django_capture_on_commit_callbacks):
    started = start_phone(user_client, django_capture_on_commit_callbacks, "+86 138-1234-5678")
    assert started.status_code == 202
    assert SandboxSms.outbox[-1]["to"] == PHONE

    response = user_client.post(
        "/api/me/phone/verify",
        {"verification_id": started.json()["verification_id"], "code": sent_code()},
    )

    assert response.status_code == 200
    assert response.json() == {"phone": "+86*********78", "phone_verified": True}
    user.refresh_from_db()
    assert user.phone == PHONE and user.phone_verified
    assert user_client.get("/api/me").json()["phone"] == "+86*********78"


def test_phone_code_allows_five_attempts_then_needs_a_new_code(
    user, user_client, django_capture_on_commit_callbacks
):
    started = start_phone(user_client, django_capture_on_commit_callbacks)
    vid = started.json()["verification_id"]
    right = sent_code()
    wrong = "000000" if right != "000000" else "111111"
    answers = [
        user_client.post("/api/me/phone/verify", {"verification_id": vid, "code": wrong})
        for _ in range(5)
    ]
    assert [a.status_code for a in answers] == [400] * 5
    assert answers[0].json()["code"] == ["Wrong code; 4 attempts left."]

    late = user_client.post("/api/me/phone/verify", {"verification_id": vid, "code": right})

    assert late.status_code == 409
    user.refresh_from_db()
    assert not user.phone_verified


def test_phone_code_expires_after_ten_minutes(
    user, user_client, django_capture_on_commit_callbacks
):
    vid = start_phone(user_client, django_capture_on_commit_callbacks).json()["verification_id"]
    PhoneVerification.objects.filter(id=vid).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = user_client.post(
        "/api/me/phone/verify", {"verification_id": vid, "code": sent_code()}
    )

    assert response.status_code == 400
    assert "expired" in response.json()["detail"]


def test_resending_is_limited(user, user_client, django_capture_on_commit_callbacks):
    assert start_phone(user_client, django_capture_on_commit_callbacks).status_code == 202
    too_soon = start_phone(user_client, django_capture_on_commit_callbacks)
    assert too_soon.status_code == 429
    assert int(too_soon.headers["Retry-After"]) > 0
    # Spread over the hour: five codes, then no more.
    PhoneVerification.objects.update(created_at=timezone.now() - timedelta(minutes=50))
    for _ in range(4):
        assert start_phone(user_client, django_capture_on_commit_callbacks).status_code == 202
        PhoneVerification.objects.filter(
            created_at__gt=timezone.now() - timedelta(minutes=1)
        ).update(created_at=timezone.now() - timedelta(minutes=2))

    sixth = start_phone(user_client, django_capture_on_commit_callbacks)

    assert sixth.status_code == 429
    assert sixth.json()["code"] == "too_many_codes"
    assert len(SandboxSms.outbox) == 5


def test_someone_elses_phone_verification_is_not_found(
    user_client, other_client, django_capture_on_commit_callbacks
):
    vid = start_phone(user_client, django_capture_on_commit_callbacks).json()["verification_id"]

    response = other_client.post(
        "/api/me/phone/verify", {"verification_id": vid, "code": sent_code()}
    )

    assert response.status_code == 404


def test_phone_number_and_identity_details_are_unreadable_in_the_raw_table(
    user, user_client, django_capture_on_commit_callbacks
):
    vid = start_phone(user_client, django_capture_on_commit_callbacks).json()["verification_id"]
    user_client.post("/api/me/phone/verify", {"verification_id": vid, "code": sent_code()})
    user_client.post(
        "/api/me/identity",
        {
            "full_name": "Mei Lin",
            "document_type": "passport",
            "document_number": "E12345678",
            "country": "CN",
        },
    )
    secret = user_client.post("/api/me/2fa/enrol").json()["secret"]

    stored_phone = raw("SELECT phone FROM accounts_user WHERE id = %s", user.id)
    stored_check = raw("SELECT phone FROM accounts_phoneverification WHERE id = %s", vid)
    details = raw("SELECT details FROM accounts_identityverification WHERE user_id = %s", user.id)
    stored_secret = raw("SELECT secret FROM accounts_totpdevice WHERE user_id = %s", user.id)

    for value in (stored_phone, stored_check, details, stored_secret):
        assert value.startswith("fernet:")
    assert "13812345678" not in stored_phone + stored_check
    assert "E12345678" not in details and "Mei Lin" not in details
    assert secret not in stored_secret
    # ...while the application reads plaintext.
    user.refresh_from_db()
    assert user.phone == PHONE
    assert json.loads(IdentityVerification.objects.get(user=user).details)["full_name"] == "Mei Lin"
    assert TotpDevice.objects.get(user=user).secret == secret


def test_identity_sandbox_approves_documents_and_rejects_the_magic_value(
    user, other_user, user_client, other_client
):
    body = {"full_name": "A B", "document_type": "national_id", "country": "CN"}
    approved = user_client.post("/api/me/identity", {**body, "document_number": "110101X"})
    rejected = other_client.post("/api/me/identity", {**body, "document_number": "reject"})

    assert approved.json()["status"] == "approved"
    assert rejected.json()["status"] == "rejected"
    user.refresh_from_db()
    other_user.refresh_from_db()
    assert user.identity_verified and not other_user.identity_verified


def test_bad_identity_input_is_400(user_client):
    response = user_client.post(
        "/api/me/identity",
        {
            "full_name": "A",
            "document_type": "library_card",
            "document_number": "1",
            "country": "CN",
        },
    )

    assert response.status_code == 400
    assert "document_type" in response.json()


def test_verification_levels_on_public_profile(api_client, user):
    before = api_client.get(f"/api/users/{user.id}").json()
    assert before["verification"] == {
        "email": False,
        "phone": False,
        "identity": False,
        "level": "none",
    }
    assert "reputation" in before and "username" in before  # existing fields kept
    user.email_verified_at = user.phone_verified_at = timezone.now()
    user.phone = PHONE
    user.save()

    after = api_client.get(f"/api/users/{user.id}").json()

    assert after["verification"]["phone"] is True
    assert after["verification"]["level"] == "phone"
    assert "phone" not in after  # never on the public profile


def test_payout_above_threshold_needs_verified_identity(user, settings):
    settings.PAYOUT_IDENTITY_THRESHOLD_MINOR = 100_000

    assert selectors.user_can_receive_payout(user, Money(100_000, "CNY"))
    assert not selectors.user_can_receive_payout(user, Money(100_001, "CNY"))
    user.identity_verified_at = timezone.now()
    assert selectors.user_can_receive_payout(user, 5_000_000)


def test_production_refuses_to_start_without_an_encryption_key():
    env = {k: v for k, v in os.environ.items() if k != "FIELD_ENCRYPTION_KEY"}
    env.update(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY="s" * 60,
        DATABASE_URL="postgres://h/db",
        DJANGO_ALLOWED_HOSTS="example.com",
    )
    result = subprocess.run(
        [sys.executable, "-c", "import marketplace.settings"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY" in result.stderr
