"""Channel names, and who may follow which.

A channel name never carries a tenant: every subscription is scoped by the tenant of
the connection's :class:`~headwater.security.principal.Principal`, so the same name
means "mine" for every caller and no name can reach another tenant's events.

Built-in kinds (apps add topic kinds, and may replace any policy)::

    stream:{stream_id}     one stream's events
    category:{prefix}      events of every stream named ``{prefix}-...``
    tenant                 every event of the tenant
    admin                  the admin feed: mapped event types plus framework notices
    {topic}:{key}          a throttled read-model topic, e.g. ``leaderboard:{game_id}``
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeAlias

from headwater.errors import InvalidChannel, UnknownChannelKind
from headwater.eventstore import RecordedEvent
from headwater.security.principal import Principal, Role

if TYPE_CHECKING:
    from headwater.realtime.topics import TopicProvider

STREAM: Final = "stream"
CATEGORY: Final = "category"
TENANT: Final = "tenant"
ADMIN: Final = "admin"
#: Kinds whose name has no ``:key`` part.
KEYLESS: Final = frozenset({TENANT, ADMIN})
MAX_CHANNEL_LENGTH: Final = 300
#: Category channels match streams named ``a-...``, ``a-b-...``: up to this many dashes.
MAX_CATEGORY_DEPTH: Final = 4

_KIND = re.compile(r"^[a-z][a-z0-9_.]{0,39}$")


@dataclass(frozen=True, slots=True)
class Channel:
    kind: str
    key: str | None = None

    @property
    def name(self) -> str:
        return self.kind if self.key is None else f"{self.kind}:{self.key}"

    def matches(self, event: RecordedEvent, admin_types: frozenset[str] = frozenset()) -> bool:
        """Whether ``event`` (already known to be of the right tenant) belongs here."""
        if self.kind == STREAM:
            return event.stream_id == self.key
        if self.kind == CATEGORY:
            return event.stream_id.startswith(f"{self.key}-")
        if self.kind == TENANT:
            return True
        if self.kind == ADMIN:
            return event.type in admin_types
        return False


def parse_channel(name: object) -> Channel:
    """``"stream:order-1"`` -> ``Channel("stream", "order-1")``; refuses anything odd."""
    if not isinstance(name, str) or not name:
        raise InvalidChannel("a channel must be a non-empty string")
    if len(name) > MAX_CHANNEL_LENGTH:
        raise InvalidChannel(f"a channel name is at most {MAX_CHANNEL_LENGTH} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidChannel("a channel name must not contain control characters")
    kind, colon, key = name.partition(":")
    if not _KIND.match(kind):
        raise InvalidChannel(f"{kind!r} is not a channel kind")
    if kind in KEYLESS:
        if colon:
            raise InvalidChannel(f"channel {kind!r} takes no key (it is always your tenant's)")
        return Channel(kind)
    if not key.strip():
        raise InvalidChannel(f"channel {kind!r} needs a key: {kind}:<key>")
    return Channel(kind, key)


def event_channel_names(event: RecordedEvent) -> list[str]:
    """The stream, category and tenant channels an event belongs to (the hub's routing keys)."""
    names = [f"stream:{event.stream_id}", TENANT]
    parts = event.stream_id.split("-", MAX_CATEGORY_DEPTH)
    for depth in range(1, len(parts)):
        names.append("category:" + "-".join(parts[:depth]))
    return names


#: ``policy(principal, channel) -> bool``; may be async (e.g. to look up ownership).
ChannelPolicy: TypeAlias = Callable[[Principal, Channel], "bool | Awaitable[bool]"]


def _in_a_tenant(principal: Principal) -> bool:
    # Tenant-less channels carry tenant-less events: only a platform admin follows those.
    return principal.tenant_id is not None or principal.has_role(Role.PLATFORM_ADMIN)


def requires(role: Role) -> ChannelPolicy:
    """A policy: authenticated, in a tenant, holding ``role`` or a role above it."""

    def policy(principal: Principal, channel: Channel) -> bool:
        return principal.is_authenticated and _in_a_tenant(principal) and principal.has_role(role)

    policy.__name__ = f"requires_{role.value}"
    return policy


DEFAULT_POLICIES: Final[dict[str, ChannelPolicy]] = {
    STREAM: requires(Role.USER),
    CATEGORY: requires(Role.STAFF),
    TENANT: requires(Role.STAFF),
    ADMIN: requires(Role.TENANT_ADMIN),
}


class ChannelRegistry:
    """Policies by channel kind, and the topic providers apps register.

    A kind without a policy is refused: adding a channel kind is a deliberate act.
    """

    def __init__(self) -> None:
        self._policies: dict[str, ChannelPolicy] = dict(DEFAULT_POLICIES)
        self._topics: dict[str, TopicProvider] = {}

    def set_policy(self, kind: str, policy: ChannelPolicy) -> None:
        if not _KIND.match(kind):
            raise InvalidChannel(f"{kind!r} is not a channel kind")
        self._policies[kind] = policy

    def add_topic(self, provider: TopicProvider) -> None:
        if provider.kind in DEFAULT_POLICIES or provider.kind in KEYLESS:
            raise InvalidChannel(f"{provider.kind!r} is a built-in channel kind")
        self._topics[provider.kind] = provider
        self.set_policy(provider.kind, provider.policy)

    def topic(self, kind: str) -> TopicProvider | None:
        return self._topics.get(kind)

    @property
    def topics(self) -> list[TopicProvider]:
        return list(self._topics.values())

    @property
    def kinds(self) -> list[str]:
        return sorted(self._policies)

    def parse(self, name: object) -> Channel:
        channel = parse_channel(name)
        if channel.kind not in self._policies:
            raise UnknownChannelKind(f"there is no channel kind {channel.kind!r}")
        return channel

    async def authorize(self, principal: Principal, channel: Channel) -> bool:
        policy = self._policies.get(channel.kind)
        if policy is None:
            return False
        verdict = policy(principal, channel)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        # Anything but a real True (None, a truthy object from a buggy policy) refuses.
        return verdict is True
