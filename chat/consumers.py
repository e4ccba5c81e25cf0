"""The chat websocket: `/ws/chat/<conversation_id>/`.

Thin: it authenticates, authorises with the same access selector as the REST
API, and hands each frame to a service. Frames from the client:

    {"type": "message", "client_id", "body"}
    {"type": "offer", "client_id", "amount_minor"}
    {"type": "typing"}
    {"type": "read", "up_to": "<message id>"}
    {"type": "sync", "after": "<message id>" | null}   (catch up after a reconnect)

Frames from the server: message, offer, typing, read, warning, error. A bad
frame gets an `error` frame and the connection stays open.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from chat import presence, ratelimit, selectors, services
from chat.serializers import message_payload, offer_payload
from marketplace.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from marketplace.errors import DomainError

MAX_FRAME_BYTES = 16 * 1024


class ChatConsumer(AsyncJsonWebsocketConsumer):
    conversation: Any = None
    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        try:
            self.conversation = await database_sync_to_async(
                selectors.conversation_get_for_participant
            )(conversation_id=self.scope["url_route"]["kwargs"]["conversation_id"], user=user)
        except DomainError:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user = user
        self.group = services.group_name(self.conversation.pk)
        try:
            await self.channel_layer.group_add(self.group, self.channel_name)
        except Exception:  # noqa: BLE001
            # After Redis restarts, the first command on a stale pooled
            # connection fails; the retry gets a fresh connection.
            await self.channel_layer.group_add(self.group, self.channel_name)
        await database_sync_to_async(presence.connected)(user.pk)

    async def disconnect(self, code: int) -> None:
        group, self.group = self.group, None
        if group is None:
            return
        try:
            await self.channel_layer.group_discard(group, self.channel_name)
        except Exception:  # noqa: BLE001, S110 - the group entry expires on its own
            pass
        finally:
            await database_sync_to_async(presence.disconnected)(self.user.pk)

    # --- client frames ----------------------------------------------------------------

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        if self.group is None:
            return  # closing: nothing from an unauthorised socket is stored
        if text_data is None or len(text_data) > MAX_FRAME_BYTES:
            await self._error("bad_frame", "Send JSON text frames of at most 16 KB.")
            return
        try:
            content = await self.decode_json(text_data)
        except ValueError:
            await self._error("bad_frame", "That frame is not valid JSON.")
            return
        if not isinstance(content, dict):
            await self._error("bad_frame", 'A frame is a JSON object with a "type".')
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        kind = content.get("type")
        handler = (
            {
                "message": self._message,
                "offer": self._offer,
                "typing": self._typing,
                "read": self._read,
                "sync": self._catch_up,
            }.get(kind)
            if isinstance(kind, str)
            else None
        )
        if handler is None:
            await self._error(
                "unknown_type", "type must be one of message, offer, typing, read, sync."
            )
            return
        try:
            await handler(content)
        except DomainError as exc:
            await self._error(exc.code, exc.message, **getattr(exc, "extra", {}))

    async def _message(self, content: dict[str, Any]) -> None:
        if not await database_sync_to_async(ratelimit.allow_message)(self.user.pk):
            await self._error(
                "rate_limited",
                "You are sending messages too fast; slow down.",
                client_id=content.get("client_id"),
            )
            return
        message, created = await database_sync_to_async(services.message_send)(
            conversation=self.conversation,
            sender=self.user,
            body=content.get("body"),
            client_id=content.get("client_id") or "",
        )
        if not created:
            # A retry: answer the sender with the stored copy; nobody else hears twice.
            await self.send_json({"type": "message", "message": message_payload(message)})

    async def _offer(self, content: dict[str, Any]) -> None:
        if not await database_sync_to_async(ratelimit.allow_message)(self.user.pk):
            await self._error("rate_limited", "You are sending messages too fast; slow down.")
            return
        await database_sync_to_async(services.offer_make)(
            conversation=self.conversation,
            buyer=self.user,
            amount_minor=content.get("amount_minor"),
            client_id=content.get("client_id") or "",
        )

    async def _typing(self, content: dict[str, Any]) -> None:
        await self.channel_layer.group_send(
            self.group,
            {
                "type": "chat.typing",
                "user": str(self.user.pk),
                "sender_channel": self.channel_name,
            },
        )

    async def _read(self, content: dict[str, Any]) -> None:
        await database_sync_to_async(services.read_mark)(
            conversation=self.conversation,
            user=self.user,
            up_to=content.get("up_to"),
        )

    async def _catch_up(self, content: dict[str, Any]) -> None:
        messages = await database_sync_to_async(selectors.messages_after)(
            conversation=self.conversation,
            after=content.get("after"),
        )
        for message in messages:
            await self.send_json({"type": "message", "message": message_payload(message)})
        await self.send_json({"type": "synced", "count": len(messages)})

    async def _error(self, code: str, detail: str, **extra: Any) -> None:
        frame = {"type": "error", "code": code, "detail": detail}
        frame.update({k: v for k, v in extra.items() if v is not None})
        await self.send_json(frame)

    # --- group events -------------------------------------------------------------------

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "message", "message": event["message"]})

    async def chat_offer(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {"type": "offer", "offer": event["offer"], "message": event["message"]}
        )

    async def chat_typing(self, event: dict[str, Any]) -> None:
        if event.get("sender_channel") != self.channel_name:
            await self.send_json({"type": "typing", "user": event["user"]})

    async def chat_read(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {"type": "read", "user": event["user"], "up_to": event["up_to"], "seq": event["seq"]}
        )

    async def chat_warning(self, event: dict[str, Any]) -> None:
        if event.get("for_user") == str(self.user.pk):
            await self.send_json(
                {
                    "type": "warning",
                    "reason": ",".join(event["reasons"]),
                    "reasons": event["reasons"],
                    "message_id": event["message_id"],
                    "detail": event["detail"],
                }
            )


__all__ = ["ChatConsumer", "offer_payload"]
