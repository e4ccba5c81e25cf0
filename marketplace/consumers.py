"""Kernel websocket endpoints. `/ws/whoami/` lets a client check its socket
authentication (and lets tests prove the ASGI stack end to end)."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

# Close codes in the 4000 range mirror HTTP: 4401 not logged in, 4403 not allowed.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


async def accept_user(consumer: AsyncJsonWebsocketConsumer) -> Any | None:
    """Accept the handshake and return the authenticated user, or close with
    4401 and return None. Accept first, then close: a rejected handshake
    reaches browsers as an opaque failure, a close code tells the client why."""
    user = consumer.scope.get("user")
    await consumer.accept()
    if user is None or not user.is_authenticated:
        await consumer.close(code=CLOSE_UNAUTHENTICATED)
        return None
    return user


class WhoAmIConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = await accept_user(self)
        if user is None:
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
