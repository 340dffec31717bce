"""Tenants: platform admins create and list them; members read their own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from headwater.cursors import ListQuery
from headwater.http._deps import (
    AUTH_ERRORS,
    BAD_REQUEST,
    NO_STORE,
    NOT_FOUND,
    AppRuntime,
    PlatformAdmin,
    SecurityService,
    TenantId,
)
from headwater.http._listing import list_query
from headwater.http._responses import Envelope, Page, ok, page
from headwater.http.routes._paging import Cursor, Limit, keyset_page
from headwater.http.routes._views import TenantView
from headwater.security._tenants import TENANT_SORTS

router = APIRouter(
    tags=["tenants"], responses={**AUTH_ERRORS, **BAD_REQUEST}, dependencies=[NO_STORE]
)

TenantPath = Annotated[str, Path(min_length=1, max_length=64)]


class NewTenant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


@router.get("/tenant", response_model=Envelope[TenantView], summary="The caller's own tenant")
async def own_tenant(tenant_id: TenantId, security: SecurityService) -> Envelope[TenantView]:
    return ok(TenantView.of(await security.tenants.get(tenant_id)))


@router.get(
    "/admin/tenants", response_model=Page[TenantView], summary="Platform admins: all tenants"
)
async def list_tenants(
    _: PlatformAdmin,
    security: SecurityService,
    runtime: AppRuntime,
    query: Annotated[ListQuery, Depends(list_query(TENANT_SORTS))],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[TenantView]:
    rows, next_cursor, total = await keyset_page(
        runtime,
        "tenants",
        query,
        cursor,
        limit,
        lambda after, n: security.tenants.list(query, after=after, limit=n),
        lambda r: [getattr(r, query.sort), r.tenant_id],
        security.tenants.count,
    )
    return page([TenantView.of(r) for r in rows], cursor=next_cursor, limit=limit, total=total)


@router.post(
    "/admin/tenants",
    status_code=201,
    response_model=Envelope[TenantView],
    summary="Platform admins: create a tenant (then act for it to add its first admin)",
)
async def create_tenant(
    body: NewTenant, admin: PlatformAdmin, security: SecurityService
) -> Envelope[TenantView]:
    return ok(
        TenantView.of(await security.tenants.create(body.name, metadata=admin.event_metadata()))
    )


@router.get(
    "/admin/tenants/{tenant_id}",
    response_model=Envelope[TenantView],
    responses=NOT_FOUND,
    summary="Platform admins: one tenant",
)
async def get_tenant(
    tenant_id: TenantPath, _: PlatformAdmin, security: SecurityService
) -> Envelope[TenantView]:
    return ok(TenantView.of(await security.tenants.get(tenant_id)))
