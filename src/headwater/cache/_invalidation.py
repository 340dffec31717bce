"""Listens on the invalidation channel and drops L1 copies of the tags other nodes changed.

Pub/sub is at-most-once: a message sent while this node is disconnected is lost.
So the listener tells the cache when the subscription drops and when it is back,
and the cache then clears its L1 (it may have missed messages) and, until the
channel is back, trusts L1 copies only briefly. L2 entries need none of this: they
carry tag versions (see ``redis.py``).

The subscription uses its own connection with no read timeout (an idle channel is
normal) and a health-check PING, so a dead Redis is noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from headwater.resilience._redis import REDIS_DOWN

logger = logging.getLogger("headwater.cache")


class InvalidationListener:
    def __init__(
        self,
        url: str,
        channel: str,
        *,
        on_tags: Callable[[list[str], str], None],
        on_connection: Callable[[bool], None],
        reconnect_delay: float = 0.5,
    ) -> None:
        self.url = url
        self.channel = channel
        self._on_tags = on_tags
        self._on_connection = on_connection
        self._reconnect_delay = reconnect_delay
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"cache-invalidation:{self.channel}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        client: aioredis.Redis = aioredis.Redis.from_url(
            self.url,
            socket_connect_timeout=0.5,
            health_check_interval=2,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            while True:
                try:
                    await self._listen(client)
                except REDIS_DOWN as exc:
                    logger.warning("cache invalidation channel lost: %s", exc)
                if self.connected.is_set():
                    self.connected.clear()
                    self._on_connection(False)
                await asyncio.sleep(self._reconnect_delay)
        finally:
            await client.aclose()

    async def _listen(self, client: aioredis.Redis) -> None:
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(self.channel)
            self.connected.set()
            self._on_connection(True)
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None or message.get("type") != "message":
                    continue
                try:
                    body = orjson.loads(message["data"])
                    self._on_tags([str(t) for t in body["tags"]], str(body["origin"]))
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    logger.warning("ignored a malformed invalidation message")
