"""Notifications from chat: an absent recipient hears of a message (once per
unread burst), offers notify the other party, and message checks run from the
outbox event after commit."""

from __future__ import annotations

import pytest

from chat import presence, services
from chat.models import SafetySignal
from marketplace.notifications.models import Notification
from tests.conftest import client_for
from tests.listings.factories import ListingFactory

pytestmark = pytest.mark.django_db


def post_message(user, conversation, body, capture):
    with capture(execute=True):
        response = client_for(user).post(
            f"/api/conversations/{conversation.id}/messages", {"body": body}, format="json"
        )
    assert response.status_code == 201, response.content
    return response.json()


def test_absent_recipient_gets_a_chat_notification_grouped_by_conversation(
    buyer, seller, conversation, django_capture_on_commit_callbacks
):
    message = post_message(
        buyer, conversation, "Is it still available?", django_capture_on_commit_callbacks
    )

    note = Notification.objects.get(recipient=seller)
    assert note.kind == "chat_message"
    assert note.payload["group"] == f"conversation:{conversation.id}"
    assert note.payload["message_id"] == message["id"]
    assert note.payload["listing_title"] == "Vintage road bike"
    assert note.link == f"/inbox/{conversation.id}/"
    assert not Notification.objects.filter(recipient=buyer).exists()


def test_recipient_with_a_live_socket_in_the_conversation_is_not_notified(
    buyer, seller, conversation, django_capture_on_commit_callbacks
):
    presence.connected(conversation.pk, seller.pk)
    try:
        post_message(buyer, conversation, "hello", django_capture_on_commit_callbacks)
    finally:
        presence.disconnected(conversation.pk, seller.pk)

    assert not Notification.objects.filter(recipient=seller).exists()
    assert not presence.is_present(conversation.pk, seller.pk)


def test_a_socket_in_another_conversation_does_not_count_as_present(
    buyer, seller, conversation, django_capture_on_commit_callbacks
):
    other_listing = ListingFactory(seller=seller, active=True)
    other, _ = services.conversation_start(listing_id=other_listing.id, buyer=buyer)
    presence.connected(other.pk, seller.pk)
    try:
        post_message(buyer, conversation, "hello", django_capture_on_commit_callbacks)
    finally:
        presence.disconnected(other.pk, seller.pk)

    assert Notification.objects.filter(recipient=seller, kind="chat_message").count() == 1


def test_reading_starts_a_new_burst(
    buyer, seller, conversation, django_capture_on_commit_callbacks
):
    first = post_message(buyer, conversation, "one", django_capture_on_commit_callbacks)
    post_message(buyer, conversation, "two", django_capture_on_commit_callbacks)
    services.read_mark(conversation=conversation, user=seller, up_to=first["id"])
    post_message(buyer, conversation, "three", django_capture_on_commit_callbacks)

    assert Notification.objects.filter(recipient=seller, kind="chat_message").count() == 2


def offer_call(user, url, capture, amount=None):
    with capture(execute=True):
        response = client_for(user).post(
            url, {"amount_minor": amount} if amount else {}, format="json"
        )
    assert response.status_code in (200, 201), response.content
    return response.json()


def test_offers_notify_the_other_party_at_every_step(
    buyer, seller, conversation, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    offer = offer_call(buyer, f"/api/conversations/{conversation.id}/offers", capture, 70_000)
    made = Notification.objects.get(kind="offer_made")
    assert made.recipient == seller
    assert made.payload["offer_id"] == offer["id"]
    assert made.payload["amount"] == {"amount_minor": 70_000, "currency": "CNY"}
    assert made.payload["group"] == f"conversation:{conversation.id}"

    counter = offer_call(seller, f"/api/offers/{offer['id']}/counter", capture, 90_000)
    assert Notification.objects.get(kind="offer_countered").recipient == buyer

    offer_call(buyer, f"/api/offers/{counter['id']}/accept", capture)
    accepted = Notification.objects.get(kind="offer_accepted")
    assert accepted.recipient == seller
    assert accepted.payload["status"] == "accepted"


def test_declined_offer_notifies_the_buyer_only(
    buyer, seller, conversation, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    offer = offer_call(buyer, f"/api/conversations/{conversation.id}/offers", capture, 60_000)

    offer_call(seller, f"/api/offers/{offer['id']}/decline", capture)

    declined = Notification.objects.get(kind="offer_declined")
    assert declined.recipient == buyer
    assert not Notification.objects.filter(recipient=seller, kind="offer_declined").exists()


def test_message_checks_run_after_commit_and_flag_the_stored_message(
    buyer, seller, conversation, django_capture_on_commit_callbacks
):
    message = post_message(
        seller,
        conversation,
        "Add me on WhatsApp and pay by bank transfer",
        django_capture_on_commit_callbacks,
    )

    signal = SafetySignal.objects.get(message_id=message["id"])
    assert "off_platform_payment" in signal.reasons
    # Delivered twice (an outbox retry), the checks record nothing new.
    assert services.message_checks_run(message_id=message["id"]) == []
    assert SafetySignal.objects.filter(message_id=message["id"]).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_message_events_reach_a_real_worker_in_one_batch(
    buyer, seller, listing, celery_worker_on_shared_redis, monkeypatch
):
    import time

    from chat import outbox_batch
    from chat.tasks import deliver_events
    from marketplace.outbox.models import OutboxEvent

    conversation, _ = services.conversation_start(listing_id=listing.id, buyer=buyer)
    batches = []
    original = deliver_events.apply_async

    def recording(*args, **kwargs):
        batches.append(len(kwargs["args"][0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(deliver_events, "apply_async", recording)
    monkeypatch.setattr(outbox_batch, "BATCH_WAIT", 0.5)

    for i in range(3):
        services.message_send(conversation=conversation, sender=buyer, body=f"m{i}")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not OutboxEvent.objects.filter(
            topic="chat.message_sent", delivered_at__isnull=True
        ).exists():
            break
        time.sleep(0.1)

    assert batches == [3]
    assert OutboxEvent.objects.filter(topic="chat.message_sent").count() == 3
    assert not OutboxEvent.objects.filter(delivered_at__isnull=True, topic="chat.message_sent")
    assert Notification.objects.filter(recipient=seller, kind="chat_message").count() == 1


def test_storing_a_message_is_one_statement_and_a_retry_one_more_lookup(
    buyer, conversation, django_assert_num_queries
):
    # On PostgreSQL the CTE numbers, inserts and writes the outbox event in one
    # statement; outside a transaction (the socket's case) that is the only
    # round trip. Inside this test's transaction it takes a savepoint pair.
    with django_assert_num_queries(3):  # SAVEPOINT, the statement, RELEASE
        message, created = services.message_send(
            conversation=conversation, sender=buyer, body="hi", client_id="k1"
        )
    assert created and message.seq == 1
    # SAVEPOINT, the failing statement, ROLLBACK TO, RELEASE, the stored copy
    with django_assert_num_queries(5):
        again, created_again = services.message_send(
            conversation=conversation, sender=buyer, body="hi", client_id="k1"
        )
    assert not created_again and again.id == message.id
