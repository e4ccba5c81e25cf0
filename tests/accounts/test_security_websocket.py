"""Ending a session closes its open websockets and refuses new ones (real Daphne)."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from channels.db import database_sync_to_async
from rest_framework.test import APIClient

from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ORIGIN = "http://127.0.0.1"


def _login(username: str) -> tuple[APIClient, dict]:
    client = APIClient()
    body = client.post(
        "/api/auth/token", {"username": username, "password": TEST_PASSWORD}, format="json"
    ).json()
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    return client, body


async def test_ended_session_socket_is_closed_and_cannot_reconnect(daphne_server):
    user = await database_sync_to_async(UserFactory)(username="wsrevoke")
    laptop, _ = await database_sync_to_async(_login)("wsrevoke")
    _, phone = await database_sync_to_async(_login)("wsrevoke")
    url = f"{daphne_server.ws_url}/ws/whoami/?token={phone['token']}"
    ws = await websockets.connect(url, origin=ORIGIN, open_timeout=10)
    hello = json.loads(await ws.recv())
    assert hello["user"]["id"] == str(user.id)

    response = await database_sync_to_async(laptop.delete)(
        f"/api/me/sessions/{phone['session_id']}"
    )
    assert response.status_code == 204

    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), timeout=10)
    assert closed.value.rcvd.code == 4401
    again = await websockets.connect(url, origin=ORIGIN, open_timeout=10)
    with pytest.raises(websockets.ConnectionClosed) as refused:
        await asyncio.wait_for(again.recv(), timeout=10)
    assert refused.value.rcvd.code == 4401  # anonymous now


async def test_other_sessions_sockets_stay_open(daphne_server):
    await database_sync_to_async(UserFactory)(username="wskeep")
    laptop, laptop_body = await database_sync_to_async(_login)("wskeep")
    _, phone = await database_sync_to_async(_login)("wskeep")
    ws = await websockets.connect(
        f"{daphne_server.ws_url}/ws/whoami/?token={laptop_body['token']}",
        origin=ORIGIN,
        open_timeout=10,
    )
    await ws.recv()

    await database_sync_to_async(laptop.delete)(f"/api/me/sessions/{phone['session_id']}")
    await asyncio.sleep(0.5)

    await ws.send(json.dumps({"type": "ping"}))
    assert json.loads(await asyncio.wait_for(ws.recv(), timeout=5)) == {"type": "pong"}
    await ws.close()
