"""The notifications REST API: list with unread count, mark read, preferences."""

from __future__ import annotations

import pytest

from marketplace.notifications import services
from marketplace.notifications.models import Notification, NotificationPreference
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def _make(user, n, kind="price_drop"):
    return [
        services.notify(recipient=user, kind=kind, payload={"title": f"T{i}"}, link=f"/l/{i}/")
        for i in range(n)
    ]


def test_list_is_paginated_newest_first_with_unread_count(alice, bob):
    made = _make(alice, 25)
    _make(bob, 2)
    services.notifications_mark_read(recipient=alice, notification_ids=[made[0].pk])
    client = client_for(alice)

    first = client.get("/api/me/notifications").json()
    assert first["count"] == 25
    assert first["unread_count"] == 24
    assert len(first["results"]) == 20
    assert first["results"][0]["id"] == str(made[-1].pk)
    assert first["results"][0] == {
        "id": str(made[-1].pk),
        "kind": "price_drop",
        "payload": {"title": "T24"},
        "link": "/l/24/",
        "created_at": first["results"][0]["created_at"],
        "read_at": None,
        "is_read": False,
    }
    second = client.get(first["next"]).json()
    assert [r["id"] for r in second["results"]][-1] == str(made[0].pk)
    assert second["results"][-1]["is_read"] is True
    assert second["next"] is None

    unread = client.get("/api/me/notifications?unread=1").json()
    assert unread["count"] == 24


def test_list_query_count_does_not_grow_with_page_size(alice, django_assert_max_num_queries):
    _make(alice, 30)
    client = client_for(alice)
    client.get("/api/me/notifications")  # warm the token lookup path
    with django_assert_max_num_queries(5):
        response = client.get("/api/me/notifications?page_size=30")
    assert len(response.json()["results"]) == 30


def test_anonymous_is_refused(api_client):
    assert api_client.get("/api/me/notifications").status_code == 401
    assert api_client.post("/api/me/notifications/read-all").status_code == 401
    assert api_client.get("/api/me/notification-preferences").status_code == 401


def test_mark_one_read(alice):
    (notification,) = _make(alice, 1)
    response = client_for(alice).post(f"/api/me/notifications/{notification.pk}/read")
    assert response.status_code == 200
    assert response.json()["is_read"] is True and response.json()["read_at"]
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_someone_elses_notification_is_not_found_and_stays_unread(alice, bob):
    (notification,) = _make(alice, 1)
    response = client_for(bob).post(f"/api/me/notifications/{notification.pk}/read")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    notification.refresh_from_db()
    assert notification.read_at is None


@pytest.mark.parametrize("bad_id", ["nope", "00000000-0000-0000-0000-000000000000"])
def test_unknown_ids_are_not_found(alice, bad_id):
    assert client_for(alice).post(f"/api/me/notifications/{bad_id}/read").status_code == 404


def test_read_all_marks_only_the_callers(alice, bob):
    _make(alice, 3)
    _make(bob, 2)
    response = client_for(alice).post("/api/me/notifications/read-all")
    assert response.json() == {"marked": 3, "unread_count": 0}
    assert Notification.objects.filter(recipient=bob, read_at__isnull=True).count() == 2


def test_preferences_have_sensible_defaults(alice):
    prefs = client_for(alice).get("/api/me/notification-preferences").json()
    assert prefs["chat_message"] == "immediately"
    assert prefs["offer"] == "immediately"
    assert prefs["order"] == "immediately"
    assert prefs["saved_search_match"] == "daily"
    assert prefs["reviews_revealed"] == "daily"


def test_patch_preferences(alice, bob):
    client = client_for(alice)
    response = client.patch(
        "/api/me/notification-preferences",
        {"saved_search_match": "never", "price_drop": "daily"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["saved_search_match"] == "never"
    assert response.json()["price_drop"] == "daily"
    assert response.json()["chat_message"] == "immediately"
    assert client.get("/api/me/notification-preferences").json()["price_drop"] == "daily"
    assert services.preferences_for(user=bob)["price_drop"] == "immediately"  # not bob's

    everything = client.patch("/api/me/notification-preferences", {"*": "never"}, format="json")
    assert set(everything.json().values()) == {"never"}


@pytest.mark.parametrize(
    "body",
    [{"chat_message": "hourly"}, {"no_such_kind": "daily"}, {}, ["daily"]],
)
def test_bad_preferences_are_refused_and_nothing_changes(alice, body):
    response = client_for(alice).patch("/api/me/notification-preferences", body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"]
    assert not NotificationPreference.objects.filter(user=alice).exists()


def test_endpoints_are_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    for path in (
        "/api/me/notifications",
        "/api/me/notifications/{notification_id}/read",
        "/api/me/notifications/read-all",
        "/api/me/notification-preferences",
    ):
        assert path in schema["paths"], path
