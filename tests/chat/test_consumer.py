"""The chat consumer through Channels' WebsocketCommunicator (the real ASGI
stack in-process, the real Redis channel layer)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from chat import services
from chat.models import Message, SafetySignal
from marketplace.asgi import application
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@database_sync_to_async
def setup_conversation():
    seller = UserFactory()
    buyer = UserFactory()
    listing = ListingFactory(seller=seller, active=True, negotiable=True, price_minor=50_000)
    conversation, _ = services.conversation_start(listing_id=listing.id, buyer=buyer)
    tokens = {u.pk: Token.objects.create(user=u).key for u in (seller, buyer)}
    return conversation, buyer, seller, tokens


@database_sync_to_async
def token_for_new_user():
    return Token.objects.create(user=UserFactory()).key


async def connect(conversation_id, token=None):
    path = f"/ws/chat/{conversation_id}/" + (f"?token={token}" if token else "")
    communicator = WebsocketCommunicator(
        application, path, headers=[(b"origin", b"http://testserver")]
    )
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator


async def receive_type(communicator, kind, timeout=3):
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        if frame["type"] == kind:
            return frame


@pytest.fixture
async def chat():
    conversation, buyer, seller, tokens = await setup_conversation()
    buyer_ws = await connect(conversation.id, tokens[buyer.pk])
    seller_ws = await connect(conversation.id, tokens[seller.pk])
    yield conversation, buyer, seller, buyer_ws, seller_ws
    await buyer_ws.disconnect()
    await seller_ws.disconnect()


async def test_message_is_stored_then_delivered_to_both_participants(chat):
    conversation, buyer, _, buyer_ws, seller_ws = chat

    await buyer_ws.send_json_to({"type": "message", "client_id": "a1", "body": "Hi! Still there?"})

    to_seller = await receive_type(seller_ws, "message")
    to_buyer = await receive_type(buyer_ws, "message")
    assert to_seller["message"]["body"] == "Hi! Still there?"
    assert to_seller["message"]["sender"] == str(buyer.pk)
    assert to_buyer["message"]["client_id"] == "a1"  # the sender swaps its local echo
    stored = await database_sync_to_async(Message.objects.get)(id=to_seller["message"]["id"])
    assert stored.seq == 1


async def test_retried_client_id_is_not_duplicated(chat):
    conversation, _, _, buyer_ws, seller_ws = chat

    await buyer_ws.send_json_to({"type": "message", "client_id": "dup", "body": "once"})
    first = await receive_type(buyer_ws, "message")
    await buyer_ws.send_json_to({"type": "message", "client_id": "dup", "body": "once"})
    again = await receive_type(buyer_ws, "message")

    assert again["message"]["id"] == first["message"]["id"]
    assert await database_sync_to_async(Message.objects.count)() == 1
    await receive_type(seller_ws, "message")
    assert await seller_ws.receive_nothing(timeout=0.3)


async def test_outsider_is_closed_with_4403_and_nothing_is_stored(chat):
    conversation, *_ = chat
    token = await token_for_new_user()
    communicator = WebsocketCommunicator(
        application,
        f"/ws/chat/{conversation.id}/?token={token}",
        headers=[(b"origin", b"http://testserver")],
    )
    await communicator.connect()

    closed = await communicator.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4403}
    await communicator.send_json_to({"type": "message", "body": "let me in"})
    await asyncio.sleep(0.2)
    assert await database_sync_to_async(Message.objects.count)() == 0


async def test_anonymous_is_closed_with_4401(chat):
    conversation, *_ = chat
    communicator = WebsocketCommunicator(
        application, f"/ws/chat/{conversation.id}/", headers=[(b"origin", b"http://testserver")]
    )
    await communicator.connect()

    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


async def test_unknown_conversation_is_4403(db):
    token = await token_for_new_user()
    communicator = WebsocketCommunicator(
        application,
        f"/ws/chat/{uuid.uuid4()}/?token={token}",
        headers=[(b"origin", b"http://testserver")],
    )
    await communicator.connect()

    assert (await communicator.receive_output(timeout=3))["code"] == 4403


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "message", "body": ""}', "invalid"),
        ('{"type": "message", "body": 42}', "invalid"),
        ('{"type": "read", "up_to": "nope"}', "invalid"),
        ('{"type": "offer", "amount_minor": "many"}', "invalid"),
    ],
)
async def test_malformed_frames_get_an_error_and_the_socket_stays_open(chat, frame, code):
    _, _, _, buyer_ws, _ = chat

    await buyer_ws.send_to(text_data=frame)
    error = await receive_type(buyer_ws, "error")
    assert error["code"] == code

    await buyer_ws.send_json_to({"type": "message", "body": "still here"})
    assert (await receive_type(buyer_ws, "message"))["message"]["body"] == "still here"


async def test_typing_reaches_only_the_other_side(chat):
    _, buyer, _, buyer_ws, seller_ws = chat

    await buyer_ws.send_json_to({"type": "typing"})

    assert await receive_type(seller_ws, "typing") == {"type": "typing", "user": str(buyer.pk)}
    assert await buyer_ws.receive_nothing(timeout=0.3)


async def test_read_receipt_is_broadcast(chat):
    _, _, seller, buyer_ws, seller_ws = chat
    await buyer_ws.send_json_to({"type": "message", "body": "read me"})
    message = (await receive_type(seller_ws, "message"))["message"]

    await seller_ws.send_json_to({"type": "read", "up_to": message["id"]})

    receipt = await receive_type(buyer_ws, "read")
    assert receipt == {"type": "read", "user": str(seller.pk), "up_to": message["id"], "seq": 1}


async def test_warning_goes_to_the_recipient_only(chat):
    _, _, _, buyer_ws, seller_ws = chat

    await seller_ws.send_json_to(
        {"type": "message", "body": "Add me on WhatsApp, pay by bank transfer"}
    )

    warning = await receive_type(buyer_ws, "warning")
    assert "off_platform_payment" in warning["reasons"]
    assert "contact_app" in warning["reason"]
    await receive_type(seller_ws, "message")
    assert await seller_ws.receive_nothing(timeout=0.3)
    assert await database_sync_to_async(SafetySignal.objects.count)() == 1


async def test_rate_limit_answers_with_an_error_frame_not_a_disconnect(chat, settings):
    settings.CHAT_MESSAGE_RATE = (2, 60)
    _, _, _, buyer_ws, _ = chat

    for i in range(3):
        await buyer_ws.send_json_to({"type": "message", "client_id": f"r{i}", "body": f"m{i}"})
    error = await receive_type(buyer_ws, "error")

    assert error["code"] == "rate_limited"
    assert error["client_id"] == "r2"
    assert await database_sync_to_async(Message.objects.count)() == 2


async def test_reconnecting_client_syncs_exactly_what_it_missed(chat):
    conversation, _, _, buyer_ws, seller_ws = chat
    await buyer_ws.send_json_to({"type": "message", "body": "before"})
    last_seen = (await receive_type(seller_ws, "message"))["message"]["id"]
    await seller_ws.disconnect()

    for i in range(3):
        await buyer_ws.send_json_to({"type": "message", "body": f"missed {i}"})
        await receive_type(buyer_ws, "message")

    token = await database_sync_to_async(
        lambda: Token.objects.get(user_id=conversation.seller_id).key
    )()
    seller_ws = await connect(conversation.id, token)
    await seller_ws.send_json_to({"type": "sync", "after": last_seen})
    bodies = []
    while True:
        frame = await seller_ws.receive_json_from(timeout=3)
        if frame["type"] == "synced":
            break
        bodies.append(frame["message"]["body"])
    assert bodies == ["missed 0", "missed 1", "missed 2"]
    await seller_ws.disconnect()


async def test_offer_over_the_socket_is_broadcast_as_an_offer(chat):
    _, _, _, buyer_ws, seller_ws = chat

    await buyer_ws.send_json_to({"type": "offer", "client_id": "o1", "amount_minor": 45_000})

    frame = await receive_type(seller_ws, "offer")
    assert frame["offer"]["amount"] == {"amount_minor": 45_000, "currency": "CNY"}
    assert frame["offer"]["status"] == "offered"
    assert frame["message"]["kind"] == "offer"


async def test_blocked_sender_gets_an_error_frame(chat):
    conversation, buyer, seller, buyer_ws, _ = chat
    await database_sync_to_async(services.user_block)(blocker=seller, blocked_id=buyer.pk)

    await buyer_ws.send_json_to({"type": "message", "body": "hello?"})

    assert (await receive_type(buyer_ws, "error"))["code"] == "blocked"
    assert await database_sync_to_async(Message.objects.count)() == 0
