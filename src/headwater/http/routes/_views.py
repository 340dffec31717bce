"""What the security routes return: response models, and how records become them.

Never a password hash, a key's digest or a refresh token's digest: the models list
their fields, so nothing leaks by being added to a record later.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from headwater.http._responses import Envelope
from headwater.identity._principal import Principal, Role, Tier
from headwater.security._accounts import AccountRecord
from headwater.security._apikeys import ApiKeyRecord
from headwater.security._service import TokenPair
from headwater.security._tenants import TenantRecord


def iso(microseconds: int) -> str:
    return datetime.fromtimestamp(microseconds / 1_000_000, UTC).isoformat(timespec="seconds")


class AccountView(BaseModel):
    id: str
    email: str
    tenant_id: str | None
    display_name: str | None
    roles: list[Role]
    tier: Tier
    disabled: bool
    created_at: str

    @classmethod
    def of(cls, record: AccountRecord) -> AccountView:
        return cls(
            id=record.account_id,
            email=record.email,
            tenant_id=record.tenant_id,
            display_name=record.display_name,
            roles=sorted(record.roles),
            tier=record.tier,
            disabled=record.disabled,
            created_at=iso(record.created_at),
        )


class TokenView(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str = Field(description="Single use: each refresh returns the next one")
    refresh_expires_at: str
    account: AccountView

    @classmethod
    def of(cls, pair: TokenPair) -> TokenView:
        return cls(
            access_token=pair.access_token,
            expires_in=pair.access.expires_at - pair.access.issued_at,
            refresh_token=pair.refresh_token,
            refresh_expires_at=iso(pair.refresh_expires_at),
            account=AccountView.of(pair.account),
        )


class AccessTokenView(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    tenant_id: str | None


class MembershipView(BaseModel):
    tenant_id: str
    roles: list[Role]
    kind: str = Field(description="home: the account's own tenant; member: another one")
    current: bool = Field(description="Whether the calling credential acts in this tenant")


class Memberships(Envelope[list[MembershipView]]):
    """``GET /auth/tenants``'s answer, under a name of its own: Swagger UI stops rendering
    the operations list at the generated ``Envelope_list_MembershipView__``."""


class PrincipalView(BaseModel):
    subject: str
    tenant_id: str | None
    roles: list[Role]
    tier: Tier
    credential: str
    acting_as_admin: bool
    display_name: str | None

    @classmethod
    def of(cls, principal: Principal) -> PrincipalView:
        return cls(
            subject=principal.subject,
            tenant_id=principal.tenant_id,
            roles=sorted(principal.roles),
            tier=principal.tier,
            credential=principal.credential,
            acting_as_admin=principal.acting_as_admin,
            display_name=principal.display_name,
        )


class TenantView(BaseModel):
    id: str
    name: str
    created_at: str

    @classmethod
    def of(cls, record: TenantRecord) -> TenantView:
        return cls(id=record.tenant_id, name=record.name, created_at=iso(record.created_at))


class ApiKeyView(BaseModel):
    id: str
    name: str
    role: Role
    tier: Tier
    created_by: str
    created_at: str
    revoked_at: str | None

    @classmethod
    def of(cls, record: ApiKeyRecord) -> ApiKeyView:
        return cls(
            id=record.key_id,
            name=record.name,
            role=record.role,
            tier=record.tier,
            created_by=record.created_by,
            created_at=iso(record.created_at),
            revoked_at=None if record.revoked_at is None else iso(record.revoked_at),
        )


class NewApiKeyView(ApiKeyView):
    key: str = Field(description="The full key. Shown once: only its digest is stored")


class Done(BaseModel):
    done: bool = True
