"""TOTP two-factor login, recovery codes, moderators' obligation, step-up."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pyotp
import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from marketplace.accounts.models import RecoveryCode, TotpDevice, User, UserSession

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rate_throttles(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}


def code(secret: str, steps_ahead: int = 0) -> str:
    """A valid code; codes are single-use, so later calls in one test step ahead."""
    totp = pyotp.TOTP(secret)
    return totp.at(time.time() + steps_ahead * totp.interval)


def password_login(username: str, password: str) -> tuple[APIClient, dict]:
    client = APIClient()
    body = client.post("/api/auth/token", {"username": username, "password": password}).json()
    if "token" in body:
        client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    return client, body


def enrol(client: APIClient) -> tuple[str, list[str]]:
    started = client.post("/api/me/2fa/enrol").json()
    confirmed = client.post("/api/me/2fa/confirm", {"code": code(started["secret"])})
    assert confirmed.status_code == 200, confirmed.content
    return started["secret"], confirmed.json()["recovery_codes"]


def age_step_up(user: User) -> None:
    UserSession.objects.filter(user=user).update(
        stepped_up_at=timezone.now() - timedelta(minutes=11)
    )


def test_enrolment_gives_secret_uri_and_ten_hashed_recovery_codes(user, password):
    client, _ = password_login(user.username, password)
    started = client.post("/api/me/2fa/enrol").json()
    assert started["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={started['secret']}" in started["otpauth_uri"]
    assert client.get("/api/me/2fa").json()["enabled"] is False

    wrong = client.post("/api/me/2fa/confirm", {"code": "000000"})
    assert wrong.status_code == 400
    confirmed = client.post("/api/me/2fa/confirm", {"code": code(started["secret"])})

    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = set(RecoveryCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert len(stored) == 10 and not stored & set(codes)
    assert client.get("/api/me/2fa").json() == {
        "enabled": True,
        "required": False,
        "recovery_codes_left": 10,
    }


def test_login_with_2fa_needs_the_code_then_answers_a_token(user, password):
    client, _ = password_login(user.username, password)
    secret, _ = enrol(client)

    api = APIClient()
    first = api.post("/api/auth/token", {"username": user.username, "password": password})
    assert first.status_code == 200
    assert first.json()["two_factor_required"] is True
    assert "token" not in first.json()
    challenge = first.json()["challenge"]

    bad = api.post("/api/auth/2fa", {"challenge": challenge, "code": "123456"})
    assert bad.status_code == 400
    good = api.post("/api/auth/2fa", {"challenge": challenge, "code": code(secret, 1)})
    assert good.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Token {good.json()['token']}")
    assert api.get("/api/me").json()["username"] == user.username
    # The challenge is spent.
    again = api.post("/api/auth/2fa", {"challenge": challenge, "code": code(secret, 1)})
    assert again.status_code == 400


def test_a_totp_code_is_never_accepted_twice(user, password):
    client, _ = password_login(user.username, password)
    secret, _ = enrol(client)
    used = code(secret, 1)
    _, first = password_login(user.username, password)
    assert (
        APIClient()
        .post("/api/auth/2fa", {"challenge": first["challenge"], "code": used})
        .status_code
        == 200
    )

    _, second = password_login(user.username, password)
    replay = APIClient().post("/api/auth/2fa", {"challenge": second["challenge"], "code": used})

    assert replay.status_code == 400


def test_recovery_code_works_once(user, password):
    client, _ = password_login(user.username, password)
    _, codes = enrol(client)

    _, first = password_login(user.username, password)
    ok = APIClient().post("/api/auth/2fa", {"challenge": first["challenge"], "code": codes[0]})
    assert ok.status_code == 200
    _, second = password_login(user.username, password)
    reused = APIClient().post("/api/auth/2fa", {"challenge": second["challenge"], "code": codes[0]})

    assert reused.status_code == 400
    assert RecoveryCode.objects.filter(user=user, used_at__isnull=True).count() == 9


def test_five_wrong_codes_end_the_challenge(user, password, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 50
    client, _ = password_login(user.username, password)
    secret, _ = enrol(client)
    _, body = password_login(user.username, password)
    api = APIClient()
    for _ in range(5):
        assert (
            api.post(
                "/api/auth/2fa", {"challenge": body["challenge"], "code": "999999"}
            ).status_code
            == 400
        )

    late = api.post("/api/auth/2fa", {"challenge": body["challenge"], "code": code(secret, 1)})

    assert late.status_code == 400
    assert late.json()["code"] == "challenge_expired"


def test_wrong_codes_count_towards_the_account_lockout(user, password, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    client, _ = password_login(user.username, password)
    enrol(client)
    _, body = password_login(user.username, password)
    api = APIClient()
    statuses = [
        api.post("/api/auth/2fa", {"challenge": body["challenge"], "code": "999999"}).status_code
        for _ in range(3)
    ]

    assert statuses == [400, 400, 429]


@pytest.fixture
def moderator(user):
    user.groups.add(Group.objects.get_or_create(name="moderators")[0])
    return user


def test_moderator_cannot_get_a_token_without_2fa_but_can_enrol_during_login(moderator, password):
    api = APIClient()
    body = api.post(
        "/api/auth/token", {"username": moderator.username, "password": password}
    ).json()
    assert body["two_factor_required"] is True and body["enrolment_required"] is True
    assert "token" not in body
    # The challenge alone is no login.
    assert api.get("/api/me").status_code == 401

    secret = api.post("/api/auth/2fa/enrol", {"challenge": body["challenge"]}).json()["secret"]
    done = api.post("/api/auth/2fa", {"challenge": body["challenge"], "code": code(secret)})

    assert done.status_code == 200
    assert len(done.json()["recovery_codes"]) == 10
    assert TotpDevice.objects.get(user=moderator).confirmed_at is not None
    api.credentials(HTTP_AUTHORIZATION=f"Token {done.json()['token']}")
    status = api.get("/api/me/2fa").json()
    assert status["enabled"] is True and status["required"] is True


def test_moderator_cannot_turn_2fa_off(moderator, password):
    api = APIClient()
    body = api.post(
        "/api/auth/token", {"username": moderator.username, "password": password}
    ).json()
    secret = api.post("/api/auth/2fa/enrol", {"challenge": body["challenge"]}).json()["secret"]
    token = api.post(
        "/api/auth/2fa", {"challenge": body["challenge"], "code": code(secret)}
    ).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    response = api.delete("/api/me/2fa")

    assert response.status_code == 403
    assert TotpDevice.objects.filter(user=moderator, confirmed_at__isnull=False).exists()


def test_web_login_asks_for_the_code_as_a_second_step(user, password):
    client, _ = password_login(user.username, password)
    secret, _ = enrol(client)
    browser = Client()

    first = browser.post("/login/", {"username": user.username, "password": password})
    assert first.status_code == 200
    challenge = re.search(r'name="challenge" value="([^"]+)"', first.content.decode()).group(1)
    assert browser.get("/api/me").status_code in (401, 403)
    wrong = browser.post("/login/", {"challenge": challenge, "code": "000000"})
    assert wrong.status_code == 400
    done = browser.post("/login/", {"challenge": challenge, "code": code(secret, 1)})

    assert done.status_code == 302
    assert browser.get("/api/me").json()["username"] == user.username


def test_web_login_makes_a_moderator_enrol_first(moderator, password):
    browser = Client()
    page = browser.post("/login/", {"username": moderator.username, "password": password})
    html = page.content.decode()
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', html).group(1)
    challenge = re.search(r'name="challenge" value="([^"]+)"', html).group(1)

    done = browser.post("/login/", {"challenge": challenge, "enrol": "1", "code": code(secret)})

    assert done.status_code == 200
    assert b"recovery-codes" in done.content
    assert browser.get("/api/me").json()["username"] == moderator.username


# --- step-up -----------------------------------------------------------------------------


def test_email_change_needs_a_recent_step_up(user, password):
    client, _ = password_login(user.username, password)
    age_step_up(user)

    refused = client.post("/api/me/email", {"email": "new@example.com"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "step_up_required"
    user.refresh_from_db()
    assert user.email != "new@example.com"

    assert client.post("/api/me/step-up", {"password": "wrong"}).status_code == 400
    assert client.post("/api/me/step-up", {"password": password}).status_code == 200
    changed = client.post("/api/me/email", {"email": "new@example.com"})

    assert changed.status_code == 200
    user.refresh_from_db()
    assert user.email == "new@example.com" and not user.email_verified


def test_step_up_with_a_totp_code(user, password):
    client, _ = password_login(user.username, password)
    secret, _ = enrol(client)
    age_step_up(user)
    assert client.delete("/api/me/2fa").status_code == 403

    assert client.post("/api/me/step-up", {"code": code(secret, 1)}).status_code == 200
    assert client.delete("/api/me/2fa").status_code == 204

    assert not TotpDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.filter(user=user).exists()


def test_password_change_needs_step_up_and_ends_other_sessions(user, password):
    laptop, _ = password_login(user.username, password)
    phone, _ = password_login(user.username, password)
    age_step_up(user)
    assert laptop.post("/api/me/password", {"new_password": "new-Sturdy-77"}).status_code == 403
    user.refresh_from_db()
    assert user.check_password(password)

    laptop.post("/api/me/step-up", {"password": password})
    assert laptop.post("/api/me/password", {"new_password": "new-Sturdy-77"}).status_code == 204

    user.refresh_from_db()
    assert user.check_password("new-Sturdy-77")
    assert laptop.get("/api/me").status_code == 200
    assert phone.get("/api/me").status_code == 401


def test_payout_details_need_step_up_and_are_shown_masked(user, password):
    client, _ = password_login(user.username, password)
    age_step_up(user)
    details = {"method": "bank", "account_name": "Mei Lin", "account_number": "6222020012345678"}
    assert client.put("/api/me/payout-details", details).status_code == 403

    client.post("/api/me/step-up", {"password": password})
    response = client.put("/api/me/payout-details", details)

    assert response.status_code == 200
    assert response.json() == {
        "method": "bank",
        "account_name": "Mei Lin",
        "account_number_last4": "5678",
    }
    assert "6222020012345678" not in client.get("/api/me/payout-details").content.decode()


def test_a_fresh_login_counts_as_step_up(user, password):
    client, _ = password_login(user.username, password)

    assert client.post("/api/me/email", {"email": "fresh@example.com"}).status_code == 200


def test_admin_login_page_cannot_skip_the_second_factor(user, password):
    user.is_staff = True
    user.save()
    client, _ = password_login(user.username, password)
    secret, _ = enrol(client)
    browser = Client()

    browser.post("/admin/login/?next=/admin/", {"username": user.username, "password": password})
    assert browser.get("/api/me").status_code in (401, 403)

    # The site's login with the code gives a session the admin accepts.
    page = browser.post("/login/", {"username": user.username, "password": password})
    challenge = re.search(r'name="challenge" value="([^"]+)"', page.content.decode()).group(1)
    browser.post("/login/", {"challenge": challenge, "code": code(secret, 1)})
    assert browser.get("/admin/").status_code == 200
