"""A tenant's settings, users and members (seed 004 ``TenantManager``).

Settings (plan, limits, enabled features) are read by every member of the tenant;
a tenant admin switches its own features on and off; only a platform admin sets a
plan or limits (they are what the tenant pays for). Writes are last-write-wins and
audited (``headwater.security._settings``).

Members: a platform admin makes an account of one tenant a member of another, with
a role there; the member then switches to it with ``POST /auth/switch-tenant``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from headwater.cursors import ListQuery
from headwater.errors import Forbidden, NotFound
from headwater.http._deps import (
    AUTH_ERRORS,
    BAD_REQUEST,
    NO_STORE,
    NOT_FOUND,
    AppRuntime,
    PlatformAdmin,
    SecurityService,
    TenantAdmin,
    TenantId,
)
from headwater.http._listing import list_query
from headwater.http._responses import Envelope, Page, ok, page
from headwater.http.routes._paging import Cursor, Limit, keyset_page
from headwater.http.routes._views import Done, iso
from headwater.identity._principal import Principal, Role
from headwater.security._memberships import TENANT_USER_SORTS, TenantUser
from headwater.security._service import Security
from headwater.security._settings import TenantSettings

router = APIRouter(
    tags=["tenants"], responses={**AUTH_ERRORS, **BAD_REQUEST}, dependencies=[NO_STORE]
)

TenantPath = Annotated[str, Path(min_length=1, max_length=64)]
AccountPath = Annotated[str, Path(min_length=1, max_length=64)]
Name = Annotated[str, Field(min_length=1, max_length=100)]


class SettingsView(BaseModel):
    tenant_id: str
    plan: str
    limits: dict[str, int | None]
    features: list[str]
    updated_by: str | None
    updated_at: str | None
    version: int

    @classmethod
    def of(cls, settings: TenantSettings) -> SettingsView:
        data: dict[str, Any] = settings.to_json()
        data["updated_at"] = iso(settings.updated_at) if settings.updated_at else None
        return cls.model_validate(data)


class SettingsChange(BaseModel):
    """Only the parts given change; ``limits`` merge key by key (null: unlimited)."""

    model_config = ConfigDict(extra="forbid")
    plan: Name | None = None
    limits: dict[Name, Annotated[int, Field(ge=0, le=2**53)] | None] | None = Field(
        default=None, max_length=200
    )
    features: list[Name] | None = Field(default=None, max_length=200)


class TenantUserView(BaseModel):
    id: str
    email: str
    display_name: str | None
    roles: list[Role]
    kind: str = Field(description="home: the tenant's own account; member: another tenant's")
    joined_at: str

    @classmethod
    def of(cls, user: TenantUser) -> TenantUserView:
        return cls(
            id=user.account_id,
            email=user.email,
            display_name=user.display_name,
            roles=sorted(user.roles),
            kind=user.kind,
            joined_at=iso(user.created_at),
        )


class NewMember(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    roles: list[Annotated[str, Field(pattern="^(tenant_admin|staff|user)$")]] = Field(
        min_length=1, max_length=3
    )


async def _change(
    security: Security, tenant: str, body: SettingsChange, principal: Principal
) -> TenantSettings:
    if (body.plan is not None or body.limits is not None) and not principal.has_role(
        Role.PLATFORM_ADMIN
    ):
        raise Forbidden("only a platform admin sets a tenant's plan and limits")
    return await security.settings.update(
        tenant,
        plan=body.plan,
        limits=body.limits,
        features=body.features,
        metadata=principal.event_metadata(),
    )


@router.get(
    "/tenant/settings",
    response_model=Envelope[SettingsView],
    summary="The caller's tenant: plan, limits and enabled features",
)
async def own_settings(tenant_id: TenantId, security: SecurityService) -> Envelope[SettingsView]:
    return ok(SettingsView.of(await security.tenant_settings(tenant_id)))


@router.patch(
    "/tenant/settings",
    response_model=Envelope[SettingsView],
    summary="Tenant admins: switch the tenant's features (plan and limits: platform admins)",
)
async def change_own_settings(
    body: SettingsChange, admin: TenantAdmin, security: SecurityService
) -> Envelope[SettingsView]:
    return ok(SettingsView.of(await _change(security, admin.require_tenant(), body, admin)))


@router.get(
    "/admin/tenants/{tenant_id}/settings",
    response_model=Envelope[SettingsView],
    responses=NOT_FOUND,
    summary="Platform admins: one tenant's settings",
)
async def tenant_settings(
    tenant_id: TenantPath, _: PlatformAdmin, security: SecurityService
) -> Envelope[SettingsView]:
    await security.tenants.get(tenant_id)
    return ok(SettingsView.of(await security.tenant_settings(tenant_id)))


@router.patch(
    "/admin/tenants/{tenant_id}/settings",
    response_model=Envelope[SettingsView],
    responses=NOT_FOUND,
    summary="Platform admins: set a tenant's plan, limits or features (last write wins)",
)
async def change_tenant_settings(
    tenant_id: TenantPath, body: SettingsChange, admin: PlatformAdmin, security: SecurityService
) -> Envelope[SettingsView]:
    await security.tenants.get(tenant_id)
    return ok(SettingsView.of(await _change(security, tenant_id, body, admin)))


async def _users_page(
    security: Security,
    runtime: Any,
    tenant: str,
    query: ListQuery,
    cursor: str | None,
    limit: int,
) -> Page[TenantUserView]:
    rows, next_cursor, total = await keyset_page(
        runtime,
        f"tenant-users:{tenant}",
        query,
        cursor,
        limit,
        lambda after, n: security.memberships.users(tenant, query, after=after, limit=n),
        lambda u: [getattr(u, query.sort), u.account_id],
        lambda: security.memberships.count_users(tenant),
    )
    return page([TenantUserView.of(u) for u in rows], cursor=next_cursor, limit=limit, total=total)


@router.get(
    "/tenant/users",
    response_model=Page[TenantUserView],
    summary="Tenant admins: the tenant's accounts and members",
)
async def own_users(
    admin: TenantAdmin,
    security: SecurityService,
    runtime: AppRuntime,
    query: Annotated[ListQuery, Depends(list_query(TENANT_USER_SORTS))],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[TenantUserView]:
    return await _users_page(security, runtime, admin.require_tenant(), query, cursor, limit)


@router.get(
    "/admin/tenants/{tenant_id}/users",
    response_model=Page[TenantUserView],
    responses=NOT_FOUND,
    summary="Platform admins: a tenant's accounts and members (seed getTenantUsers)",
)
async def tenant_users(
    tenant_id: TenantPath,
    _: PlatformAdmin,
    security: SecurityService,
    runtime: AppRuntime,
    query: Annotated[ListQuery, Depends(list_query(TENANT_USER_SORTS))],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[TenantUserView]:
    await security.tenants.get(tenant_id)
    return await _users_page(security, runtime, tenant_id, query, cursor, limit)


@router.put(
    "/admin/tenants/{tenant_id}/members",
    response_model=Envelope[Done],
    responses=NOT_FOUND,
    summary="Platform admins: make an account of another tenant a member, with roles",
)
async def add_member(
    tenant_id: TenantPath, body: NewMember, admin: PlatformAdmin, security: SecurityService
) -> Envelope[Done]:
    await security.tenants.get(tenant_id)
    account = await security.accounts.find_by_email(body.email.strip().lower())
    if account is None:
        raise NotFound("no account with this email")
    roles = [Role(r) for r in body.roles]
    await security.memberships.grant(account, tenant_id, roles, metadata=admin.event_metadata())
    return ok(Done())


@router.delete(
    "/admin/tenants/{tenant_id}/members/{account_id}",
    response_model=Envelope[Done],
    responses=NOT_FOUND,
    summary="Platform admins: end an account's membership of a tenant",
)
async def remove_member(
    tenant_id: TenantPath, account_id: AccountPath, admin: PlatformAdmin, security: SecurityService
) -> Envelope[Done]:
    account = await security.accounts.get(account_id)
    if account is None:
        raise NotFound("no such member of this tenant")
    await security.memberships.revoke(account, tenant_id, metadata=admin.event_metadata())
    return ok(Done())
