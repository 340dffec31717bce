"""FormEase's cached backoffice figures (seed 002's policies) and the bus that drops them.

==================  ==========  ================================================
read                policy      invalidated by the tags of
==================  ==========  ================================================
form metrics        COMPUTED    ``fe_daily``, ``fe_daily_creators``, ``fe_completion``
user stats          COMPUTED    ``fe_users``, ``fe_user_days``
==================  ==========  ================================================

Each cached value is tagged with the read-model tables it was computed from, narrowed
to the tenant. FormEase's projections are inline (one per table), so a command's rows
are committed when the bus returns: :class:`InvalidatingBus` then drops the tags of
the tables whose projections handle the event types the bus's result names (nothing
is read back), here at once and, through the cache's channel, on every other node.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from apps.formease.projections import PROJECTIONS
from headwater.cache import Cache, CachePolicy, read_model_tag, tenant_tag
from headwater.domain import Command, CommandBus, CommandContext, CommandResult
from headwater.projections import Table

T = TypeVar("T")
R = TypeVar("R")


def tags(tenant: str, tables: Iterable[Table | str]) -> list[str]:
    names = sorted({t if isinstance(t, str) else t.name for t in tables})
    return [tenant_tag(tenant, read_model_tag(name)) for name in names]


def tables_of(event_types: Iterable[str]) -> set[str]:
    """The FormEase tables written by projecting events of ``event_types``."""
    return {
        table.name
        for projection in PROJECTIONS
        for type_name in event_types
        if projection.handles(type_name)
        for table in projection.tables
    }


async def cached(
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
        key, compute, policy=policy, tags=tags(tenant, tables), tenant=tenant
    )


class InvalidatingBus(CommandBus):
    """A command bus that drops the cached figures its commands' events made stale."""

    #: The node's cache (``runtime.cache``); not ``cache``, the bus's aggregate cache.
    read_cache: Cache | None = None

    async def send(
        self, command: Command[R], context: CommandContext | None = None
    ) -> CommandResult[R]:
        result = await super().send(command, context)
        read_cache = self.read_cache
        tenant = context.tenant_id if context is not None else None
        if read_cache is not None and tenant is not None and not result.replayed:
            stale = tables_of(result.event_types)
            if stale:
                await read_cache.invalidate_tags(*tags(tenant, stale))
        return result
