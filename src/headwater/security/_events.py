"""The ``hw.*`` events of tenants, accounts and API keys, and the streams they live in.

Security events are reserved: ``TenantScopedStore`` refuses to append any ``hw.*``
type, so app code can never mint an account or a key by writing an event, and
``channels`` never lets a client subscribe to these streams (they name accounts,
roles and keys; ``headwater.identity._reserved`` says which). Password hashes are not
in them: see ``lookup.Credentials``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from headwater.eventstore import NewEvent

# The categories are identity's: the hub and the tenant's store enforce them without
# importing this service.
from headwater.identity._reserved import ACCOUNT_CATEGORY as ACCOUNT_CATEGORY
from headwater.identity._reserved import API_KEY_CATEGORY as API_KEY_CATEGORY
from headwater.identity._reserved import TENANT_CATEGORY as TENANT_CATEGORY

TENANT_CREATED: Final = "hw.tenant.created"
TENANT_SETTINGS_CHANGED: Final = "hw.tenant.settings_changed"
ACCOUNT_REGISTERED: Final = "hw.account.registered"
PASSWORD_CHANGED: Final = "hw.account.password_changed"
ROLES_CHANGED: Final = "hw.account.roles_changed"
ACCOUNT_DISABLED: Final = "hw.account.disabled"
ACCOUNT_ENABLED: Final = "hw.account.enabled"
TOKENS_REVOKED: Final = "hw.account.tokens_revoked"
ACTED_FOR_TENANT: Final = "hw.account.acted_for_tenant"
MEMBERSHIP_GRANTED: Final = "hw.account.membership_granted"
MEMBERSHIP_REVOKED: Final = "hw.account.membership_revoked"
API_KEY_CREATED: Final = "hw.api_key.created"
API_KEY_REVOKED: Final = "hw.api_key.revoked"


def tenant_stream(tenant_id: str) -> str:
    return f"{TENANT_CATEGORY}-{tenant_id}"


def account_stream(account_id: str) -> str:
    return f"{ACCOUNT_CATEGORY}-{account_id}"


def api_key_stream(key_id: str) -> str:
    return f"{API_KEY_CATEGORY}-{key_id}"


def id_in(stream_id: str, category: str) -> str:
    return stream_id.removeprefix(f"{category}-")


def event(type_: str, data: Mapping[str, Any], metadata: Mapping[str, object]) -> NewEvent:
    return NewEvent(type=type_, data=dict(data), metadata=dict(metadata))


def role_names(roles: Iterable[object]) -> list[str]:
    return sorted(str(role) for role in roles)
