"""L2: entries in Redis shared by every node, with tag versions and the invalidation channel.

Layout under a namespace ``ns``::

    ns:v:<scoped key>   the encoded entry [format, expires_at, delta, {tag: version}, value]
    ns:t:<tag>          the tag's version, an integer INCRed by every invalidation
    ns:l:<scoped key>   the early-refresh lock (SET NX PX): one node refreshes at a time
    ns:invalidate       the pub/sub channel telling other nodes to drop L1 copies

An entry records the versions of its tags as they were when its computation
*started*; a read fetches the entry and its tags' current versions in one MGET and
rejects an entry any of whose tags moved since. So an invalidation wins even when
its pub/sub message is missed, and even when it lands while the value is being
computed from the old read model (the compute-then-store race).

Every call goes through the Redis ``Guard``; failures propagate to ``Cache``, which
falls back to computing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis

from headwater.cache._entry import Entry, TagVersions
from headwater.cache._serializers import Serializer
from headwater.resilience._guard import Guard

FORMAT = 1


@dataclass(slots=True)
class L2Read:
    entry: Entry | None
    #: The tags' current versions: what a value computed now must be stored with.
    versions: TagVersions
    #: True when an entry was there but one of its tags had moved on.
    rejected: bool = False


class RedisCache:
    def __init__(
        self,
        client: aioredis.Redis,
        guard: Guard,
        serializer: Serializer,
        namespace: str = "hw:cache",
    ) -> None:
        self.client = client
        self.guard = guard
        self.serializer = serializer
        self.namespace = namespace
        self.channel = f"{namespace}:invalidate"

    def _value_key(self, key: str) -> str:
        return f"{self.namespace}:v:{key}"

    def _tag_key(self, tag: str) -> str:
        return f"{self.namespace}:t:{tag}"

    def encode(self, entry: Entry) -> bytes:
        record = [FORMAT, entry.expires_at, entry.delta, entry.versions, entry.value]
        return self.serializer.dumps(record)

    def decode(self, data: bytes) -> Entry | None:
        try:
            fmt, expires_at, delta, versions, value = self.serializer.loads(data)
        except (ValueError, TypeError):
            return None  # written by another format or serializer: a miss, not an error
        if fmt != FORMAT:
            return None
        return Entry(value, float(expires_at), float(delta), dict(versions))

    async def get(self, key: str, tags: Sequence[str]) -> L2Read:
        names = [self._value_key(key), *(self._tag_key(t) for t in tags)]
        raw: list[bytes | str | None] = await self.guard.call(lambda: self.client.mget(names))
        versions = {tag: int(v or 0) for tag, v in zip(tags, raw[1:], strict=True)}
        if raw[0] is None:
            return L2Read(None, versions)
        entry = self.decode(raw[0]) if isinstance(raw[0], bytes) else None
        if entry is None:
            return L2Read(None, versions)
        if any(entry.versions.get(tag, 0) != version for tag, version in versions.items()):
            return L2Read(None, versions, rejected=True)
        return L2Read(entry, versions)

    async def set(self, key: str, data: bytes, keep_seconds: float) -> None:
        millis = max(1, int(keep_seconds * 1000))
        await self.guard.call(lambda: self.client.set(self._value_key(key), data, px=millis))

    async def delete(self, key: str) -> None:
        await self.guard.call(lambda: self.client.delete(self._value_key(key)))

    async def try_lock(self, key: str, seconds: float) -> bool:
        name = f"{self.namespace}:l:{key}"
        millis = max(1, int(seconds * 1000))
        got: Any = await self.guard.call(lambda: self.client.set(name, b"1", nx=True, px=millis))
        return bool(got)

    async def invalidate(self, tags: Sequence[str], origin: str) -> None:
        """Bump the tags' versions, then tell the other nodes, in one round trip."""
        message = orjson.dumps({"origin": origin, "tags": list(tags)})

        async def run() -> list[Any]:
            async with self.client.pipeline(transaction=True) as pipe:
                for tag in tags:
                    pipe.incr(self._tag_key(tag))
                pipe.publish(self.channel, message)
                result: list[Any] = await pipe.execute()
                return result

        await self.guard.call(run)
