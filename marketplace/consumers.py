"""Kernel websocket endpoints. `/ws/whoami/` lets a client check its socket
authentication (and lets tests prove the ASGI stack end to end)."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

# Close codes in the 4000 range mirror HTTP: 4401 not logged in, 4403 not allowed.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


class WhoAmIConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        # Accept, then close with a 44xx code: a rejected handshake reaches
        # browsers as an opaque failure, a close code tells the client why.
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.send_json(
            {"type": "hello", "user": {"id": str(user.id), "username": user.username}}
        )

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json(
                {"type": "error", "code": "unknown_type", "detail": 'Send {"type": "ping"}.'}
            )
