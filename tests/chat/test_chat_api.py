"""Conversations and messages through the REST API (the socket's fallback)."""

from __future__ import annotations

import pytest

from chat.models import Conversation, Message, SafetySignal
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory

pytestmark = pytest.mark.django_db


def test_starting_a_conversation_twice_returns_the_same_one(buyer, listing):
    client = client_for(buyer)

    first = client.post("/api/conversations", {"listing": str(listing.id)}, format="json")
    second = client.post("/api/conversations", {"listing": str(listing.id)}, format="json")

    assert first.status_code == 201
    assert second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["seller"]["id"] == str(listing.seller_id)
    assert Conversation.objects.count() == 1


def test_seller_cannot_chat_with_themselves(seller, listing):
    response = client_for(seller).post(
        "/api/conversations", {"listing": str(listing.id)}, format="json"
    )

    assert response.status_code == 400
    assert Conversation.objects.count() == 0


def test_conversation_about_a_hidden_listing_is_404(buyer):
    draft = ListingFactory(status="draft")

    response = client_for(buyer).post(
        "/api/conversations", {"listing": str(draft.id)}, format="json"
    )

    assert response.status_code == 404


def test_message_is_stored_and_a_retry_with_the_same_client_id_does_not_duplicate(
    buyer, conversation
):
    client = client_for(buyer)
    url = f"/api/conversations/{conversation.id}/messages"

    first = client.post(url, {"client_id": "c-1", "body": "Is it still available?"}, format="json")
    retry = client.post(url, {"client_id": "c-1", "body": "Is it still available?"}, format="json")

    assert first.status_code == 201
    assert retry.status_code == 200
    assert retry.json()["id"] == first.json()["id"]
    assert Message.objects.filter(conversation=conversation).count() == 1
    body = first.json()
    assert body["seq"] == 1 and body["sender"] == str(buyer.id) and body["kind"] == "text"


def test_messages_after_an_id_returns_exactly_the_missed_ones_in_order(buyer, seller, conversation):
    buyer_client, seller_client = client_for(buyer), client_for(seller)
    url = f"/api/conversations/{conversation.id}/messages"
    sent = []
    for i in range(5):
        client = buyer_client if i % 2 == 0 else seller_client
        sent.append(
            client.post(url, {"client_id": f"m{i}", "body": f"msg {i}"}, format="json").json()["id"]
        )

    response = seller_client.get(url, {"after": sent[1]})

    assert response.status_code == 200
    assert [m["id"] for m in response.json()["results"]] == sent[2:]
    assert [m["body"] for m in response.json()["results"]] == ["msg 2", "msg 3", "msg 4"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body": ""}, "body"),
        ({"body": "x" * 2001}, "body"),
        ({}, "body"),
        ({"body": "hi", "client_id": "x" * 65}, "client_id"),
    ],
)
def test_bad_messages_are_400_and_nothing_is_stored(buyer, conversation, body, field):
    response = client_for(buyer).post(
        f"/api/conversations/{conversation.id}/messages", body, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()
    assert Message.objects.count() == 0


def test_outsiders_cannot_see_or_write_a_conversation(conversation, db):
    outsider = client_for(UserFactory())
    base = f"/api/conversations/{conversation.id}"

    assert outsider.get(base).status_code == 404
    assert outsider.get(f"{base}/messages").status_code == 404
    assert outsider.post(f"{base}/messages", {"body": "hi"}, format="json").status_code == 404
    assert outsider.post(f"{base}/offers", {"amount_minor": 1}, format="json").status_code == 404
    assert outsider.get("/api/conversations").json()["results"] == []
    assert Message.objects.count() == 0


def test_anonymous_is_401(api_client, conversation):
    assert api_client.get("/api/conversations").status_code == 401
    assert api_client.get(f"/api/conversations/{conversation.id}/messages").status_code == 401


def test_blocked_user_cannot_send(buyer, seller, conversation):
    assert client_for(seller).post(f"/api/users/{buyer.id}/block").status_code == 204

    response = client_for(buyer).post(
        f"/api/conversations/{conversation.id}/messages", {"body": "hello?"}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "blocked"
    assert Message.objects.count() == 0
    client_for(seller).delete(f"/api/users/{buyer.id}/block")
    assert (
        client_for(buyer)
        .post(f"/api/conversations/{conversation.id}/messages", {"body": "hello?"}, format="json")
        .status_code
        == 201
    )


def test_off_platform_payment_is_flagged_and_recorded(
    buyer, seller, conversation, django_capture_on_commit_callbacks
):
    # The checks run from the outbox event after commit (in the worker), so
    # the socket server never waits for the fraud model.
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(seller).post(
            f"/api/conversations/{conversation.id}/messages",
            {"body": "Pay me by bank transfer, my number is 138 0013 8000"},
            format="json",
        )

    assert response.status_code == 201
    (signal,) = SafetySignal.objects.all()
    assert set(signal.reasons) == {"off_platform_payment", "phone_number"}


def test_unread_count_and_read_marker(buyer, seller, conversation):
    seller_client = client_for(seller)
    url = f"/api/conversations/{conversation.id}/messages"
    ids = [
        client_for(buyer).post(url, {"body": f"m{i}"}, format="json").json()["id"] for i in range(3)
    ]

    assert seller_client.get(f"/api/conversations/{conversation.id}").json()["unread"] == 3
    read = seller_client.post(
        f"/api/conversations/{conversation.id}/read", {"up_to": ids[1]}, format="json"
    )
    assert read.json() == {"last_read_seq": 2}
    assert seller_client.get(f"/api/conversations/{conversation.id}").json()["unread"] == 1
    # Markers never move back.
    seller_client.post(
        f"/api/conversations/{conversation.id}/read", {"up_to": ids[0]}, format="json"
    )
    assert seller_client.get(f"/api/conversations/{conversation.id}").json()["unread"] == 1


def test_rest_message_rate_limit_is_429(buyer, conversation, settings):
    settings.CHAT_MESSAGE_RATE = (3, 60)
    client = client_for(buyer)
    url = f"/api/conversations/{conversation.id}/messages"

    statuses = [
        client.post(url, {"body": f"spam {i}"}, format="json").status_code for i in range(4)
    ]

    assert statuses == [201, 201, 201, 429]
    assert Message.objects.count() == 3


def test_offline_recipient_gets_one_notification_per_unread_burst(
    buyer, seller, conversation, django_capture_on_commit_callbacks
):
    from marketplace.notifications.models import Notification

    client = client_for(buyer)
    url = f"/api/conversations/{conversation.id}/messages"
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(5):
            client.post(url, {"body": f"hello {i}"}, format="json")

    assert Notification.objects.filter(recipient=seller, kind="chat_message").count() == 1
    assert not Notification.objects.filter(recipient=buyer).exists()


def test_image_message_strips_metadata(buyer, conversation, s3_storage):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.listings.images import jpeg_with_gps

    upload = SimpleUploadedFile("p.jpg", jpeg_with_gps(), content_type="image/jpeg")
    response = client_for(buyer).post(
        f"/api/conversations/{conversation.id}/images",
        {"image": upload},
        format="multipart",
    )

    assert response.status_code == 201, response.content
    message = Message.objects.get()
    assert message.kind == "image" and message.image.name.startswith("chat/")
    from PIL import Image

    with message.image.open("rb") as stored:
        assert not Image.open(stored).getexif()
