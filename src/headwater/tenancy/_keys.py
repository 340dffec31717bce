"""Keys for caches, rate limits and realtime channels, scoped by tenant.

Every key starts with the principal's tenant, so two tenants can never share an
entry, a counter or a channel, whatever the rest of the key says. Parts are
percent-encoded, so a part containing ``:`` cannot forge another key's shape
(``tenant_key(p, "a:b")`` and ``tenant_key(p, "a", "b")`` differ).
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

from headwater.identity._principal import Principal

#: Stands for "no tenant" (anonymous callers, a platform admin not acting for one).
#: Percent-encoding turns a tenant id "*" into "%2A", so no tenant can collide with it.
NO_TENANT: Final = "*"


def _part(value: object) -> str:
    return quote(str(value), safe="")


def tenant_key(principal: Principal, *parts: object) -> str:
    """``t:<tenant>:<part>:<part>...`` for ``principal``'s tenant."""
    tenant = NO_TENANT if principal.tenant_id is None else _part(principal.tenant_id)
    return ":".join(["t", tenant, *(_part(p) for p in parts)])


def rate_limit_key(principal: Principal, scope: str, *, client_ip: str | None = None) -> str:
    """One counter per caller and ``scope`` (a route or a limit's name), within its tenant.

    Authenticated callers are counted by subject, so they keep their own budget
    behind a shared NAT; anonymous ones by client address. The limit itself comes
    from ``principal.tier`` (seed 002: anonymous, user, premium).
    """
    if principal.is_authenticated:
        return tenant_key(principal, "rl", scope, principal.credential, principal.subject)
    return tenant_key(principal, "rl", scope, "ip", client_ip or "unknown")


def channel_key(principal: Principal, channel: str) -> str:
    """The hub's internal key for ``channel`` as seen by ``principal``'s tenant."""
    return tenant_key(principal, "ch", channel)
