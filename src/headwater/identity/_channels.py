"""Channel names, and who may follow which: the one registry realtime and security share.

A channel name never carries a tenant: every subscription is scoped by the tenant of
the connection's :class:`~headwater.identity._principal.Principal` (fan-out filters on
it, history is read through ``TenantScopedStore``), so the same name means "mine"
for every caller and no name can reach another tenant's events.

Built-in kinds (apps add topic kinds, and may replace any policy)::

    stream:{stream_id}     one stream's events
    category:{prefix}      events of every stream named ``{prefix}-...``
    tenant                 every event of the tenant
    admin                  the admin feed: mapped event types plus framework notices
    {topic}:{key}          a throttled read-model topic, e.g. ``leaderboard:{game_id}``

A channel is allowed when its kind's policy says so, or when a rule given by name
does::

    channels.allow("leaderboard:*", Role.USER)
    channels.allow("category:guest", Role.STAFF)
    channels.allow("stream:order-*", lambda p, ch: p.has_role(Role.STAFF))

Among rules the most specific wins: an exact name, then the longest ``prefix*``. A
principal without a tenant (anonymous, a platform admin not acting for one) is
refused by a rule unless it says ``tenantless``, which only channels carrying public
data should. The security streams (accounts, API keys, tenants) are never followable,
whatever a policy or rule says.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeAlias

from headwater.errors import InvalidChannel, InvalidInput, UnknownChannelKind
from headwater.eventstore import RecordedEvent
from headwater.identity._principal import Principal, Role
from headwater.identity._reserved import CATEGORIES

STREAM: Final = "stream"
CATEGORY: Final = "category"
TENANT: Final = "tenant"
ADMIN: Final = "admin"
#: Kinds whose name has no ``:key`` part.
KEYLESS: Final = frozenset({TENANT, ADMIN})
MAX_CHANNEL_LENGTH: Final = 300
#: Event metadata that keeps an event from its own author's connections (seed 003's
#: broadcasts that skip the sender): ``{"exclude_author": true, "actor": subject}``.
EXCLUDE_AUTHOR: Final = "exclude_author"
#: Category channels match streams named ``a-...``, ``a-b-...``: up to this many dashes.
MAX_CATEGORY_DEPTH: Final = 4

_KIND = re.compile(r"^[a-z][a-z0-9_.]{0,39}$")
#: What a rule's pattern may name (stricter than a parsed channel: rules are code).
_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}(:[A-Za-z0-9_.:\-]{1,200})?")
_RESERVED: Final = tuple(
    [f"stream:{category}-" for category in CATEGORIES]
    + [f"category:{category}" for category in CATEGORIES]
)


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


def is_valid_channel(channel: str) -> bool:
    return bool(_NAME.fullmatch(channel))


def is_reserved_channel(channel: str) -> bool:
    """Channels over the security streams: never subscribable, whatever a registry says."""
    return any(
        channel.startswith(prefix) if prefix.endswith("-") else channel == prefix
        for prefix in _RESERVED
    )


#: ``policy(principal, channel) -> bool``; may be async (e.g. to look up ownership).
ChannelPolicy: TypeAlias = Callable[[Principal, Channel], "bool | Awaitable[bool]"]
#: A rule by name: a role the principal must hold, or ``check(principal, channel_name)``.
ChannelCheck: TypeAlias = Callable[[Principal, str], bool]
ChannelRule: TypeAlias = Role | ChannelCheck


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


@dataclass(frozen=True, slots=True)
class _Rule:
    check: ChannelRule
    tenantless: bool

    def allows(self, principal: Principal, channel: str) -> bool:
        if isinstance(self.check, Role):
            return principal.has_role(self.check)
        return bool(self.check(principal, channel))


class ChannelRegistry:
    """Policies by channel kind, and rules by channel name.

    A kind without a policy is refused (adding a channel kind is a deliberate act);
    a name no policy allows is refused unless a rule allows it.
    """

    def __init__(self) -> None:
        self._policies: dict[str, ChannelPolicy] = dict(DEFAULT_POLICIES)
        self._exact: dict[str, _Rule] = {}
        self._prefixes: dict[str, _Rule] = {}

    @classmethod
    def with_defaults(cls) -> ChannelRegistry:
        """With the framework's own rule: a tenant's admin feed, for its admins."""
        registry = cls()
        registry.allow("admin", Role.TENANT_ADMIN)
        return registry

    # --- policies by kind -------------------------------------------------------------

    def set_policy(self, kind: str, policy: ChannelPolicy) -> None:
        if not _KIND.match(kind):
            raise InvalidChannel(f"{kind!r} is not a channel kind")
        self._policies[kind] = policy

    def policy_of(self, kind: str) -> ChannelPolicy | None:
        """The policy ``kind`` has now: a module narrowing it wraps this one."""
        return self._policies.get(kind)

    @property
    def kinds(self) -> list[str]:
        return sorted(self._policies)

    def parse(self, name: object) -> Channel:
        channel = parse_channel(name)
        if channel.kind not in self._policies:
            raise UnknownChannelKind(f"there is no channel kind {channel.kind!r}")
        return channel

    # --- rules by name ----------------------------------------------------------------

    def allow(self, pattern: str, rule: ChannelRule, *, tenantless: bool = False) -> None:
        """Let principals that satisfy ``rule`` subscribe to channels matching ``pattern``.

        ``pattern`` is an exact channel name or ends with ``*`` (a prefix match).
        """
        prefix = pattern.removesuffix("*")
        if not prefix or (prefix == pattern and not is_valid_channel(pattern)):
            raise InvalidInput(f"not a channel pattern: {pattern!r}")
        if tenantless and isinstance(rule, Role) and rule is not Role.ANONYMOUS:
            # A role check on a tenantless channel would mix tenants' members together.
            raise InvalidInput("a tenantless channel is public: use Role.ANONYMOUS or a check")
        target = self._exact if prefix == pattern else self._prefixes
        target[prefix] = _Rule(rule, tenantless)

    def rule_for(self, channel: str) -> _Rule | None:
        if channel in self._exact:
            return self._exact[channel]
        matches = [p for p in self._prefixes if channel.startswith(p)]
        return self._prefixes[max(matches, key=len)] if matches else None

    def allows(self, principal: Principal, channel: str) -> bool:
        """Whether a rule given by name lets ``principal`` follow ``channel``."""
        if not is_valid_channel(channel) or is_reserved_channel(channel):
            return False
        rule = self.rule_for(channel)
        if rule is None:
            return False
        if principal.tenant_id is None and not rule.tenantless:
            return False
        return rule.allows(principal, channel) is True

    # --- the verdict ------------------------------------------------------------------

    async def authorize(self, principal: Principal, channel: Channel) -> bool:
        """May ``principal`` follow ``channel``? Its kind's policy, or a rule by name;
        never a security stream."""
        if is_reserved_channel(channel.name):
            return False
        policy = self._policies.get(channel.kind)
        if policy is not None:
            verdict = policy(principal, channel)
            if inspect.isawaitable(verdict):
                verdict = await verdict
            # Anything but a real True (None, a truthy object from a buggy policy) refuses.
            if verdict is True:
                return True
        return self.allows(principal, channel.name)
