"""Registration, login and logout through the server-rendered pages."""

from __future__ import annotations

import pytest

from marketplace.accounts.models import User

pytestmark = pytest.mark.django_db


def test_home_page_renders_for_anonymous_visitors(client):
    response = client.get("/")

    assert response.status_code == 200
    assert b"Sign up" in response.content


def test_register_page_creates_account_and_logs_in(client):
    response = client.post(
        "/register/",
        {"username": "webby", "email": "webby@example.com", "password": "sturdy-Pass-42"},
        follow=True,
    )

    assert response.status_code == 200
    assert response.context["user"].username == "webby"
    assert b"webby" in response.content
    assert User.objects.filter(username="webby").exists()


def test_register_page_shows_field_errors_and_keeps_existing_user(client, user):
    response = client.post(
        "/register/",
        {"username": user.username, "email": "new@example.com", "password": "123"},
    )

    assert response.status_code == 400
    content = response.content.decode()
    assert "A user with that username already exists." in content
    assert "too short" in content
    assert User.objects.filter(username=user.username).count() == 1


def test_login_and_logout_with_the_session(client, user, password):
    response = client.post("/login/", {"username": user.username, "password": password})
    assert response.status_code == 302
    assert client.get("/api/me").json()["username"] == user.username

    client.post("/logout/")

    assert client.get("/api/me").status_code == 401


def test_login_with_wrong_password_shows_error(client, user):
    response = client.post("/login/", {"username": user.username, "password": "nope"})

    assert response.status_code == 200
    assert b"login-error" in response.content


def test_chinese_interface_is_selectable(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 200
    assert 'lang="zh-hans"' in response.content.decode()
