"""The authenticated caller of a request or a realtime connection.

Everything below the route handlers (event-store reads, read-model queries, cache
keys, rate-limit keys, realtime channels) takes its tenant from here, never from a
client-chosen header or parameter.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from headwater.errors import Forbidden


class Role(enum.StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    TENANT_ADMIN = "tenant_admin"
    STAFF = "staff"
    USER = "user"
    ANONYMOUS = "anonymous"


#: Each role includes the rights of the roles after it.
ROLE_ORDER: tuple[Role, ...] = (
    Role.PLATFORM_ADMIN,
    Role.TENANT_ADMIN,
    Role.STAFF,
    Role.USER,
    Role.ANONYMOUS,
)

CredentialKind = Literal["access_token", "api_key", "session", "anonymous"]
Tier = Literal["anonymous", "user", "premium"]


@dataclass(frozen=True, slots=True)
class Principal:
    #: Stable id of the account or API key; "anonymous" for nobody.
    subject: str
    #: The tenant every read and write is scoped to. None only for a platform admin
    #: not acting for any tenant, or an anonymous caller of a tenant-less route.
    tenant_id: str | None
    roles: frozenset[Role]
    credential: CredentialKind
    #: Rate-limit tier (seed 002): anonymous, user or premium.
    tier: Tier = "user"
    #: Set when a platform admin acts for a tenant; recorded in event metadata.
    acting_as_admin: bool = False
    display_name: str | None = None
    claims: Mapping[str, object] = field(default_factory=dict)

    @property
    def is_authenticated(self) -> bool:
        return self.credential != "anonymous"

    def has_role(self, role: Role) -> bool:
        """True when the principal holds ``role`` or a role above it."""
        rank = ROLE_ORDER.index(role)
        return any(ROLE_ORDER.index(held) <= rank for held in self.roles)

    def require_role(self, role: Role) -> None:
        if not self.has_role(role):
            raise Forbidden(f"this needs the {role.value} role", required_role=role.value)

    def require_tenant(self) -> str:
        if self.tenant_id is None:
            raise Forbidden("this needs a tenant: sign in to an organisation first")
        return self.tenant_id

    def event_metadata(self) -> dict[str, object]:
        """What every event this principal causes records about them."""
        meta: dict[str, object] = {"actor": self.subject, "actor_kind": self.credential}
        if self.tenant_id is not None:
            meta["tenant_id"] = self.tenant_id
        if self.acting_as_admin:
            meta["acting_as_admin"] = True
        return meta


ANONYMOUS = Principal(
    subject="anonymous",
    tenant_id=None,
    roles=frozenset({Role.ANONYMOUS}),
    credential="anonymous",
    tier="anonymous",
)


class Authenticator(Protocol):
    """Turns the credentials a client presents into a Principal.

    ``headers`` are the request's (lower-cased names); ``cookies`` its cookies;
    ``token`` a bearer token presented another way (e.g. a WebSocket's first
    message). Raises ``Unauthorized`` for credentials that are present but bad
    (expired, forged, revoked); returns ``ANONYMOUS`` when there are none.
    """

    async def authenticate(
        self,
        headers: Mapping[str, str],
        cookies: Mapping[str, str],
        token: str | None = None,
    ) -> Principal: ...
