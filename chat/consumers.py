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

import asyncio
import logging
import threading
import time
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
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


def _ids(conversation: Conversation) -> tuple[Any, Any, Any, Any]:
    """Only what the services need, kept per socket as a tuple: the access
    selector's joined listing and users would cost a few KiB on every idle
    socket, and even a bare model instance ~0.8 KiB (see ChatConsumer.conversation)."""
    return (conversation.pk, conversation.listing_id, conversation.buyer_id, conversation.seller_id)


def _join(conversation_id: Any, user: Any) -> tuple[Any, Any, Any, Any]:
    conversation = selectors.conversation_get_for_participant(
        conversation_id=conversation_id, user=user
    )
    presence.connected(conversation.pk, user.pk)
    return _ids(conversation)


def _store_batch(items: list[tuple[Conversation, Any, Any, Any]]) -> list[Any]:
    """On a chat-db thread: rate limit and store a batch of messages in one
    statement (services.message_send_batch). Per item: (message, created),
    None when rate limited, or the exception to raise for it."""
    _connection_hygiene()
    try:
        allowed = ratelimit.allow_messages([user.pk for _, user, _, _ in items])
        results: list[Any] = [None] * len(items)
        todo = [i for i, ok in enumerate(allowed) if ok]
        stored = services.message_send_batch(items=[items[i] for i in todo])
        for i, result in zip(todo, stored, strict=True):
            results[i] = result
        return results
    finally:
        _after_call()


class _GroupCommit:
    """Messages from all the sockets of one event loop, stored together.

    While one batch is being stored, the messages that arrive queue up and go
    as the next batch: one thread hop, one statement and one commit for all
    of them. Nothing waits on purpose, so a lone message costs what it did
    alone, and under load batches grow by themselves. One batch at a time
    also means batches never lock conversation rows against each other."""

    MAX_BATCH = 100

    def __init__(self) -> None:
        self.queue: list[tuple[tuple[Conversation, Any, Any, Any], asyncio.Future[Any]]] = []
        self.running = False

    def submit(self, conversation: Conversation, user: Any, content: dict[str, Any]) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.queue.append(
            ((conversation, user, content.get("body"), content.get("client_id") or ""), future)
        )
        if not self.running:
            self.running = True
            loop.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        try:
            while self.queue:
                batch = self.queue[: self.MAX_BATCH]
                del self.queue[: self.MAX_BATCH]
                try:
                    results = await asyncio.get_running_loop().run_in_executor(
                        _hot_executor(), _store_batch, [item for item, _ in batch]
                    )
                except Exception as exc:  # noqa: BLE001 - every waiter hears of it
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue  # its socket went away
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self.running = False


_committers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _GroupCommit] = (
    weakref.WeakKeyDictionary()
)


def _store_message(conversation: Conversation, user: Any, content: dict[str, Any]) -> Any:
    """Awaitable: (message, created), or None when rate limited."""
    loop = asyncio.get_running_loop()
    committer = _committers.get(loop)
    if committer is None:
        committer = _committers[loop] = _GroupCommit()  # no reference back to the loop
    return committer.submit(conversation, user, content)


