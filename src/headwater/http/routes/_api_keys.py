"""Tenant admins manage their tenant's API keys (door scanners and other devices)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from headwater.cursors import ListQuery
from headwater.http._deps import (
    AUTH_ERRORS,
    BAD_REQUEST,
    NO_STORE,
    NOT_FOUND,
    AppRuntime,
    SecurityService,
    TenantAdmin,
)
from headwater.http._listing import list_query
from headwater.http._responses import Envelope, Page, ok, page
from headwater.http.routes._paging import Cursor, Limit, keyset_page
from headwater.http.routes._views import ApiKeyView, NewApiKeyView
from headwater.identity._principal import Role
from headwater.security._apikeys import API_KEY_SORTS

router = APIRouter(
    prefix="/api-keys",
    tags=["api keys"],
    responses={**AUTH_ERRORS, **BAD_REQUEST},
    dependencies=[NO_STORE],
)

KeyId = Annotated[str, Path(min_length=1, max_length=64)]


class NewApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, description="e.g. 'Door 2 scanner'")
    role: Literal["staff", "user"] = "staff"
    tier: Literal["user", "premium"] = "premium"


@router.get("", response_model=Page[ApiKeyView], summary="The tenant's API keys")
async def list_keys(
    admin: TenantAdmin,
    security: SecurityService,
    runtime: AppRuntime,
    query: Annotated[ListQuery, Depends(list_query(API_KEY_SORTS))],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ApiKeyView]:
    tenant = admin.require_tenant()
    rows, next_cursor, total = await keyset_page(
        runtime,
        f"api-keys:{tenant}",
        query,
        cursor,
        limit,
        lambda after, n: security.api_keys.list_in_tenant(tenant, query, after=after, limit=n),
        lambda r: [getattr(r, query.sort), r.key_id],
        lambda: security.api_keys.count_in_tenant(tenant),
    )
    return page([ApiKeyView.of(r) for r in rows], cursor=next_cursor, limit=limit, total=total)


@router.post(
    "",
    status_code=201,
    response_model=Envelope[NewApiKeyView],
    summary="Create an API key; the full key is in this response only",
)
async def create_key(
    body: NewApiKey, admin: TenantAdmin, security: SecurityService
) -> Envelope[NewApiKeyView]:
    record, key = await security.api_keys.create(
        tenant_id=admin.require_tenant(),
        name=body.name,
        role=Role(body.role),
        tier=body.tier,
        created_by=admin.subject,
        metadata=admin.event_metadata(),
    )
    return ok(NewApiKeyView(**ApiKeyView.of(record).model_dump(), key=key))


@router.get("/{key_id}", response_model=Envelope[ApiKeyView], responses=NOT_FOUND)
async def get_key(
    key_id: KeyId, admin: TenantAdmin, security: SecurityService
) -> Envelope[ApiKeyView]:
    return ok(ApiKeyView.of(await security.api_keys.get_in_tenant(key_id, admin.require_tenant())))


@router.post(
    "/{key_id}/revoke",
    response_model=Envelope[ApiKeyView],
    responses=NOT_FOUND,
    summary="Revoke an API key (at once on this node, within seconds on the others)",
)
async def revoke_key(
    key_id: KeyId, admin: TenantAdmin, security: SecurityService
) -> Envelope[ApiKeyView]:
    record = await security.revoke_api_key(key_id, admin.require_tenant(), admin.event_metadata())
    return ok(ApiKeyView.of(record))
