"""Tenant isolation below the route handlers.

The tenant comes from the credential (``Principal.tenant_id``), never from a client
header. The authentication middleware puts the request's principal in a context
variable (``context``); ``TenantScopedStore`` forces that tenant on every append and
read; ``keys`` scopes cache, rate-limit and realtime-channel keys by it.
"""

from headwater.identity._context import (
    acting_as,
    current_principal,
    current_tenant,
    require_tenant,
)
from headwater.tenancy._keys import channel_key, rate_limit_key, tenant_key
from headwater.tenancy._store import TenantScopedStore

__all__ = [
    "TenantScopedStore",
    "acting_as",
    "channel_key",
    "current_principal",
    "current_tenant",
    "rate_limit_key",
    "require_tenant",
    "tenant_key",
]
