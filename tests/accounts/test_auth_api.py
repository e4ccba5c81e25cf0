"""Registration, tokens, /api/me and public profiles through the REST API."""

from __future__ import annotations

import pytest
from django.core import mail

from marketplace.accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=False)


def register(client, **overrides):
    body = {"username": "mei", "email": "mei@example.com", "password": "sturdy-Pass-42"}
    body.update(overrides)
    return client.post("/api/auth/register", body, format="json")


def test_register_creates_user_and_answers_id_and_username(api_client):
    response = register(api_client)

    assert response.status_code == 201, response.content
    user = User.objects.get(username="mei")
    assert response.json() == {"id": str(user.id), "username": "mei"}
    assert user.check_password("sturdy-Pass-42")
    assert not user.email_verified


def test_register_sends_verification_email_after_commit(
    api_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = register(api_client)

    assert response.status_code == 201
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["mei@example.com"]
    assert "/verify-email/" in mail.outbox[0].body


def test_verification_link_marks_email_verified(api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        register(api_client)
    link = next(line for line in mail.outbox[0].body.splitlines() if "/verify-email/" in line)
    token = link.rstrip("/").rsplit("/", 1)[1]

    response = api_client.post("/api/auth/verify-email", {"token": token}, format="json")

    assert response.status_code == 200
    assert response.json() == {"email_verified": True}
    assert User.objects.get(username="mei").email_verified


def test_tampered_verification_token_is_refused(api_client):
    response = api_client.post("/api/auth/verify-email", {"token": "abc:def"}, format="json")

    assert response.status_code == 400
    assert response.json()["token"] == ["This link is not valid."]


def test_duplicate_username_is_400_with_message_and_first_user_kept(api_client, user):
    response = register(api_client, username=user.username.upper(), email="new@example.com")

    assert response.status_code == 400
    body = response.json()
    assert body["username"] == ["A user with that username already exists."]
    assert body["code"] == "invalid"
    assert "username" in body["detail"]
    assert User.objects.filter(username__iexact=user.username).count() == 1


def test_duplicate_email_is_400(api_client, user):
    response = register(api_client, email=user.email.upper())

    assert response.status_code == 400
    assert response.json()["email"] == ["An account with this e-mail already exists."]


@pytest.mark.parametrize(
    ("password", "fragment"),
    [("short1", "too short"), ("password123", "too common"), ("8472619305", "entirely numeric")],
)
def test_weak_password_is_400_with_reason(api_client, password, fragment):
    response = register(api_client, password=password)

    assert response.status_code == 400
    assert any(fragment in message for message in response.json()["password"])
    assert not User.objects.filter(username="mei").exists()


def test_missing_fields_are_reported_per_field(api_client):
    response = api_client.post("/api/auth/register", {}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert set(body) >= {"username", "email", "password", "detail", "code"}


def test_malformed_json_is_400_not_500(api_client):
    response = api_client.post(
        "/api/auth/register", data='{"username": "x",', content_type="application/json"
    )

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_invalid_email_is_400(api_client):
    response = register(api_client, email="not-an-email")

    assert response.status_code == 400
    assert response.json()["email"] == ["Enter a valid e-mail address."]


def test_token_login_then_me(api_client, user, password):
    response = api_client.post(
        "/api/auth/token", {"username": user.username, "password": password}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = api_client.get("/api/me")

    assert me.status_code == 200
    assert me.json()["id"] == str(user.id)
    assert me.json()["email"] == user.email


def test_token_with_wrong_password_is_400(api_client, user):
    response = api_client.post(
        "/api/auth/token", {"username": user.username, "password": "wrong"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_login"
    assert "token" not in response.json()


def test_me_requires_login(api_client):
    response = api_client.get("/api/me")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_me_patch_updates_profile_fields_only(user_client, user):
    response = user_client.patch(
        "/api/me", {"display_name": "小美", "city": "杭州", "languages": ["zh-Hans"]}, format="json"
    )

    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.display_name, user.city, user.languages) == ("小美", "杭州", ["zh-Hans"])


def test_me_patch_ignores_nothing_silently_on_bad_languages(user_client, user):
    response = user_client.patch("/api/me", {"languages": "en"}, format="json")

    assert response.status_code == 400
    user.refresh_from_db()
    assert user.languages == []


def test_public_profile_has_reputation_and_hides_email(api_client, user):
    response = api_client.get(f"/api/users/{user.id}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(user.id)
    assert "email" not in body
    assert set(body["reputation"]) == {"score", "reviews", "completed_orders", "badges"}


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "1"])
def test_public_profile_of_unknown_or_malformed_id_is_404(api_client, db, bad_id):
    response = api_client.get(f"/api/users/{bad_id}")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_inactive_user_profile_is_404(api_client, db):
    ghost = UserFactory(is_active=False)

    assert api_client.get(f"/api/users/{ghost.id}").status_code == 404


def test_logout_revokes_token(user_client):
    assert user_client.post("/api/auth/logout").status_code == 204
    assert user_client.get("/api/me").status_code == 401
