"""`/ws/notifications/`: every open tab of a user hears new notifications and
the unread count. The socket is a doorbell: clients catch up through
`GET /api/me/notifications` after a reconnect (the hello frame carries the
current unread count for that)."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from marketplace.consumers import accept_user
from marketplace.notifications import selectors
from marketplace.notifications.services import user_group_name


class NotificationsConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        user = await accept_user(self)
        if user is None:
            return
        # Only ever the caller's own group: the user comes from the
        # authenticated scope, never from the URL or a frame.
        self.group = user_group_name(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        count = await database_sync_to_async(selectors.unread_count)(recipient=user)
        await self.send_json({"type": "hello", "unread_count": count})

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            try:
                await self.channel_layer.group_discard(self.group, self.channel_name)
            except Exception:  # noqa: BLE001, S110 - the layer may be gone (Redis down); expiry cleans up
                pass

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json(
                {"type": "error", "code": "unknown_type", "detail": 'Send {"type": "ping"}.'}
            )

    async def notification_created(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {
                "type": "notification",
                "notification": event["notification"],
                "unread_count": event["unread_count"],
            }
        )

    async def notification_unread(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "unread_count", "unread_count": event["unread_count"]})
