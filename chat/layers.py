"""The channel layer: channels-redis' pub/sub layer, plus a signal when Redis is lost.

Why pub/sub: with the default RedisChannelLayer a group_send costs four Redis
round trips (prune, read the group, prune each channel, a Lua script) and
every delivery is polled back out of a sorted set; with pub/sub it is one
PUBLISH, and Redis pushes the message once to each subscribed process, which
hands it to its local members. Measured in tests/load/bench_chat.py.

What the stock pub/sub layer lacks: when the connection to Redis drops it logs
and quietly reconnects, so sockets stay open while the messages published in
between are lost, and clients never learn they must catch up. Here, a lost
connection puts a `layer.lost` message on every channel of the process; the
chat consumer closes its socket (code 4503) and the client reconnects with
backoff and syncs from the database, as with the default layer (which closes
sockets with 1011).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close, decode_hosts

logger = logging.getLogger(__name__)

LAYER_LOST = {"type": "layer.lost"}


class _Shard(RedisSingleShardConnection):
    """One Redis connection pair per process (publish, subscribe), plus:

    - publishes are coalesced: every PUBLISH asked for while the event loop
      runs one round of callbacks goes out in one pipeline, one write and one
      read. A group commit of N chat messages wakes N consumers at once, and
      a write to Redis was the largest single cost of a message in Daphne
      (measured with py-spy: a quarter of the event loop's busy time);
    - group messages are decoded once for all local channels;
    - a lost connection is announced to every local channel (_signal_lost).
    """

    def __init__(self, host: Any, channel_layer: Any) -> None:
        super().__init__(host, channel_layer)
        self._outgoing: list[tuple[str, bytes, asyncio.Future[None]]] = []

    async def publish(self, channel: str, message: bytes) -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._outgoing.append((channel, message, done))
        if len(self._outgoing) == 1:
            loop.call_soon(self._flush_outgoing)
        await done

    def _flush_outgoing(self) -> None:
        batch, self._outgoing = self._outgoing, []
        if batch:
            asyncio.ensure_future(self._publish_batch(batch))

    async def _publish_batch(self, batch: list[tuple[str, bytes, asyncio.Future[None]]]) -> None:
        try:
            async with self._lock:
                self._ensure_redis()
                if len(batch) == 1:
                    await self._redis.publish(batch[0][0], batch[0][1])
                else:
                    pipe = self._redis.pipeline(transaction=False)
                    for channel, message, _ in batch:
                        pipe.publish(channel, message)
                    await pipe.execute()
        except BaseException as exc:
            for _, _, done in batch:
                if not done.done():
                    done.set_exception(exc if isinstance(exc, Exception) else RuntimeError(exc))
            if not isinstance(exc, Exception):
                raise
            return
        for _, _, done in batch:
            if not done.done():
                done.set_result(None)

    def _receive_message(self, message: Any) -> None:
        """The stock method, plus: a group message is decoded once for all the
        process' local (callback) channels in that group, not once per socket."""
        if message is None:
            return
        name = message["channel"]
        data = message["data"]
        if isinstance(name, bytes):
            name = name.decode()
        layer = self.channel_layer
        target = layer.channels.get(name)
        if target is not None:
            target.put_nowait(data)
            return
        members = layer.groups.get(name)
        if not members:
            return
        decoded = None
        for channel_name in list(members):
            target = layer.channels.get(channel_name)
            if target is None:
                continue
            if type(target) is LocalChannel:
                if decoded is None:
                    decoded = layer.channel_layer.deserialize(data)
                target.deliver(decoded)
            else:
                target.put_nowait(data)

    async def _do_receiving(self) -> None:
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=0.1
                    )
                    self._receive_message(message)
                else:
                    await asyncio.sleep(0.1)
            except (TimeoutError, asyncio.CancelledError, GeneratorExit):
                raise
            except Exception as exc:  # noqa: BLE001 - Redis gone: tell the consumers, retry
                logger.warning("channel layer: lost Redis (%s); closing local sockets", exc)
                self._signal_lost()
                await asyncio.sleep(1)

    def _signal_lost(self) -> None:
        layer = self.channel_layer  # the per-loop layer
        lost = layer.channel_layer.serialize(LAYER_LOST)
        for queue in list(layer.channels.values()):
            queue.put_nowait(lost)


