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
from collections import deque
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
    deques and an Event): every idle socket holds one or two of these."""

    __slots__ = ("_items", "_waiters")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._waiters: list[asyncio.Future[None]] | None = None

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        if self._waiters:
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)
                    break

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


class _LoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args: Any, hosts: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, hosts=hosts, **kwargs)
        self._shards = [_Shard(host, self) for host in decode_hosts(hosts)]

    async def _subscribe_to_channel(self, channel: str) -> None:
        self.channels[channel] = _SlimQueue()
        await self._get_shard(channel).subscribe(channel)


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
