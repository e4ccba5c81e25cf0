"""Anonymous sockets on the notifications endpoint (real Daphne; no rows are
written, so no database transaction to flush)."""

from __future__ import annotations

import asyncio

import pytest
import websockets

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("query", ["", "?token=not-a-token"])
async def test_anonymous_socket_is_closed_with_4401(daphne_server, query):
    ws = await websockets.connect(
        f"{daphne_server.ws_url}/ws/notifications/{query}",
        origin="http://127.0.0.1",
        open_timeout=10,
    )
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd.code == 4401
