"""QR Event's cached reads (seed 002's policies) and the bus that invalidates them.

=====================  ==========  ===========================================
read                   policy      invalidated by the tags of
=====================  ==========  ===========================================
event lists, details   FREQUENT    ``qe_events``
game configurations    STATIC      ``qe_games``
event counts           COMPUTED    ``qe_counts``, ``qe_gate_counts``, ``qe_events``
leaderboards           REALTIME    the game's own tag (``apps.qrevent.leaderboard``)
=====================  ==========  ===========================================

Every cached value is tagged with its read-model tables, narrowed to the tenant
(``tenant_tag(tenant, read_model_tag(table))``). The projections are inline, so a
command's rows are committed when the bus returns: :class:`InvalidatingBus` then
drops the tags of the tables its events' handlers write (:data:`WRITES` per type, or
every table of the projections that handle it; the types come with the bus's result,
nothing is read back), on
this node at once and, through the cache's channel, on every other. A read that
follows its own write therefore never sees the cached value from before it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from apps.qrevent.domain import event as ev
from apps.qrevent.domain import game as gm
from apps.qrevent.domain import invitation as inv
from apps.qrevent.domain import people
from apps.qrevent.projections import PROJECTIONS
from apps.qrevent.projections.directory import EVENTS, FAMILIES, GUESTS, INVITATIONS
from apps.qrevent.projections.games import SCORES
from headwater.cache import Cache, CachePolicy, read_model_tag, tenant_tag
from headwater.domain import Command, CommandBus, CommandContext, CommandResult
from headwater.projections import Table

T = TypeVar("T")
R = TypeVar("R")


def tags(tenant: str, tables: Iterable[Table | str]) -> list[str]:
    names = sorted({t if isinstance(t, str) else t.name for t in tables})
    return [tenant_tag(tenant, read_model_tag(name)) for name in names]


#: Event types whose handler writes fewer tables than its projection has, and those
#: tables: so a player's answer leaves the game's configuration cached, and a new guest
#: the event list and counts. A type not named here drops every table of each projection
#: that handles it (always safe). Checked against the statements the handlers emit
#: (tests/apps/qrevent/test_caching.py), so a handler that starts writing another
#: table fails a test instead of leaving a stale read.
WRITES: dict[str, frozenset[str]] = {
    cls.event_type: frozenset(t.name for t in tables)
    for cls, tables in (
        (ev.EventCreated, [EVENTS]),
        (ev.EventUpdated, [EVENTS]),
        (ev.EventStatusChanged, [EVENTS]),
        (people.FamilyCreated, [FAMILIES]),
        (people.FamilyRenamed, [FAMILIES]),
        (people.FamilyDeleted, [FAMILIES, GUESTS]),
        (people.GuestRegistered, [GUESTS]),
        (people.GuestUpdated, [GUESTS]),
        (inv.InvitationIssued, [INVITATIONS, GUESTS]),
        (inv.InvitationRevoked, [INVITATIONS]),
        (gm.ParticipantJoined, [SCORES]),
        (gm.AnswerRecorded, [SCORES]),
    )
}


def tables_of(event_types: Iterable[str]) -> set[str]:
    """The QR Event tables written by projecting events of ``event_types``."""
    found: set[str] = set()
    for type_name in event_types:
        narrow = WRITES.get(type_name)
        if narrow is not None:
            found |= narrow
            continue
        for projection in PROJECTIONS:
            if projection.handles(type_name):
                found |= {table.name for table in projection.tables}
    return found


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
    """A command bus that drops the cached reads its commands' events made stale."""

    #: The node's cache (``runtime.cache``); not ``cache``, the bus's aggregate cache.
    read_cache: Cache | None = None

    async def send(
        self, command: Command[R], context: CommandContext | None = None
    ) -> CommandResult[R]:
        result = await super().send(command, context)
        read_cache = self.read_cache
        tenant = context.tenant_id if context is not None else None
        # The result names the events the append recorded (all on the context's tenant):
        # no read back per event, which the door's scans paid on every command.
        if read_cache is not None and tenant is not None and not result.replayed:
            stale = tables_of(result.event_types)
            if stale:
                await read_cache.invalidate_tags(*tags(tenant, stale))
        return result
