"""Throttled read-model topics, e.g. ``leaderboard:{game_id}``.

A topic carries a read model's latest state rather than events. An app registers a
:class:`TopicProvider`: which event types may change the state, which topic key an
event touches, and how to fetch the state. When such an event passes the hub, the
topic is marked stale; at most one push per ``interval`` follows, fetched at push
time so it carries the latest state (ten scans in a second give one push, not ten).
Nothing is fetched for a topic nobody on this node follows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from headwater.eventstore import RecordedEvent
from headwater.identity._channels import ChannelPolicy, requires
from headwater.identity._principal import Role
from headwater.realtime._frames import topic_frame
from headwater.realtime._subscription import Subscription

log = logging.getLogger("headwater.realtime")

TopicKey = tuple[str | None, str]  # (tenant, channel name)


def _no_key(event: RecordedEvent) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class TopicProvider:
    #: The channel kind: subscribers use ``{kind}:{key}``.
    kind: str
    #: ``fetch(tenant_id, key)`` -> the JSON-able state to push.
    fetch: Callable[[str | None, str], Awaitable[Any]]
    #: Event types that may change some topic of this kind.
    triggers: frozenset[str]
    #: The key an event touches; None means "any key of this kind may have changed".
    key_of: Callable[[RecordedEvent], str | None] = _no_key
    #: At most one push per this many seconds per topic.
    interval: float = 1.0
    policy: ChannelPolicy = field(default_factory=lambda: requires(Role.USER))


@dataclass(slots=True)
class _TopicState:
    last_push: float = float("-inf")
    timer: asyncio.TimerHandle | None = None
    task: asyncio.Task[None] | None = None
    dirty: bool = False


class TopicScheduler:
    def __init__(
        self,
        providers: Callable[[], Sequence[TopicProvider]],
        subscribers: Callable[[TopicKey], Sequence[Subscription]],
        position: Callable[[], int],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._providers = providers
        self._subscribers = subscribers
        self._position = position
        self._clock = clock
        self._states: dict[TopicKey, _TopicState] = {}
        #: Followed topic names per (tenant, kind), for events that touch every key.
        self._active: dict[tuple[str | None, str], set[str]] = {}
        self._by_type: dict[str, list[TopicProvider]] | None = None

    def providers_changed(self) -> None:
        self._by_type = None

    def _index(self) -> dict[str, list[TopicProvider]]:
        if self._by_type is None:
            self._by_type = {}
            for provider in self._providers():
                for event_type in provider.triggers:
                    self._by_type.setdefault(event_type, []).append(provider)
        return self._by_type

    # --- followers ------------------------------------------------------------------

    def followed(self, tenant: str | None, kind: str, name: str) -> None:
        self._active.setdefault((tenant, kind), set()).add(name)

    def unfollowed(self, tenant: str | None, kind: str, name: str) -> None:
        """The last subscriber of a topic left: forget its schedule."""
        names = self._active.get((tenant, kind))
        if names is not None:
            names.discard(name)
            if not names:
                del self._active[(tenant, kind)]
        state = self._states.pop((tenant, name), None)
        if state is not None:
            if state.timer is not None:
                state.timer.cancel()
            if state.task is not None:
                state.task.cancel()

    # --- events ---------------------------------------------------------------------

    def on_event(self, event: RecordedEvent) -> None:
        providers = self._index().get(event.type)
        if not providers:
            return
        tenant = event.tenant_id
        for provider in providers:
            key = provider.key_of(event)
            if key is not None:
                self._mark(provider, tenant, f"{provider.kind}:{key}")
                continue
            for name in list(self._active.get((tenant, provider.kind), ())):
                self._mark(provider, tenant, name)

    def _mark(self, provider: TopicProvider, tenant: str | None, name: str) -> None:
        topic = (tenant, name)
        if not self._subscribers(topic):
            return
        state = self._states.get(topic)
        if state is None:
            state = self._states[topic] = _TopicState()
        if state.timer is not None or state.task is not None:
            state.dirty = True  # one push is already coming; it will fetch the latest
            return
        delay = max(0.0, state.last_push + provider.interval - self._clock())
        loop = asyncio.get_running_loop()
        state.timer = loop.call_later(delay, self._fire, provider, topic, state)

    def _fire(self, provider: TopicProvider, topic: TopicKey, state: _TopicState) -> None:
        state.timer = None
        state.task = asyncio.get_running_loop().create_task(self._push(provider, topic, state))

    async def _push(self, provider: TopicProvider, topic: TopicKey, state: _TopicState) -> None:
        state.last_push = self._clock()
        state.dirty = False
        try:
            subscribers = self._subscribers(topic)
            if subscribers:
                position = self._position()
                data = await provider.fetch(topic[0], topic[1].partition(":")[2])
                frame = topic_frame(topic[1], data, position)
                for sub in self._subscribers(topic):
                    sub.offer(frame)
        except Exception:
            log.exception("topic %s: fetching its state failed; the next change retries", topic)
        finally:
            state.task = None
        if state.dirty and self._states.get(topic) is state:
            state.dirty = False
            self._mark(provider, *topic)

    async def prime(self, provider: TopicProvider, sub: Subscription) -> None:
        """Send a new subscriber the current state, without waiting for a change."""
        position = self._position()
        data = await provider.fetch(sub.tenant_id, sub.channel.key or "")
        sub.offer(topic_frame(sub.name, data, position))

    def close(self) -> None:
        for topic in list(self._states):
            state = self._states.pop(topic)
            if state.timer is not None:
                state.timer.cancel()
            if state.task is not None:
                state.task.cancel()
