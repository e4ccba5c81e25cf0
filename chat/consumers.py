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

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import close_old_connections, connections

from chat import presence, ratelimit, selectors, services
from chat.models import Conversation
from chat.serializers import message_payload, offer_payload
from marketplace.consumers import CLOSE_FORBIDDEN, accept_user
from marketplace.errors import DomainError

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 16 * 1024
# The channel layer lost Redis: reconnect with backoff, then sync.
CLOSE_LAYER_LOST = 4503
# How often the hot path lets Django check its database connection.
CONNECTION_CHECK_SECONDS = 1.0

_checked = threading.local()


def _connection_hygiene() -> None:
    """What `database_sync_to_async` does around every call (close_old_connections),
    at most once a second per thread, or at once after an error: each call
    re-arms Django's health check, a `SELECT 1` round trip per chat message."""
    now = time.monotonic()
    conn = connections["default"]
    if conn.errors_occurred or now - getattr(_checked, "at", 0.0) >= CONNECTION_CHECK_SECONDS:
        close_old_connections()
        _checked.at = now


def _after_call() -> None:
    conn = connections["default"]
    if conn.connection is not None and (
        conn.errors_occurred or (conn.close_at is not None and time.monotonic() >= conn.close_at)
    ):
        conn.close_if_unusable_or_obsolete()  # CONN_MAX_AGE reached (0 in tests), or broken


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _hot_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(
                    max_workers=settings.CHAT_DB_THREADS, thread_name_prefix="chat-db"
                )
    return _executor


def hot_db(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`database_sync_to_async` for the per-message path, on a pool of
    CHAT_DB_THREADS threads with a connection each. A durable commit waits
    ~5 ms for the disk here; one database thread (Channels' default) would cap
    the whole process near 200 messages/s, while concurrent commits share
    their WAL flushes. Each socket still handles its frames one at a time,
    and the conversation row lock orders messages within a conversation."""

    def call(*args: Any, **kwargs: Any) -> Any:
        _connection_hygiene()
        try:
            return fn(*args, **kwargs)
        finally:
            _after_call()

    return sync_to_async(call, thread_sensitive=False, executor=_hot_executor())


def _light(conversation: Conversation) -> Conversation:
    """Only what the services need, kept per socket: the access selector's
    joined listing and users would cost a few KiB on every idle socket."""
    return Conversation(
        id=conversation.pk,
        listing_id=conversation.listing_id,
        buyer_id=conversation.buyer_id,
        seller_id=conversation.seller_id,
    )


def _join(conversation_id: Any, user: Any) -> Conversation:
    conversation = selectors.conversation_get_for_participant(
        conversation_id=conversation_id, user=user
    )
    presence.connected(conversation.pk, user.pk)
    return _light(conversation)


def _store_message(conversation: Conversation, user: Any, content: dict[str, Any]) -> Any:
    """Rate limit and store in one trip to the database thread. Returns
    (message, created) or None when rate limited."""
    if not ratelimit.allow_message(user.pk):
        return None
    return services.message_send(
        conversation=conversation,
        sender=user,
        body=content.get("body"),
        client_id=content.get("client_id") or "",
        broadcast=False,
    )


_store_message_async = hot_db(_store_message)


class ChatConsumer(AsyncJsonWebsocketConsumer):
    conversation: Any = None
    group: str | None = None

    async def connect(self) -> None:
        user = await accept_user(self)
        if user is None:
            return
        try:
            self.conversation = await database_sync_to_async(_join)(
                self.scope["url_route"]["kwargs"]["conversation_id"], user
            )
        except DomainError:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user = user
        self.group = services.group_name(self.conversation.pk)
        try:
            try:
                await self.channel_layer.group_add(self.group, self.channel_name)
            except Exception:  # noqa: BLE001
                # After Redis restarts, the first command on a stale pooled
                # connection fails; the retry gets a fresh connection.
                await self.channel_layer.group_add(self.group, self.channel_name)
        except BaseException:
            self.group = None
            await self._leave(None)
            raise

    async def disconnect(self, code: int) -> None:
        group, self.group = self.group, None
        if group is None:
            return
        await self._leave(group)

    async def _leave(self, group: str | None) -> None:
        try:
            if group is not None:
                await self.channel_layer.group_discard(group, self.channel_name)
        except Exception:  # noqa: BLE001, S110 - the group entry expires on its own
            pass
        finally:
            await sync_to_async(presence.disconnected, thread_sensitive=False)(
                self.conversation.pk, self.user.pk
            )

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
        stored = await _store_message_async(self.conversation, self.user, content)
        if stored is None:
            await self._error(
                "rate_limited",
                "You are sending messages too fast; slow down.",
                client_id=content.get("client_id"),
            )
            return
        message, created = stored
        frame = {"type": "message", "message": message_payload(message)}
        if not created:
            # A retry: answer the sender with the stored copy; nobody else hears twice.
            await self.send_json(frame)
            return
        # Stored and committed: now ring the group from this event loop.
        try:
            await self.channel_layer.group_send(self.group, {**frame, "type": "chat.message"})
        except Exception as exc:  # noqa: BLE001 - the message is stored; clients catch up by id
            logger.warning("chat: broadcast to %s failed: %s", self.group, exc)
            await self.send_json(frame)  # the sender at least learns it is stored

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

    async def layer_lost(self, event: dict[str, Any]) -> None:
        """Redis is gone (chat.layers): close, so the client reconnects with
        backoff and syncs what it missed from the database."""
        await self.close(code=CLOSE_LAYER_LOST)

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
