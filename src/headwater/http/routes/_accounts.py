"""Tenant admins manage their tenant's accounts: create staff and users, roles, disable.

Every query names the caller's tenant (from the credential): another tenant's
account id is a 404, exactly like an id that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from headwater.cursors import ListQuery
from headwater.errors import InvalidInput
from headwater.http._deps import (
    AUTH_ERRORS,
    BAD_REQUEST,
    CONFLICT,
    NOT_FOUND,
    AppRuntime,
    SecurityService,
    TenantAdmin,
)
from headwater.http._listing import list_query
from headwater.http._responses import Envelope, ErrorBody, Page, ok, page
from headwater.http.routes._paging import Cursor, Limit, keyset_page
from headwater.http.routes._views import AccountView
from headwater.identity._principal import Principal, Role
from headwater.security._accounts import ACCOUNT_SORTS

router = APIRouter(
    prefix="/accounts", tags=["accounts"], responses={**AUTH_ERRORS, **BAD_REQUEST, **CONFLICT}
)

AssignableRole = Literal["tenant_admin", "staff", "user"]
AccountTier = Literal["user", "premium"]
AccountId = Annotated[str, Path(min_length=1, max_length=64)]


class NewAccount(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    roles: list[AssignableRole] = Field(min_length=1, max_length=3)
    tier: AccountTier = "user"
    display_name: str | None = Field(default=None, max_length=200)


class RolesChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[AssignableRole] = Field(min_length=1, max_length=3)
    tier: AccountTier = "user"


class Disable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="disabled by an admin", max_length=500)


@router.get("", response_model=Page[AccountView], summary="The tenant's accounts")
async def list_accounts(
    admin: TenantAdmin,
    security: SecurityService,
    runtime: AppRuntime,
    query: Annotated[ListQuery, Depends(list_query(ACCOUNT_SORTS))],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[AccountView]:
    tenant = admin.require_tenant()
    rows, next_cursor, total = await keyset_page(
        runtime,
        f"accounts:{tenant}",
        query,
        cursor,
        limit,
        lambda after, n: security.accounts.list_in_tenant(tenant, query, after=after, limit=n),
        lambda r: [getattr(r, query.sort), r.account_id],
        lambda: security.accounts.count_in_tenant(tenant),
    )
    return page([AccountView.of(r) for r in rows], cursor=next_cursor, limit=limit, total=total)


@router.post(
    "",
    status_code=201,
    response_model=Envelope[AccountView],
    responses={409: {"model": ErrorBody, "description": "email_taken"}},
    summary="Create an account in the tenant (tenant admin, staff or user)",
)
async def create_account(
    body: NewAccount, admin: TenantAdmin, security: SecurityService
) -> Envelope[AccountView]:
    record = await security.create_account(
        tenant_id=admin.require_tenant(),
        email=body.email,
        password=body.password,
        roles=[Role(r) for r in body.roles],
        tier=body.tier,
        display_name=body.display_name,
        metadata=admin.event_metadata(),
    )
    return ok(AccountView.of(record))


@router.get(
    "/{account_id}", response_model=Envelope[AccountView], responses=NOT_FOUND, summary="An account"
)
async def get_account(
    account_id: AccountId, admin: TenantAdmin, security: SecurityService
) -> Envelope[AccountView]:
    record = await security.accounts.get_in_tenant(account_id, admin.require_tenant())
    return ok(AccountView.of(record))


@router.put(
    "/{account_id}/roles",
    response_model=Envelope[AccountView],
    responses=NOT_FOUND,
    summary="Set an account's roles and tier (applies to its live tokens within seconds)",
)
async def change_roles(
    account_id: AccountId, body: RolesChange, admin: TenantAdmin, security: SecurityService
) -> Envelope[AccountView]:
    tenant = admin.require_tenant()
    record = await security.accounts.get_in_tenant(account_id, tenant)
    if _is_self(admin, account_id) and "tenant_admin" not in body.roles:
        raise InvalidInput("you cannot take away your own admin role: ask another admin")
    await security.change_roles(
        record, [Role(r) for r in body.roles], body.tier, admin.event_metadata()
    )
    return ok(AccountView.of(await security.accounts.get_in_tenant(account_id, tenant)))


@router.post(
    "/{account_id}/disable",
    response_model=Envelope[AccountView],
    responses=NOT_FOUND,
    summary="Disable an account: it cannot sign in, and its sessions end",
)
async def disable_account(
    account_id: AccountId, body: Disable, admin: TenantAdmin, security: SecurityService
) -> Envelope[AccountView]:
    tenant = admin.require_tenant()
    record = await security.accounts.get_in_tenant(account_id, tenant)
    if _is_self(admin, account_id):
        raise InvalidInput("you cannot disable your own account")
    if not record.disabled:
        await security.disable(record, body.reason, admin.event_metadata())
    return ok(AccountView.of(await security.accounts.get_in_tenant(account_id, tenant)))


@router.post(
    "/{account_id}/enable",
    response_model=Envelope[AccountView],
    responses=NOT_FOUND,
    summary="Enable a disabled account (its old sessions stay ended)",
)
async def enable_account(
    account_id: AccountId, admin: TenantAdmin, security: SecurityService
) -> Envelope[AccountView]:
    tenant = admin.require_tenant()
    record = await security.accounts.get_in_tenant(account_id, tenant)
    if record.disabled:
        await security.enable(record, admin.event_metadata())
    return ok(AccountView.of(await security.accounts.get_in_tenant(account_id, tenant)))


@router.post(
    "/{account_id}/revoke-tokens",
    response_model=Envelope[AccountView],
    responses=NOT_FOUND,
    summary="Sign an account out everywhere",
)
async def revoke_tokens(
    account_id: AccountId, admin: TenantAdmin, security: SecurityService
) -> Envelope[AccountView]:
    tenant = admin.require_tenant()
    record = await security.accounts.get_in_tenant(account_id, tenant)
    await security.sign_out_everywhere(record, "revoked by an admin", admin.event_metadata())
    return ok(AccountView.of(await security.accounts.get_in_tenant(account_id, tenant)))


def _is_self(admin: Principal, account_id: str) -> bool:
    return admin.subject == account_id and not admin.acting_as_admin
