"""Group commit and the lean socket: messages that arrive together are stored
in one statement with the same guarantees as one at a time (order, dedupe,
block check, outbox event), and an idle chat socket parks no task of its own."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import events, services
from chat.models import Message
from marketplace.errors import NotAllowed, ValidationFailed
from marketplace.outbox.models import OutboxEvent
from tests.chat.test_consumer import connect, receive_type, setup_conversation
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory


@pytest.fixture
def second_conversation(db, buyer):
    listing = ListingFactory(seller=UserFactory(), active=True, negotiable=True)
    conversation, _ = services.conversation_start(listing_id=listing.id, buyer=buyer)
    return conversation


@pytest.mark.django_db(transaction=True)
def test_a_batch_is_one_statement_numbered_in_arrival_order(
    buyer, seller, conversation, second_conversation
):
    items = [
        (conversation, buyer, "first", "c1"),
        (second_conversation, buyer, "elsewhere", "c2"),
        (conversation, seller, "second", "c3"),
        (conversation, buyer, "third", "c4"),
    ]

    with CaptureQueriesContext(connection) as queries:
        results = services.message_send_batch(items=items)

    # (Eager Celery in tests then delivers each outbox event at commit: more queries.)
    stores = [q["sql"] for q in queries.captured_queries if 'INTO "chat_message"' in q["sql"]]
    assert len(stores) == 1 and 'UPDATE "chat_conversation"' in stores[0]

    assert [created for _, created in results] == [True, True, True, True]
    stored = list(Message.objects.filter(conversation=conversation).order_by("seq"))
    assert [(m.seq, m.body, m.client_id) for m in stored] == [
        (1, "first", "c1"),
        (2, "second", "c3"),
        (3, "third", "c4"),
    ]
    assert [m.seq for m, _ in results] == [1, 1, 2, 3]
    assert Message.objects.get(conversation=second_conversation).seq == 1
    conversation.refresh_from_db()
    assert conversation.last_seq == 3
    payloads = OutboxEvent.objects.filter(topic=events.MESSAGE_SENT).values_list(
        "payload", flat=True
    )
    assert sorted((p["message_id"], p["seq"]) for p in payloads) == sorted(
        (str(m.id), m.seq) for m, _ in results
    )


@pytest.mark.django_db(transaction=True)
def test_a_retried_client_id_in_a_batch_returns_the_stored_message(
    buyer, conversation, second_conversation
):
    earlier, _ = services.message_send(
        conversation=conversation, sender=buyer, body="hello", client_id="r1", broadcast=False
    )

    results = services.message_send_batch(
        items=[
            (conversation, buyer, "hello", "r1"),  # a retry of a stored message
            (second_conversation, buyer, "new", "n1"),
            (second_conversation, buyer, "new", "n1"),  # the same retry twice in one batch
        ]
    )

    assert results[0] == (earlier, False)
    (fresh, created), (again, created_again) = results[1], results[2]
    assert created is True and created_again is False and again.id == fresh.id
    assert Message.objects.filter(conversation=conversation).count() == 1
    assert list(
        Message.objects.filter(conversation=second_conversation).values_list("seq", flat=True)
    ) == [1]


@pytest.mark.django_db(transaction=True)
def test_a_blocked_or_bad_item_fails_alone(buyer, seller, conversation, second_conversation):
    services.user_block(blocker=seller, blocked_id=buyer.pk)

    results = services.message_send_batch(
        items=[
            (conversation, buyer, "blocked", "b1"),
            (second_conversation, buyer, "   ", "b2"),
            (second_conversation, buyer, "fine", "b3"),
        ]
    )

    assert isinstance(results[0], NotAllowed) and results[0].code == "blocked"
    assert isinstance(results[1], ValidationFailed)
    message, created = results[2]
    assert created and message.body == "fine"
    assert not Message.objects.filter(conversation=conversation).exists()
    assert Message.objects.filter(conversation=second_conversation).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_batched_message_is_the_same_row_and_outbox_event_as_one_sent_alone(
    buyer, seller, conversation, second_conversation
):
    alone, _ = services.message_send(
        conversation=conversation, sender=seller, body="alone", client_id="a1", broadcast=False
    )
    results = services.message_send_batch(
        items=[
            (conversation, buyer, "batched", "b1"),
            (second_conversation, buyer, "other", "b2"),
        ]
    )
    batched, created = results[0]

    assert created and batched.sender == buyer and batched.pk is not None
    loaded = Message.objects.get(pk=batched.pk)
    fields = [f.attname for f in Message._meta.concrete_fields]
    assert {f: getattr(loaded, f) for f in fields} == {f: getattr(batched, f) for f in fields}
    assert (loaded.kind, loaded.body, loaded.client_id, loaded.seq) == ("text", "batched", "b1", 2)
    assert (loaded.data, loaded.image.name, loaded.offer_id) == ({}, "", None)

    def event_of(message):
        return OutboxEvent.objects.get(
            topic=events.MESSAGE_SENT, payload__message_id=str(message.id)
        )

    single, batch = event_of(alone), event_of(batched)
    assert single.payload == {
        "conversation_id": str(conversation.pk),
        "message_id": str(alone.id),
        "seq": 1,
        "sender_id": str(seller.pk),
        "recipient_id": str(buyer.pk),
        "listing_id": str(conversation.listing_id),
        "kind": "text",
    }
    assert batch.payload == {
        **single.payload,
        "message_id": str(batched.id),
        "seq": 2,
        "sender_id": str(buyer.pk),
        "recipient_id": str(seller.pk),
    }
    # Eager Celery in tests has delivered both at commit, the same way.
    assert (batch.topic, batch.attempts, batch.last_error) == (
        single.topic, single.attempts, single.last_error
    )
    assert batch.delivered_at is not None and single.delivered_at is not None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_batch_hands_its_outbox_events_to_a_real_worker_in_one_task(
    buyer, seller, conversation, second_conversation, celery_worker_on_shared_redis, monkeypatch
):
    import time

    from chat import outbox_batch
    from chat.tasks import deliver_events

    handed: list[int] = []
    original = deliver_events.apply_async

    def recording(*args, **kwargs):
        handed.append(len(kwargs["args"][0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(deliver_events, "apply_async", recording)
    monkeypatch.setattr(outbox_batch, "BATCH_WAIT", 0.5)

    results = services.message_send_batch(
        items=[(conversation, buyer, f"m{i}", f"w{i}") for i in range(3)]
        + [(second_conversation, buyer, "there", "w3")]
    )
    assert all(created for _, created in results)
    # Not eager: written as already enqueued, so the dispatcher leaves them alone.
    assert not OutboxEvent.objects.filter(topic=events.MESSAGE_SENT, enqueued_at__isnull=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and OutboxEvent.objects.filter(
        topic=events.MESSAGE_SENT, delivered_at__isnull=True
    ).exists():
        time.sleep(0.1)

    assert handed == [4]
    assert OutboxEvent.objects.filter(topic=events.MESSAGE_SENT).count() == 4
    assert not OutboxEvent.objects.filter(topic=events.MESSAGE_SENT, delivered_at__isnull=True)


pytestmark_async = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytestmark_async
async def test_messages_sent_together_by_many_sockets_are_all_stored_in_order():
    chats = [await setup_conversation() for _ in range(4)]
    sockets = []
    for conversation, buyer, seller, tokens in chats:
        buyer_ws = await connect(conversation.id, tokens[buyer.pk])
        seller_ws = await connect(conversation.id, tokens[seller.pk])
        await buyer_ws.send_json_to({"type": "sync", "after": None})
        await receive_type(buyer_ws, "synced")
        await seller_ws.send_json_to({"type": "sync", "after": None})
        await receive_type(seller_ws, "synced")
        sockets.append((conversation, buyer_ws, seller_ws))

    for round_ in range(3):  # every socket sends at once: they share batches
        await asyncio.gather(
            *(
                ws.send_json_to(
                    {"type": "message", "client_id": f"{i}-{round_}", "body": f"#{round_}"}
                )
                for i, (_, ws, _) in enumerate(sockets)
            )
        )
    for i, (conversation, _buyer_ws, seller_ws) in enumerate(sockets):
        heard = [(await receive_type(seller_ws, "message"))["message"] for _ in range(3)]
        assert [(m["body"], m["seq"], m["client_id"]) for m in heard] == [
            ("#0", 1, f"{i}-0"),
            ("#1", 2, f"{i}-1"),
            ("#2", 3, f"{i}-2"),
        ]
        stored = await database_sync_to_async(
            lambda c=conversation: list(
                Message.objects.filter(conversation=c).order_by("seq").values_list("body", "seq")
            )
        )()
        assert stored == [("#0", 1), ("#1", 2), ("#2", 3)]
    for _, buyer_ws, seller_ws in sockets:
        await buyer_ws.disconnect()
        await seller_ws.disconnect()


@pytestmark_async
async def test_an_idle_chat_socket_parks_no_task_of_its_own():
    conversation, buyer, seller, tokens = await setup_conversation()
    seller_ws = await connect(conversation.id, tokens[seller.pk])  # starts the layer's reader
    await seller_ws.send_json_to({"type": "sync", "after": None})
    await receive_type(seller_ws, "synced")
    await asyncio.sleep(0.1)
    before = asyncio.all_tasks()
    buyer_ws = await connect(conversation.id, tokens[buyer.pk])
    await buyer_ws.send_json_to({"type": "sync", "after": None})
    await receive_type(buyer_ws, "synced")
    await asyncio.sleep(0.1)

    # Only the task running the ASGI app (the communicator's) and the
    # login-session guard's watcher (marketplace.ws_auth), if it keeps one:
    # nothing for the chat consumer, where Channels' dispatch loop parks two.
    added = sorted(t.get_coro().__qualname__ for t in asyncio.all_tasks() - before)
    assert added in (
        ["ProtocolTypeRouter.__call__"],
        ["ProtocolTypeRouter.__call__", "SessionGuard.__call__.<locals>.watch"],
    )
    layer = get_channel_layer()._get_layer()
    local = [name for name in layer.channels if "local." in name]
    assert len(local) >= 2  # one per chat consumer (plus the guards', if they use them)
    subscribed = set().union(*(shard._subscribed_to for shard in layer._shards))
    assert not [name for name in subscribed if "local." in name]  # no Redis subscription
    await buyer_ws.disconnect()
    await seller_ws.disconnect()
    await asyncio.sleep(0.1)
    assert not [name for name in layer.channels if "local." in name]


@pytestmark_async
async def test_group_sends_of_one_tick_arrive_in_order_on_a_local_channel():
    layer = get_channel_layer()
    heard: list[dict] = []
    channel = layer.new_local_channel(heard.append)
    await layer.group_add("coalesced", channel)
    try:
        # Sent in the same event-loop tick: one pipeline to Redis (chat.layers._Shard).
        await asyncio.gather(
            *(layer.group_send("coalesced", {"type": "chat.test", "n": n}) for n in range(20))
        )
        for _ in range(100):
            if len(heard) == 20:
                break
            await asyncio.sleep(0.02)
        assert [event["n"] for event in heard] == list(range(20))
    finally:
        await layer.group_discard("coalesced", channel)
        layer.release_local_channel(channel)
