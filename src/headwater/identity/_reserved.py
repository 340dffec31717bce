"""The security streams and event types, which no tenant code may read or write.

Accounts, tenants and API keys live in ``tenant-*``, ``account-*`` and ``apikey-*``
streams as ``hw.*`` events (``headwater.security._events`` builds them). They name
accounts, roles and keys, so ``TenantScopedStore`` refuses to append an ``hw.*``
event and no channel over those streams is ever subscribable. Both rules sit here,
below the store wrapper and the hub, so neither has to import the security service.
"""

from __future__ import annotations

from typing import Final

RESERVED_PREFIX: Final = "hw."

#: Stream categories of the security events (``<category>-<id>``).
TENANT_CATEGORY: Final = "tenant"
ACCOUNT_CATEGORY: Final = "account"
API_KEY_CATEGORY: Final = "apikey"
CATEGORIES: Final = (TENANT_CATEGORY, ACCOUNT_CATEGORY, API_KEY_CATEGORY)


def is_security_event(event_type: str) -> bool:
    return event_type.startswith(RESERVED_PREFIX)
