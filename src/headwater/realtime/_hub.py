"""The hub: one store subscription per node, routing each event to local subscribers.

Cross-node delivery needs no bus of its own: every node's hub follows the event
store (on PostgreSQL, LISTEN/NOTIFY wakes it when any node commits), so a commit on
node A reaches the subscribers on node B through B's own read of the log, in order.

The log can be rewound under the hub: a PostgreSQL standby promoted after
asynchronous replication lost the newest commits, or an older SQLite file restored.
The store then gives the lost positions to new events, and a hub that went on from
its own position would skip them for every client. The store's read notices instead
(``LogRewound``); the hub finds the highest position it routed that is still in the
log, follows on from there, and closes every client that was handed anything above
it with the resync code and ``{"resync_from": P}``, a position valid now. A client
that comes back with a position from the lost range is told the same.

Subscribing with ``from_position`` (a client resuming) goes *live first*: the
subscription is registered with its cursor holding live frames in a buffer, history
is read from the store up to the hub's position at registration, and then the buffer
is flushed, dropping anything at or below the last position sent. Every frame
carries its position, so the client sees no gap and no duplicate. If the buffer
overflows meanwhile it is dropped and history is simply read further: the store,
not memory, is the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from typing import Any, cast

from headwater.errors import InvalidChannel, LogRewound, StoreUnavailable
from headwater.eventstore import EventStore, RecordedEvent
from headwater.identity._channels import (
    ADMIN,
    CATEGORY,
    DEFAULT_POLICIES,
    EXCLUDE_AUTHOR,
    KEYLESS,
    STREAM,
    Channel,
    ChannelRegistry,
    event_channel_names,
)
from headwater.identity._principal import Principal
from headwater.identity._reserved import is_security_event
from headwater.realtime._config import RealtimeConfig
from headwater.realtime._connection import CloseCode, Connection
from headwater.realtime._frames import Frame, event_body, event_frame, message, notice_frame
from headwater.realtime._gc import GcKeeper
from headwater.realtime._presence import Roster
from headwater.realtime._subscription import Cursor, Sink, Subscription
from headwater.realtime._sweeper import Sweeper
from headwater.realtime._topics import TopicKey, TopicProvider, TopicScheduler

log = logging.getLogger("headwater.realtime")


def excluded_author(event: RecordedEvent) -> str | None:
    """The subject whose connections this event skips, or None (everyone gets it)."""
    if event.metadata.get(EXCLUDE_AUTHOR) is not True:
        return None
    actor = event.metadata.get("actor")
    return actor if isinstance(actor, str) else None


#: Seconds between retries when the store subscription fails (e.g. database restart).
#: At most 1 s: every attempt is itself bounded by the store's deadlines (a few
#: seconds on a dead link), and a healed link should deliver again within seconds.
_RETRY_DELAYS = (0.1, 0.5, 1.0)
#: Events routed whose (position, id) the hub keeps, to find after a rewind how much
#: of what it sent is still in the log. Asynchronous replication loses well under a
#: second of commits; a deeper rewind sends every client back to position 0.
_REWIND_MEMORY = 16_384


class _Members:
    """The subscribers of one (tenant, channel), with a snapshot for fan-out loops.

    Fan-out iterates the snapshot, so a connection that closes mid-loop (and
    unsubscribes) cannot change the collection being iterated.
    """

    __slots__ = ("_snapshot", "roster", "subs")

    def __init__(self) -> None:
        self.subs: dict[Subscription, None] = {}
        self._snapshot: tuple[Subscription, ...] | None = None
        self.roster: Roster | None = None

    def add(self, sub: Subscription) -> None:
        self.subs[sub] = None
        self._snapshot = None

    def remove(self, sub: Subscription) -> None:
        self.subs.pop(sub, None)
        self._snapshot = None

    def snapshot(self) -> tuple[Subscription, ...]:
        if self._snapshot is None:
            self._snapshot = tuple(self.subs)
        return self._snapshot


class Hub:
    def __init__(
        self,
        store: EventStore,
        channels: ChannelRegistry,
        *,
        admin_events: Mapping[str, str],
        config: RealtimeConfig,
        topics: Iterable[TopicProvider] = (),
    ) -> None:
        self.store = store
        #: Who may follow what: the one registry, shared with the security module.
        self.channels = channels
        #: Read-model topics by channel kind; each kind's policy is in ``channels``.
        self._topics: dict[str, TopicProvider] = {}
        self.config = config
        self._admin_events = dict(admin_events)
        self._admin_types = frozenset(self._admin_events)
        #: Highest position routed: every event at or below it reached its subscribers.
        self.position = 0
        self.events_routed = 0
        #: (position, id) of the newest events routed, oldest first (see _rewound).
        self._routed: deque[tuple[int, uuid.UUID]] = deque(maxlen=_REWIND_MEMORY)
        #: Position ranges (valid_through, last routed] that rewinds gave to new events:
        #: a client resuming from inside one may hold events the log no longer has.
        self.rewinds: list[tuple[int, int]] = []
        #: The store's log identity when the subscription last (re)started.
        self.log_identity: str | None = None
        #: Called for each ``metrics.updated`` notice; their figures join the hub's own
        #: (the admin dashboard adds ``{"node": {...}}``: requests, latency, queue...).
        self.metric_sources: list[Callable[[], Mapping[str, Any] | None]] = []
        self._index: dict[TopicKey, _Members] = {}
        self.connections: set[Connection] = set()
        self.topics = TopicScheduler(
            lambda: list(self._topics.values()), self.subscribers, lambda: self.position
        )
        for provider in topics:
            self.add_topic(provider)
        self.sweeper = Sweeper(self, config)
        #: Short collector pauses with thousands of sockets (see ``_gc``); None when off.
        self.gc = GcKeeper(lambda: len(self.connections)) if config.tune_gc else None
        #: Deliveries between two yields to the event loop during a fan-out.
        self._slice = max(1, config.fanout_slice)
        #: True once the store has been unreachable for ``outage_close_after``: clients
        #: are closed with 1013 and new ones refused until it answers again.
        self.store_down = False
        self._outage_since: float | None = None
        #: Store reads on behalf of subscribing clients (history, head checks) share
        #: this: a subscribe storm takes at most this many pool connections, and
        #: HTTP requests keep the rest.
        self.store_reads = asyncio.Semaphore(max(1, config.subscribe_store_reads))
        self._task: asyncio.Task[None] | None = None
        self._started = asyncio.Event()

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Follow the store from its head: clients ask for older events explicitly."""
        self.position = await self.store.head_position()
        self._task = asyncio.create_task(self._follow(), name="headwater-realtime-hub")
        self.sweeper.start()
        if self.gc is not None:
            self.gc.start()

    async def stop(self) -> None:
        self.sweeper.stop()
        if self.gc is not None:
            self.gc.stop()
        self.topics.close()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for conn in list(self.connections):
            conn.close(CloseCode.GOING_AWAY, "server shutting down")

    async def _follow(self) -> None:
        failures = 0
        while True:
            try:
                await self._check_identity()
                # With the id of the last event routed, a subscription restarted after
                # an outage still notices that a failover gave its position away.
                last_id = self._routed[-1][1] if self._routed else None
                if last_id is not None and self._routed[-1][0] != self.position:
                    last_id = None
                events = self.store.subscribe(after=self.position, after_event_id=last_id)
                self._store_back()
                async for event in events:
                    failures = 0
                    work = self._route(event)
                    if work:
                        await self._fan_out(work)
            except LogRewound as rewound:
                try:
                    await self._rewound(rewound)
                except StoreUnavailable as exc:
                    # Nothing changed yet: the next subscription notices the rewind again.
                    log.warning("realtime hub: store unavailable during a resync (%s)", exc)
                    await asyncio.sleep(_RETRY_DELAYS[0])
            except StoreUnavailable as exc:
                delay = _RETRY_DELAYS[min(failures, len(_RETRY_DELAYS) - 1)]
                failures += 1
                self._store_lost(exc)
                log.warning("realtime hub: store unavailable (%s); retrying in %ss", exc, delay)
                await asyncio.sleep(delay)
            except Exception:
                log.exception("realtime hub: routing failed; resuming from %s", self.position)
                await asyncio.sleep(_RETRY_DELAYS[-1])

    # --- store outages ---------------------------------------------------------------

    def _store_lost(self, exc: StoreUnavailable) -> None:
        """After ``outage_close_after`` seconds without the store, close every client
        with 1013: it would get no events, and it resumes from its position later."""
        now = time.monotonic()
        if self._outage_since is None:
            self._outage_since = now
        if self.store_down or now - self._outage_since < self.config.outage_close_after:
            return
        self.store_down = True
        reason = "the event store is unavailable"
        log.warning("realtime hub: %s (%s): closing every client with 1013", reason, exc)
        sinks: dict[int, Sink] = {id(conn): conn for conn in self.connections}
        for members in self._index.values():
            for sub in members.snapshot():
                sinks.setdefault(id(sub.sink), sub.sink)
        for sink in sinks.values():
            sink.unavailable(reason)

    def _store_back(self) -> None:
        if self._outage_since is not None:
            log.info("realtime hub: the event store answers again")
        self._outage_since = None
        self.store_down = False

    # --- routing (the hot path) -------------------------------------------------------

    def _route(self, event: RecordedEvent) -> list[tuple[Frame, tuple[Subscription, ...]]]:
        """Who gets ``event``: one encoded frame per channel and its subscribers.

        Synchronous, so the snapshots and the hub's position move together: a client
        subscribing while a large fan-out is still being written (it yields) starts
        above this event, and one resuming reads it from the store.
        """
        position = event.position
        self.events_routed += 1
        index = self._index
        work: list[tuple[Frame, tuple[Subscription, ...]]] = []
        # Security events (accounts, keys: argon2 hashes, digests) never leave the server.
        if index and not is_security_event(event.type):
            tenant = event.tenant_id
            author = excluded_author(event)
            body: str | None = None
            for name in event_channel_names(event):
                members = index.get((tenant, name))
                if members is None:
                    continue
                if body is None:
                    body = event_body(event)
                subs = members.snapshot()
                if author is not None:
                    subs = tuple(sub for sub in subs if sub.sink.principal.subject != author)
                work.append((event_frame(name, position, body), subs))
            admin_name = self._admin_events.get(event.type)
            if admin_name is not None:
                members = index.get((tenant, ADMIN))
                if members is not None:
                    frame = event_frame(ADMIN, position, event_body(event, admin_name))
                    subs = members.snapshot()
                    if author is not None:
                        subs = tuple(sub for sub in subs if sub.sink.principal.subject != author)
                    work.append((frame, subs))
        self.position = position
        self._routed.append((position, event.id))
        if not is_security_event(event.type):
            self.topics.on_event(event)
        return work

    async def _fan_out(self, work: list[tuple[Frame, tuple[Subscription, ...]]]) -> None:
        """Hand each frame to its subscribers, yielding to the loop every slice.

        A frame is encoded once and offered to every subscriber; each offer writes to
        its socket's transport without awaiting it. Slices keep one event to 20,000
        sockets from holding the loop for most of a second: heartbeats, pings and HTTP
        requests are served in between. The next event waits until this one is out, so
        every socket still gets events in order.
        """
        budget = self._slice
        for frame, subs in work:
            count = len(subs)
            if count <= budget:
                budget -= count
                for sub in subs:
                    sub.offer(frame)
                continue
            start = 0
            while start < count:
                end = start + budget
                for sub in subs[start:end]:
                    sub.offer(frame)
                start = end
                if start < count:
                    await asyncio.sleep(0)
                    budget = self._slice
                else:
                    budget = end - count

    # --- rewinds ----------------------------------------------------------------------

    async def _check_identity(self) -> None:
        """Say so when the database behind the store changed history (a promotion).

        Informational: what protects the clients is the subscription's own check of
        the last event routed, which also catches a rewind without a new timeline.
        """
        identity = await self.store.log_identity()
        if self.log_identity is not None and identity != self.log_identity:
            log.warning(
                "realtime hub: the event store's database changed history (%s -> %s): "
                "a failover; checking that position %s is still the event routed there",
                self.log_identity,
                identity,
                self.position,
            )
        self.log_identity = identity

    async def _rewound(self, rewound: LogRewound) -> None:
        """Go back to the last position still in the log; resync whoever got past it."""
        valid = await self.store.last_unchanged(self._routed)
        if rewound.valid_through is not None:
            valid = max(valid or 0, rewound.valid_through)
        last = self.position
        if valid is None:
            log.error(
                "realtime hub: the log was rewound below the %s events it remembers "
                "(last routed %s, head now %s); every client resyncs from 0",
                len(self._routed),
                last,
                rewound.head,
            )
            valid = 0
        else:
            log.warning(
                "realtime hub: the log was rewound (last routed %s, head now %s); "
                "positions after %s name other events now: clients resync from there",
                last,
                rewound.head,
                valid,
            )
        while self._routed and self._routed[-1][0] > valid:
            self._routed.pop()
        if last > valid:
            self.rewinds.append((valid, last))
        # No await from here on: no event is routed while cursors are compared.
        self.position = valid
        for members in list(self._index.values()):
            for sub in members.snapshot():
                cursor = sub.cursor
                if sub.ordered and (cursor.last_sent > valid or cursor.catching_up):
                    sub.sink.resync(valid)

    def resume_point(self, from_position: int | None) -> int | None:
        """Where a client resuming from ``from_position`` must resync from instead, when
        that position lies in a range a rewind gave to other events; else ``None``."""
        if from_position is None:
            return None
        for valid, last in self.rewinds:
            if valid < from_position <= last:
                return valid
        return None

    def subscribers(self, key: TopicKey) -> tuple[Subscription, ...]:
        members = self._index.get(key)
        return members.snapshot() if members is not None else ()

    # --- authorization ----------------------------------------------------------------

    async def authorize(self, principal: Principal, channel: Channel) -> bool:
        """May ``principal`` follow ``channel``? Its kind's policy, or a rule an app gave
        the registry by name; never a security stream.

        Whether a named stream exists, or is another tenant's, is not asked: every
        subscription is scoped by the principal's tenant (fan-out and catch-up filter
        on it), so another tenant's stream delivers nothing, exactly like a stream
        that does not exist yet; refusing it would tell the caller that it exists.
        """
        return await self.channels.authorize(principal, channel)

    # --- topics -----------------------------------------------------------------------

    def add_topic(self, provider: TopicProvider) -> None:
        """Serve ``provider``'s read model on ``{kind}:{key}`` channels, under its policy."""
        if provider.kind in DEFAULT_POLICIES or provider.kind in KEYLESS:
            raise InvalidChannel(f"{provider.kind!r} is a built-in channel kind")
        self.channels.set_policy(provider.kind, provider.policy)
        self._topics[provider.kind] = provider
        self.topics.providers_changed()

    def topic(self, kind: str) -> TopicProvider | None:
        return self._topics.get(kind)

    # --- subscriptions ----------------------------------------------------------------

    def subscribe(
        self,
        sink: Sink,
        channels: Sequence[Channel],
        *,
        from_position: int | None,
        presence: bool = False,
    ) -> tuple[list[Subscription], int | None]:
        """Register live subscriptions sharing one cursor; synchronous, so no event slips.

        Returns them and, when history must be read first, the position to read up to
        (pass both to :meth:`catch_up`); ``None`` means live from the hub's position.
        """
        start = self.position
        cursor = Cursor(start, self.config.catchup_buffer)
        target: int | None = None
        carries_events = any(self.topic(c.kind) is None for c in channels)
        if from_position is not None and carries_events:
            if from_position < start:
                cursor.last_sent = from_position
                cursor.hold()
                target = start
            else:
                # A client ahead of this node (it read from a faster one): skip what it has.
                cursor.last_sent = from_position
        subs = []
        for channel in channels:
            ordered = self.topic(channel.kind) is None
            sub = Subscription(sink, channel, cursor, presence=presence, ordered=ordered)
            self._add(sub)
            subs.append(sub)
        return subs, target

    def _add(self, sub: Subscription) -> None:
        members = self._index.get(sub.key)
        if members is None:
            members = self._index[sub.key] = _Members()
            if not sub.ordered:
                self.topics.followed(sub.tenant_id, sub.channel.kind, sub.name)
        members.add(sub)

    def unsubscribe(self, sub: Subscription) -> None:
        members = self._index.get(sub.key)
        if members is None or sub not in members.subs:
            return
        members.remove(sub)
        if sub.presence:
            self._leave(members, sub)
        if not members.subs:
            del self._index[sub.key]
            if not sub.ordered:
                self.topics.unfollowed(sub.tenant_id, sub.channel.kind, sub.name)

    async def catch_up(self, subs: Sequence[Subscription], target: int) -> None:
        """Send the history the subscriptions' shared cursor lacks, then go live."""
        cursor = subs[0].cursor
        sink = subs[0].sink
        ordered = [s for s in subs if s.ordered]
        while True:
            async with self.store_reads:
                await self._send_history(sink, cursor, ordered, target)
            if not cursor.overflowed or not sink.is_open:
                break
            # The live buffer overflowed and was dropped: read history further instead.
            # Taking the new target and resetting the buffer happen with no await between.
            cursor.hold()
            target = self.position
        buffered, cursor.buffer = cursor.buffer or (), None
        for frame, sub in buffered:
            sub.offer(frame)  # drops what history already sent

    async def _send_history(
        self, sink: Sink, cursor: Cursor, subs: Sequence[Subscription], target: int
    ) -> None:
        if not subs or cursor.last_sent >= target:
            return
        tenant = sink.principal.tenant_id
        channels = [s.channel for s in subs]
        scope = _history_filter(channels, tenant, self._admin_types)
        reader = self.store.read_all(after=cursor.last_sent, **scope)
        async with contextlib.aclosing(cast(AsyncGenerator[RecordedEvent], reader)) as events:
            async for event in events:
                if event.position > target or not sink.is_open:
                    break
                if event.tenant_id != tenant or is_security_event(event.type):
                    continue
                if excluded_author(event) == sink.principal.subject:
                    continue
                for sub in subs:
                    if sub.channel.matches(event, self._admin_types):
                        name = self._admin_events.get(event.type) if sub.name == ADMIN else None
                        frame = event_frame(sub.name, event.position, event_body(event, name))
                        cursor.last_sent = event.position
                        await sink.put(frame, sub)
                        break

    # --- presence ---------------------------------------------------------------------

    def join(self, sub: Subscription) -> None:
        """List a presence subscriber; call after its ``subscribed`` message went out."""
        members = self._index.get(sub.key)
        if members is None or not sub.presence:
            return
        roster = members.roster
        if roster is None:
            roster = members.roster = Roster()
        principal = sub.sink.principal
        first = roster.join(principal.subject, principal.display_name)
        sub.sink.push(message("presence", channel=sub.name, members=roster.members()), sub)
        if first:
            self._announce(members, sub, joined=principal.subject)

    def _leave(self, members: _Members, sub: Subscription) -> None:
        if members.roster is not None and members.roster.leave(sub.sink.principal.subject):
            self._announce(members, sub, left=sub.sink.principal.subject)

    def _announce(self, members: _Members, origin: Subscription, **change: str) -> None:
        assert members.roster is not None
        frame = message("presence", channel=origin.name, members=members.roster.members(), **change)
        for sub in members.snapshot():
            if sub.presence and sub is not origin:
                sub.offer(frame)

    def presence(self, tenant: str | None, channel: str) -> list[dict[str, Any]]:
        members = self._index.get((tenant, channel))
        return members.roster.members() if members and members.roster else []

    # --- framework notices on the admin feed ------------------------------------------

    def notify_admin(self, tenant: str | None, name: str, data: Any) -> None:
        """Push a notice (``metrics.updated``, ``system.alert``) to a tenant's admin feed.

        Notices are not events: they are not stored, so a resuming client does not
        get them again. Store a ``system.alert`` event instead when that matters.
        """
        members = self._index.get((tenant, ADMIN))
        if members is None:
            return
        frame = notice_frame(ADMIN, name, data, self.position)
        for sub in members.snapshot():
            sub.offer(frame)

    def admin_tenants(self) -> list[str | None]:
        return [tenant for tenant, name in self._index if name == ADMIN]


def _history_filter(
    channels: Sequence[Channel], tenant: str | None, admin_types: frozenset[str]
) -> dict[str, Any]:
    """The narrowest store filter that still returns every event of these channels."""
    args: dict[str, Any] = {"tenant_id": tenant}
    if len(channels) == 1:
        channel = channels[0]
        if channel.kind == STREAM:
            args["stream_prefix"] = channel.key
        elif channel.kind == CATEGORY:
            args["stream_prefix"] = f"{channel.key}-"
        elif channel.kind == ADMIN:
            args["types"] = admin_types or ("-",)  # no mapped type: nothing matches
    return args
