"""Failed-login throttling: per account and per IP, expiring exponential
lockouts, and no way for an attacker to keep the owner's own devices out."""

from __future__ import annotations

import pytest

from marketplace.accounts import throttle

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/auth/token"


def login(client, username, password, device_id=None, ip="203.0.113.7"):
    extra = {"REMOTE_ADDR": ip}
    if device_id:
        extra["HTTP_X_DEVICE_ID"] = device_id
    return client.post(
        TOKEN_URL, {"username": username, "password": password}, format="json", **extra
    )


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 5
    settings.LOGIN_FAILURES_PER_IP = 30
    settings.LOGIN_LOCKOUT_BASE = 30
    settings.LOGIN_LOCKOUT_MAX = 900
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}


def test_fifth_wrong_password_locks_the_account_with_429_and_retry_after(api_client, user):
    statuses = [login(api_client, user.username, "wrong").status_code for _ in range(5)]

    assert statuses == [400, 400, 400, 400, 429]
    response = login(api_client, user.username, "wrong")
    assert response.status_code == 429
    assert response.json()["code"] == "login_locked"
    assert "Too many failed login attempts" in response.json()["detail"]
    assert 0 < int(response.headers["Retry-After"]) <= 30


def test_locked_account_refuses_even_the_right_password_without_checking_it(
    api_client, user, password
):
    for _ in range(5):
        login(api_client, user.username, "wrong")

    response = login(api_client, user.username, password)

    assert response.status_code == 429
    assert "token" not in response.json()


def test_unknown_usernames_are_throttled_the_same_way(api_client):
    statuses = [login(api_client, "nobody-here", "x").status_code for _ in range(5)]

    assert statuses == [400, 400, 400, 400, 429]


def test_lockout_expires_and_doubles_each_time_up_to_the_cap(settings):
    scopes = [throttle.Scope(throttle.account_key("victim"), 2)]
    now = 1_000_000.0
    durations = []
    for _ in range(7):
        throttle.record_failure(scopes, now=now)
        wait = throttle.record_failure(scopes, now=now)
        durations.append(wait)
        assert throttle.locked_for(scopes, now=now + wait - 1) > 0
        now += wait + 0.5  # the lockout has expired
        assert throttle.locked_for(scopes, now=now) == 0

    assert durations == [30, 60, 120, 240, 480, 900, 900]


def test_successful_login_resets_the_account_counter(api_client, user, password):
    for _ in range(4):
        login(api_client, user.username, "wrong")
    assert login(api_client, user.username, password).status_code == 200

    statuses = [login(api_client, user.username, "wrong").status_code for _ in range(4)]

    assert statuses == [400, 400, 400, 400]


def test_attacker_failures_do_not_lock_out_the_owners_known_device(api_client, user, password):
    first = login(api_client, user.username, password, ip="198.51.100.1")
    device_id = first.json()["device_id"]
    # An attacker elsewhere hammers the account until it locks.
    for _ in range(6):
        login(api_client, user.username, "guess", ip="203.0.113.50")
    assert login(api_client, user.username, password, ip="203.0.113.50").status_code == 429

    owner = login(api_client, user.username, password, device_id=device_id, ip="198.51.100.1")

    assert owner.status_code == 200
    assert owner.json()["token"]


def test_failures_from_a_known_device_lock_that_device_only_for_a_while(api_client, user, password):
    device_id = login(api_client, user.username, password).json()["device_id"]
    statuses = [
        login(api_client, user.username, "typo", device_id=device_id).status_code for _ in range(5)
    ]
    assert statuses[-1] == 429

    # Another device is not affected by that device's lockout.
    assert login(api_client, user.username, password, ip="198.51.100.9").status_code == 200


def test_one_ip_trying_many_accounts_is_locked(api_client, settings):
    settings.LOGIN_FAILURES_PER_IP = 6
    statuses = [
        login(api_client, f"someone{i}", "x", ip="192.0.2.66").status_code for i in range(6)
    ]

    assert statuses == [400, 400, 400, 400, 400, 429]
    assert login(api_client, "someone-else", "x", ip="192.0.2.67").status_code == 400


def test_web_login_is_throttled_with_429_and_retry_after(client, user, password):
    for _ in range(4):
        response = client.post("/login/", {"username": user.username, "password": "nope"})
        assert response.status_code == 200
        assert b"login-error" in response.content

    locked = client.post("/login/", {"username": user.username, "password": "nope"})

    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert b"Too many failed login attempts" in locked.content
    again = client.post("/login/", {"username": user.username, "password": password})
    assert again.status_code == 429
    assert client.get("/api/me").status_code in (401, 403)


def test_admin_login_page_is_throttled_too(client, user, password):
    user.is_staff = True
    user.save()
    for _ in range(5):
        client.post("/admin/login/", {"username": user.username, "password": "nope"})

    client.post("/admin/login/?next=/admin/", {"username": user.username, "password": password})

    assert client.get("/api/me").status_code in (401, 403)  # locked: the right password failed
