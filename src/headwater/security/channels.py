"""Who may subscribe to which realtime channel: a small registry that apps fill in.

Channel names are ``kind:argument`` (``stream:order-42``, ``category:guest``,
``leaderboard:g1``) or a bare name (``admin``). Apps declare rules; anything not
declared is refused::

    channels.allow("leaderboard:*", Role.USER)
    channels.allow("category:guest", Role.STAFF)
    channels.allow("stream:order-*", lambda p, ch: p.has_role(Role.STAFF))

The most specific rule wins: an exact name, then the longest ``prefix*``. Rules
decide *whether* a principal may subscribe; *what* it then receives is scoped by
tenant below the hub: a channel is keyed per tenant (``tenancy.keys.channel_key``)
and history is read through ``TenantScopedStore``, so ``stream:x`` of another
tenant is empty, never foreign. Hence a principal without a tenant (anonymous, a
platform admin not acting for one) is refused unless a rule says ``tenantless``,
which only channels carrying public data should.

The security streams (accounts, API keys, tenants) are never subscribable.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeAlias

from headwater.errors import InvalidInput
from headwater.security import events as ev
from headwater.security.principal import Principal, Role

ChannelCheck: TypeAlias = Callable[[Principal, str], bool]
ChannelRule: TypeAlias = Role | ChannelCheck

_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}(:[A-Za-z0-9_.:\-]{1,200})?")
_RESERVED: Final = tuple(
    [f"stream:{category}-" for category in ev.CATEGORIES]
    + [f"category:{category}" for category in ev.CATEGORIES]
)


@dataclass(frozen=True, slots=True)
class _Rule:
    check: ChannelRule
    tenantless: bool

    def allows(self, principal: Principal, channel: str) -> bool:
        if isinstance(self.check, Role):
            return principal.has_role(self.check)
        return bool(self.check(principal, channel))


def is_valid_channel(channel: str) -> bool:
    return bool(_NAME.fullmatch(channel))


def is_reserved_channel(channel: str) -> bool:
    """Channels over the security streams: never subscribable, whatever a registry says."""
    return any(
        channel.startswith(prefix) if prefix.endswith("-") else channel == prefix
        for prefix in _RESERVED
    )


class ChannelRegistry:
    def __init__(self) -> None:
        self._exact: dict[str, _Rule] = {}
        self._prefixes: dict[str, _Rule] = {}

    @classmethod
    def with_defaults(cls) -> ChannelRegistry:
        """The framework's own channels: a tenant's admin feed, for its admins."""
        registry = cls()
        registry.allow("admin", Role.TENANT_ADMIN)
        return registry

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

    def authorize(self, principal: Principal, channel: str) -> bool:
        """The hub's per-channel hook: may ``principal`` subscribe to ``channel``?"""
        if not is_valid_channel(channel) or is_reserved_channel(channel):
            return False
        rule = self.rule_for(channel)
        if rule is None:
            return False
        if principal.tenant_id is None and not rule.tenantless:
            return False
        return rule.allows(principal, channel)


#: The registry ``SecurityModule`` uses unless given another; apps add their rules.
default_channels = ChannelRegistry.with_defaults()


def authorize_channel(principal: Principal, channel: str) -> bool:
    return default_channels.authorize(principal, channel)
