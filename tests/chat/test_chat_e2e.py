"""End to end: real Daphne processes, a real websocket client, Redis between them."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from channels.db import database_sync_to_async
from rest_framework.authtoken.models import Token

from chat import services
from chat.models import Message
from tests.conftest import start_daphne
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ORIGIN = "http://127.0.0.1"


@pytest.fixture(scope="module")
def second_daphne(django_db_setup):
    server = start_daphne()
    yield server
    server.proc.terminate()
    server.proc.wait(timeout=10)


@database_sync_to_async
def make_chat():
    seller, buyer = UserFactory(), UserFactory()
    listing = ListingFactory(seller=seller, active=True, negotiable=True)
    conversation, _ = services.conversation_start(listing_id=listing.id, buyer=buyer)
    return (
        conversation,
        Token.objects.create(user=buyer).key,
        Token.objects.create(user=seller).key,
    )


async def open_socket(server, conversation_id, token):
    return await websockets.connect(
        f"{server.ws_url}/ws/chat/{conversation_id}/?token={token}", origin=ORIGIN, open_timeout=10
    )


async def next_of(ws, kind, timeout=15.0):
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] == kind:
            return frame


async def test_messages_cross_between_two_daphne_processes(daphne_server, second_daphne):
    conversation, buyer_token, seller_token = await make_chat()
    buyer = await open_socket(daphne_server, conversation.id, buyer_token)
    seller = await open_socket(second_daphne, conversation.id, seller_token)
    try:
        await buyer.send(
            json.dumps({"type": "message", "client_id": "x1", "body": "你好, still available?"})
        )
        received = await next_of(seller, "message")
        assert received["message"]["body"] == "你好, still available?"

        await seller.send(json.dumps({"type": "message", "client_id": "y1", "body": "Yes!"}))
        while (await next_of(buyer, "message"))["message"]["body"] != "Yes!":
            pass  # the buyer's own echo of its first message comes first
        stored = await database_sync_to_async(
            lambda: list(
                Message.objects.filter(conversation=conversation)
                .order_by("seq")
                .values_list("body", flat=True)
            )
        )()
        assert stored == ["你好, still available?", "Yes!"]
    finally:
        await buyer.close()
        await seller.close()


async def test_outsider_is_refused_by_the_real_server(daphne_server):
    conversation, _, _ = await make_chat()
    outsider_token = await database_sync_to_async(
        lambda: Token.objects.create(user=UserFactory()).key
    )()

    ws = await open_socket(daphne_server, conversation.id, outsider_token)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.send(json.dumps({"type": "message", "body": "let me in"}))
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd.code == 4403
    assert await database_sync_to_async(Message.objects.count)() == 0


async def test_reconnect_catches_up_from_the_database(daphne_server):
    conversation, buyer_token, seller_token = await make_chat()
    seller = await open_socket(daphne_server, conversation.id, seller_token)
    buyer = await open_socket(daphne_server, conversation.id, buyer_token)
    await buyer.send(json.dumps({"type": "message", "body": "first"}))
    last = (await next_of(seller, "message"))["message"]["id"]
    await seller.close()
    for i in range(3):
        await buyer.send(
            json.dumps({"type": "message", "client_id": f"c{i}", "body": f"while away {i}"})
        )
        await next_of(buyer, "message")

    seller = await open_socket(daphne_server, conversation.id, seller_token)
    await seller.send(json.dumps({"type": "sync", "after": last}))
    # A broadcast still in flight when the socket rejoined may also arrive
    # live: delivery is at least once, and clients keep one copy per id.
    received: dict[str, dict] = {}
    while True:
        frame = json.loads(await asyncio.wait_for(seller.recv(), 5))
        if frame["type"] == "synced":
            break
        if frame["type"] == "message":
            received.setdefault(frame["message"]["id"], frame["message"])
    await seller.close()
    await buyer.close()
    assert frame["count"] == 3  # the catch-up itself is exactly the missed ones
    in_order = sorted(received.values(), key=lambda m: m["seq"])
    assert [m["body"] for m in in_order] == ["while away 0", "while away 1", "while away 2"]


async def connect_with_backoff(server, conversation_id, token, *, attempts=40):
    """What clients do: reconnect with jittered exponential backoff."""
    import random

    delay = 0.05
    for _ in range(attempts):
        try:
            return await open_socket(server, conversation_id, token)
        except (OSError, websockets.InvalidStatus, websockets.InvalidHandshake, TimeoutError):
            await asyncio.sleep(delay + random.uniform(0, delay))  # noqa: S311
            delay = min(delay * 2, 1.0)
    raise AssertionError("could not reconnect")


async def catch_up_with_backoff(server, conversation_id, token, last_seen, *, attempts=10):
    """Reconnect and sync; a socket dropped mid-sync is simply retried."""
    for _ in range(attempts):
        ws = await connect_with_backoff(server, conversation_id, token)
        try:
            await ws.send(json.dumps({"type": "sync", "after": last_seen}))
            bodies = []
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if frame["type"] == "synced":
                    return bodies
                if frame["type"] == "message":
                    bodies.append(frame["message"]["body"])
        except websockets.ConnectionClosed:
            await asyncio.sleep(0.1)
        finally:
            await ws.close()
    raise AssertionError("could not catch up")


async def test_redis_dying_closes_sockets_and_clients_catch_up_without_losing_messages(
    private_redis,
):
    import urllib.request

    server = await asyncio.to_thread(start_daphne, {"REDIS_URL": private_redis.url})
    try:
        conversation, buyer_token, seller_token = await make_chat()
        seller = await open_socket(server, conversation.id, seller_token)
        buyer = await open_socket(server, conversation.id, buyer_token)
        await buyer.send(json.dumps({"type": "message", "client_id": "b0", "body": "before"}))
        last_seen = (await next_of(seller, "message"))["message"]["id"]

        await asyncio.to_thread(private_redis.stop)
        with pytest.raises(websockets.ConnectionClosed):  # the server drops the layer's sockets
            while True:
                await asyncio.wait_for(seller.recv(), 5)

        # While Redis is down the REST fallback still stores messages.
        def post(body: str, client_id: str) -> int:
            request = urllib.request.Request(
                f"{server.http_url}/api/conversations/{conversation.id}/messages",
                data=json.dumps({"client_id": client_id, "body": body}).encode(),
                headers={
                    "Authorization": f"Token {buyer_token}",
                    "Content-Type": "application/json",
                },
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status

        statuses = [await asyncio.to_thread(post, f"during outage {i}", f"o{i}") for i in range(3)]
        assert statuses == [201, 201, 201]

        await asyncio.to_thread(private_redis.start)
        bodies = await catch_up_with_backoff(server, conversation.id, seller_token, last_seen)
        assert bodies == ["during outage 0", "during outage 1", "during outage 2"]
        stored = await database_sync_to_async(
            lambda: list(
                Message.objects.filter(conversation=conversation)
                .order_by("seq")
                .values_list("body", flat=True)
            )
        )()
        assert stored == ["before", *bodies]
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)
