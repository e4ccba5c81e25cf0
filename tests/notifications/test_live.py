"""Live push end to end: a real Daphne process, real websocket clients,
Redis between the test process (which writes notifications) and Daphne."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from channels.db import database_sync_to_async
from rest_framework.authtoken.models import Token

from marketplace.notifications import services
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ORIGIN = "http://127.0.0.1"


@database_sync_to_async
def make_users():
    alice, bob = UserFactory(), UserFactory()
    return alice, bob, Token.objects.create(user=alice).key, Token.objects.create(user=bob).key


async def connect(server, token=None):
    query = f"?token={token}" if token else ""
    return await websockets.connect(
        f"{server.ws_url}/ws/notifications/{query}", origin=ORIGIN, open_timeout=10
    )


async def frame(ws, timeout=10.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def test_push_reaches_every_tab_of_the_recipient_and_nobody_else(daphne_server):
    alice, bob, alice_token, bob_token = await make_users()
    tab1, tab2 = (
        await connect(daphne_server, alice_token),
        await connect(daphne_server, alice_token),
    )
    other = await connect(daphne_server, bob_token)
    try:
        for ws in (tab1, tab2, other):
            assert await frame(ws) == {"type": "hello", "unread_count": 0}

        notification = await database_sync_to_async(services.notify)(
            recipient=alice, kind="price_drop", payload={"title": "Lamp"}, link="/l/1/"
        )

        for ws in (tab1, tab2):
            pushed = await frame(ws)
            assert pushed["type"] == "notification"
            assert pushed["unread_count"] == 1
            assert pushed["notification"]["id"] == str(notification.pk)
            assert pushed["notification"]["payload"] == {"title": "Lamp"}
        # Bob's socket got nothing: his next frame is the answer to his ping.
        await other.send(json.dumps({"type": "ping"}))
        assert await frame(other) == {"type": "pong"}

        await database_sync_to_async(services.notifications_mark_read)(recipient=alice)
        for ws in (tab1, tab2):
            assert await frame(ws) == {"type": "unread_count", "unread_count": 0}
        await other.send(json.dumps({"type": "ping"}))
        assert await frame(other) == {"type": "pong"}

        # A reconnecting client learns the unread count from the hello frame.
        for i in range(2):
            await database_sync_to_async(services.notify)(
                recipient=alice, kind="price_drop", payload={"n": i}
            )
        late = await connect(daphne_server, alice_token)
        assert await frame(late) == {"type": "hello", "unread_count": 2}
        await late.close()
    finally:
        for ws in (tab1, tab2, other):
            await ws.close()
