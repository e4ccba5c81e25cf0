"""End to end over a real Daphne process: origin checks and socket auth."""

from __future__ import annotations

import json

import pytest
import websockets
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ORIGIN = "http://127.0.0.1"


async def connect(url: str, **kwargs):
    return await websockets.connect(url, open_timeout=10, **kwargs)


@pytest.fixture
def token_key(db) -> tuple[str, object]:
    user = UserFactory(username="sockuser")
    return Token.objects.create(user=user).key, user


async def test_token_authenticated_socket_says_who_you_are(daphne_server, token_key):
    key, user = token_key
    ws = await connect(f"{daphne_server.ws_url}/ws/whoami/?token={key}", origin=ORIGIN)
    try:
        hello = json.loads(await ws.recv())
        assert hello == {"type": "hello", "user": {"id": str(user.id), "username": "sockuser"}}
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv()) == {"type": "pong"}
    finally:
        await ws.close()


async def test_anonymous_socket_is_closed_with_4401(daphne_server):
    ws = await connect(f"{daphne_server.ws_url}/ws/whoami/", origin=ORIGIN)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd.code == 4401


async def test_bad_token_is_treated_as_anonymous(daphne_server):
    ws = await connect(f"{daphne_server.ws_url}/ws/whoami/?token=nope", origin=ORIGIN)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd.code == 4401


async def test_foreign_origin_handshake_is_rejected(daphne_server, token_key):
    key, _ = token_key
    with pytest.raises(websockets.InvalidStatus) as refused:
        await connect(
            f"{daphne_server.ws_url}/ws/whoami/?token={key}", origin="http://evil.example"
        )
    assert refused.value.response.status_code == 403


async def test_session_cookie_authenticates_the_socket(daphne_server, token_key):
    from channels.db import database_sync_to_async
    from django.test import Client

    _, user = token_key
    client = Client()
    await database_sync_to_async(client.force_login)(user)  # closes its connection
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    ws = await connect(
        f"{daphne_server.ws_url}/ws/whoami/", origin=ORIGIN, additional_headers={"Cookie": cookie}
    )
    try:
        hello = json.loads(await ws.recv())
        assert hello["user"]["id"] == str(user.id)
    finally:
        await ws.close()