class _SlimQueue:
    """What the layer needs of asyncio.Queue (put_nowait, get) for one local
    channel, at ~0.2 KiB instead of ~2.7 KiB (an asyncio.Queue carries three
    deques and an Event): every idle socket holds one or two of these.

    `receive_future` is `receive()` as a bare Future that resolves to the
    decoded message: a task parked in `await layer.receive(channel)` (the
    login-session guard's, one per socket) then holds no chain of coroutine
    frames (the layer proxy, receive, get)."""

    __slots__ = ("_items", "_waiters", "_direct")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._waiters: list[asyncio.Future[None]] | None = None
        self._direct: list[tuple[asyncio.Future[Any], Callable[[Any], Any]]] | None = None

    def put_nowait(self, item: Any) -> None:
        while self._direct:
            future, decode = self._direct.pop(0)
            if not future.done():
                if not self._direct:
                    self._direct = None
                try:
                    future.set_result(decode(item))
                except Exception as exc:  # noqa: BLE001 - the receiver raises it, as receive() did
                    future.set_exception(exc)
                return
        self._direct = None
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        if self._waiters:
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)
                    break

    def receive_future(
        self, decode: Callable[[Any], Any], on_cancel: Callable[[Any], None]
    ) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        if self._items:
            item = self._items.popleft()
            if not self._items:
                self._items = None
            try:
                future.set_result(decode(item))
            except Exception as exc:  # noqa: BLE001 - the receiver raises it
                future.set_exception(exc)
            return future
        if self._direct is None:
            self._direct = []
        self._direct.append((future, decode))
        future.add_done_callback(on_cancel)
        return future

    async def get(self) -> Any:
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                self._waiters.remove(waiter)
                if not self._waiters:
                    self._waiters = None
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item

    def qsize(self) -> int:
        return len(self._items) if self._items else 0


class LocalChannel:
    """A channel that lives only in this process and hands each message to a
    callback: what a chat socket needs (it hears its groups, and nobody sends
    to its own channel name). Unlike `new_channel()` it costs no Redis
    SUBSCRIBE, no queue, and no task parked in `receive()` per idle socket.
    The callback runs on the event loop and must not block; it is given the
    decoded message, shared by every local member of the group (read only)."""

    __slots__ = ("_layer", "deliver")

    def __init__(self, layer: Any, deliver: Callable[[dict[str, Any]], None]) -> None:
        self._layer = layer
        self.deliver = deliver

    def put_nowait(self, data: bytes) -> None:  # the layer-lost signal, direct sends
        self.deliver(self._layer.deserialize(data))


class _LoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args: Any, hosts: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, hosts=hosts, **kwargs)
        self._shards = [_Shard(host, self) for host in decode_hosts(hosts)]

    async def _subscribe_to_channel(self, channel: str) -> None:
        self.channels[channel] = _SlimQueue()
        await self._get_shard(channel).subscribe(channel)

    def receive_waiter(self, channel: str) -> Any:
        """An awaitable of the next message on `channel` (see _SlimQueue)."""
        queue = self.channels.get(channel)
        if type(queue) is not _SlimQueue:
            return RedisPubSubLoopLayer.receive(self, channel)  # subscribes first
        return queue.receive_future(
            self.channel_layer.deserialize,
            lambda future: future.cancelled() and self._forget(channel),
        )

    def _forget(self, channel: str) -> None:
        """What the stock receive() does when cancelled (its consumer is exiting)."""
        if self.channels.pop(channel, None) is not None:
            asyncio.ensure_future(self._unsubscribe_quietly(channel))

    async def _unsubscribe_quietly(self, channel: str) -> None:
        try:
            await self._get_shard(channel).unsubscribe(channel)
        except Exception:  # noqa: BLE001 - the subscription goes with the connection anyway
            logger.debug("channel layer: could not unsubscribe %s", channel, exc_info=True)

    def new_local_channel(self, deliver: Callable[[dict[str, Any]], None]) -> str:
        """A process-local channel name whose messages go to `deliver` (see LocalChannel)."""
        channel = f"{self.prefix}local.{uuid.uuid4().hex}"
        self.channels[channel] = LocalChannel(self.channel_layer, deliver)
        return channel

    def release_local_channel(self, channel: str) -> None:
        self.channels.pop(channel, None)


class ChatPubSubChannelLayer(RedisPubSubChannelLayer):
    """`channels_redis.pubsub.RedisPubSubChannelLayer` whose consumers hear of a lost Redis."""

    def _get_layer(self) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer

    def receive(self, channel: str) -> Any:  # type: ignore[override]
        """Awaitable like the stock `receive`, without a coroutine per waiting receiver."""
        return self._get_layer().receive_waiter(channel)

    def new_local_channel(self, deliver: Callable[[dict[str, Any]], None]) -> str:
        """See LocalChannel: a channel of this process and event loop only."""
        return self._get_layer().new_local_channel(deliver)

    def release_local_channel(self, channel: str) -> None:
        self._get_layer().release_local_channel(channel)
