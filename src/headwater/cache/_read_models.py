"""Cached reads of inline read models, and the command bus that drops them when stale.

An app caches a read under the tags of the read-model tables it was computed from,
narrowed to the tenant (``tenant_tag(tenant, read_model_tag(table))``). Its projections
are inline, so a command's rows are committed when the bus returns:
:class:`InvalidatingBus` then drops the tags of the tables its events' handlers write,
from the event types the bus's result names (nothing is read back), on this node at
once and, through the cache's channel, on every other. A read that follows its own
write therefore never sees the value cached before it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from headwater.cache._cache import Cache
from headwater.cache._policies import CachePolicy
from headwater.cache._tags import read_model_tag, tenant_tag
from headwater.domain import Command, CommandBus, CommandContext, CommandResult
from headwater.projections import Projection, Table

T = TypeVar("T")
R = TypeVar("R")


class ReadModels:
    """An app's read-model tables as cache tags: which tags a read carries, and which a
    command's events make stale.

    ``writes`` narrows an event type to the tables its handler really writes, where
    that is fewer than its projection has (a player's answer need not drop the game's
    configuration); a type it does not name drops every table of each projection that
    handles it, which is always safe.
    """

    def __init__(
        self,
        projections: Sequence[Projection],
        writes: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self.projections = tuple(projections)
        self.writes: Mapping[str, frozenset[str]] = dict(writes or {})

    @staticmethod
    def tags(tenant: str, tables: Iterable[Table | str]) -> list[str]:
        names = sorted({t if isinstance(t, str) else t.name for t in tables})
        return [tenant_tag(tenant, read_model_tag(name)) for name in names]

    def tables_of(self, event_types: Iterable[str]) -> set[str]:
        """The tables written by projecting events of ``event_types``."""
        found: set[str] = set()
        for type_name in event_types:
            narrow = self.writes.get(type_name)
            if narrow is not None:
                found |= narrow
                continue
            for projection in self.projections:
                if projection.handles(type_name):
                    found |= {table.name for table in projection.tables}
        return found

    async def cached(
        self,
        cache: Cache | None,
        tenant: str,
        key: str,
        compute: Callable[[], Awaitable[T]],
        *,
        policy: CachePolicy,
        tables: Iterable[Table],
    ) -> T:
        """``compute()`` through the cache (straight through when the node has none)."""
        if cache is None:
            return await compute()
        return await cache.get_or_compute(
            key, compute, policy=policy, tags=self.tags(tenant, tables), tenant=tenant
        )

    async def invalidate(self, cache: Cache, tenant: str, event_types: Iterable[str]) -> None:
        """Drop the cached reads that events of ``event_types`` in ``tenant`` made stale."""
        stale = self.tables_of(event_types)
        if stale:
            await cache.invalidate_tags(*self.tags(tenant, stale))


class InvalidatingBus(CommandBus):
    """A command bus that drops the cached reads its commands' events made stale.

    Set ``read_models`` (the app's :class:`ReadModels`) and ``read_cache`` (the node's
    cache, ``runtime.cache``; not ``cache``, which is the bus's aggregate cache).
    """

    read_models: ReadModels | None = None
    read_cache: Cache | None = None

    async def send(
        self, command: Command[R], context: CommandContext | None = None
    ) -> CommandResult[R]:
        result = await super().send(command, context)
        read_cache, read_models = self.read_cache, self.read_models
        # The result names the events the append recorded (all on the context's tenant).
        if (
            read_cache is not None
            and read_models is not None
            and context is not None
            and context.tenant_id is not None
            and not result.replayed
        ):
            await read_models.invalidate(read_cache, context.tenant_id, result.event_types)
        return result
