"""Sessions and devices: list, end (web and API), new-device notices."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from marketplace.accounts.models import UserSession
from marketplace.notifications.models import Notification

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def api_login(user, password, *, ua=IPHONE, ip="192.168.1.20", device_id=None):
    client = APIClient()
    extra = {"HTTP_USER_AGENT": ua, "REMOTE_ADDR": ip}
    if device_id:
        extra["HTTP_X_DEVICE_ID"] = device_id
    body = client.post(
        "/api/auth/token", {"username": user.username, "password": password}, **extra
    ).json()
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    return client, body


def web_login(user, password, *, ua=FIREFOX, ip="127.0.0.1"):
    client = Client(HTTP_USER_AGENT=ua, REMOTE_ADDR=ip)
    response = client.post("/login/", {"username": user.username, "password": password})
    assert response.status_code == 302
    return client


def test_sessions_list_shows_device_place_and_which_is_current(user, password):
    web_login(user, password)
    phone, body = api_login(user, password)

    response = phone.get("/api/me/sessions")

    assert response.status_code == 200
    rows = {row["device"]: row for row in response.json()["results"]}
    assert set(rows) == {"Firefox on Windows", "Safari on iPhone"}
    assert rows["Safari on iPhone"]["current"] is True
    assert rows["Safari on iPhone"]["id"] == body["session_id"]
    assert rows["Safari on iPhone"]["place"] == "private network"
    assert rows["Firefox on Windows"]["place"] == "this computer"
    assert rows["Firefox on Windows"]["current"] is False
    assert rows["Firefox on Windows"]["kind"] == "web"


def test_api_token_is_stored_only_as_a_hash(user, password):
    _, body = api_login(user, password)

    session = UserSession.objects.get(id=body["session_id"])
    assert body["token"] not in (session.token_hash or "")
    assert len(session.token_hash) == 64


def test_ending_an_api_session_refuses_its_next_request(user, password):
    laptop, _ = api_login(user, password, ua=FIREFOX)
    phone, phone_body = api_login(user, password)

    assert laptop.delete(f"/api/me/sessions/{phone_body['session_id']}").status_code == 204

    assert phone.get("/api/me").status_code == 401
    assert laptop.get("/api/me").status_code == 200
    ids = [row["id"] for row in laptop.get("/api/me/sessions").json()["results"]]
    assert phone_body["session_id"] not in ids


def test_ending_a_web_session_logs_the_browser_out(user, password):
    browser = web_login(user, password)
    assert browser.get("/api/me").status_code == 200
    web_session = UserSession.objects.get(user=user, kind="web")
    phone, _ = api_login(user, password)

    assert phone.delete(f"/api/me/sessions/{web_session.id}").status_code == 204

    assert browser.get("/api/me").status_code in (401, 403)
    web_session.refresh_from_db()
    assert web_session.ended_at is not None


def test_someone_else_cannot_end_my_session(user, other_user, password):
    _, mine = api_login(user, password)
    other, _ = api_login(other_user, password)

    response = other.delete(f"/api/me/sessions/{mine['session_id']}")

    assert response.status_code == 404
    assert UserSession.objects.get(id=mine["session_id"]).ended_at is None
    assert all(
        row["id"] != mine["session_id"] for row in other.get("/api/me/sessions").json()["results"]
    )


def test_sessions_need_login(api_client):
    assert api_client.get("/api/me/sessions").status_code == 401


def test_logout_ends_only_the_current_session(user, password):
    laptop, _ = api_login(user, password, ua=FIREFOX)
    phone, phone_body = api_login(user, password)

    assert phone.post("/api/auth/logout").status_code == 204

    assert phone.get("/api/me").status_code == 401
    assert laptop.get("/api/me").status_code == 200


def test_login_from_a_new_device_notifies_the_user_but_a_known_one_does_not(user, password):
    _, first = api_login(user, password)  # the first login ever: nothing to warn about
    assert not Notification.objects.filter(recipient=user, kind="new_device_login").exists()

    api_login(user, password, device_id=first["device_id"])  # same phone again
    assert not Notification.objects.filter(recipient=user, kind="new_device_login").exists()

    _, other = api_login(user, password, ua=FIREFOX, ip="10.1.2.3")

    notice = Notification.objects.get(recipient=user, kind="new_device_login")
    assert notice.payload["device"] == "Firefox on Windows"
    assert notice.payload["session_id"] == other["session_id"]
    assert notice.payload["place"] == "private network"


def test_web_login_sets_a_device_cookie_that_makes_the_browser_known(user, password):
    browser = web_login(user, password)
    device_cookie = browser.cookies["mkt_device"].value
    browser.post("/logout/")
    browser.post("/login/", {"username": user.username, "password": password})

    devices = set(UserSession.objects.filter(user=user).values_list("device_id", flat=True))
    assert devices == {device_cookie}
    assert not Notification.objects.filter(recipient=user, kind="new_device_login").exists()


def test_plain_authtoken_tokens_become_listable_revocable_sessions(user, user_client):
    assert user_client.get("/api/me").status_code == 200
    rows = user_client.get("/api/me/sessions").json()["results"]
    assert len(rows) == 1 and rows[0]["current"]

    user_client.delete(f"/api/me/sessions/{rows[0]['id']}")

    assert user_client.get("/api/me").status_code == 401


def test_web_logout_ends_the_session_row(user, password):
    browser = web_login(user, password)
    row = UserSession.objects.get(user=user, kind="web")

    browser.post("/logout/")

    row.refresh_from_db()
    assert row.ended_at is not None