def _dumps(content: Any) -> str:
    return orjson.dumps(content).decode()


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """One per socket. Lean on purpose, because 10,000 idle ones must fit in
    one process (see README, Chat): on a layer with local channels
    (chat.layers) group messages arrive by callback, so an idle socket has no
    task of its own beyond the one Daphne runs it in and no Redis subscription
    of its own."""

    _conversation: tuple[Any, Any, Any, Any] | None = None
    group: str | None = None
    _local = False
    _pending: deque[dict[str, Any]] | None = None
    _pump: asyncio.Task[None] | None = None
    _reader: asyncio.Future[None] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Channels' AsyncConsumer.__call__, minus two parked tasks per socket:
        it awaits the client and the layer through `await_many_dispatch` (a
        task for each, re-created for every message, and an asyncio.wait);
        here the client is awaited inline and the layer calls back."""
        self.scope = scope
        self.base_send = send
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        if self.channel_layer is not None:
            local = getattr(self.channel_layer, "new_local_channel", None)
            if local is not None:
                self.channel_name = local(self._layer_event)
                self._local = True
            else:  # InMemoryChannelLayer, channels_redis.core: read the channel in a task
                self.channel_name = await self.channel_layer.new_channel()
                self._reader = asyncio.ensure_future(self._read_layer())
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._pump is not None:
            self._pump.cancel()
        if self.group is not None:  # ended without a websocket.disconnect
            group, self.group = self.group, None
            try:
                await self._leave(group)
            except Exception:  # noqa: BLE001, S110 - best effort on the way out
                pass
        if self._local:
            self.channel_layer.release_local_channel(self.channel_name)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its `aclose_old_connections()`, a hop to
        the sync thread for every frame and every group message: the handlers
        that touch the database run in _store_batch / database_sync_to_async, which
        look after their thread's connection themselves."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def _read_layer(self) -> None:
        while True:
            self._layer_event(await self.channel_layer.receive(self.channel_name))

    def _layer_event(self, message: dict[str, Any]) -> None:
        """A group message (on the event loop). Handled in arrival order by one
        short-lived task, started only while messages are waiting."""
        if self._pending is None:
            self._pending = deque()
        self._pending.append(message)
        if self._pump is None:
            self._pump = asyncio.ensure_future(self._run_pump())

    async def _run_pump(self) -> None:
        try:
            while self._pending:
                message = self._pending.popleft()
                try:
                    await self.dispatch(message)
                except Exception:
                    logger.exception("chat: handling %s failed", message.get("type"))
        finally:
            self._pump = None
            self._pending = None

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        # Channels' version also hops to the sync thread (aclose_old_connections).
        await self.disconnect(message.get("code", 1000))
        raise StopConsumer

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        return orjson.loads(text_data)  # orjson.JSONDecodeError is a ValueError

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return _dumps(content)

    async def send_json(self, content: Any, close: bool = False) -> None:
        await self.base_send({"type": "websocket.send", "text": _dumps(content)})
        if close:
            await self.close(close)

    @property
    def conversation(self) -> Conversation:
        """An unsaved Conversation carrying the ids (all the services read)."""
        pk, listing_id, buyer_id, seller_id = self._conversation  # type: ignore[misc]
        return Conversation(id=pk, listing_id=listing_id, buyer_id=buyer_id, seller_id=seller_id)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await accept_user(self)  # accepts, then closes with 4401
            return
        try:
            self._conversation = await database_sync_to_async(_join)(
                self.scope["url_route"]["kwargs"]["conversation_id"], user
            )
        except DomainError:
            await self.accept()
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user = user
        self.group = services.group_name(self._conversation[0])
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
        # Open the socket only once it is in the conversation's group: a client
        # that sees it open gets every message sent from then on, live.
        await self.accept()

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
                self._conversation[0], self.user.pk
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
        stored = await _store_message(self.conversation, self.user, content)
        if stored is None:
            await self._error(
                "rate_limited",
                "You are sending messages too fast; slow down.",
                client_id=content.get("client_id"),
            )
            return
        message, created = stored
        text = _dumps({"type": "message", "message": message_payload(message)})
        if not created:
            # A retry: answer the sender with the stored copy; nobody else hears twice.
            await self.send(text_data=text)
            return
        # Stored and committed: now ring the group from this event loop. The
        # frame goes encoded, so each member sends it as it is.
        try:
            await self.channel_layer.group_send(self.group, {"type": "chat.message", "frame": text})
        except Exception as exc:  # noqa: BLE001 - the message is stored; clients catch up by id
            logger.warning("chat: broadcast to %s failed: %s", self.group, exc)
            await self.send(text_data=text)  # the sender at least learns it is stored

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
        text = event.get("frame")  # from the consumer: encoded once by the sender
        if text is None:  # from the services (system messages, REST, offers)
            text = _dumps({"type": "message", "message": event["message"]})
        await self.base_send({"type": "websocket.send", "text": text})

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
