"""The web layer's public face: route dependencies, the response envelope, cursors.

::

    from headwater.http import AUTH_ERRORS, Envelope, ScopedStore, Staff, ok

    @router.get("/orders/{order_id}", responses=AUTH_ERRORS)
    async def get_order(order_id: str, staff: Staff, store: ScopedStore) -> Envelope[Order]:
        return ok(await load_order(store, order_id))

Names load lazily (``headwater._lazy``): importing one module of this package (an
error handler, a middleware) must not pull in the route dependencies, which import
the runtime and security in turn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from headwater import _lazy

if TYPE_CHECKING:
    from headwater.cursors import (
        CursorCodec,
        ListQuery,
        Sorts,
        Total,
        count_rows,
    )
    from headwater.http._client import (
        CLIENT_ASSETS,
    )
    from headwater.http._deps import (
        AUTH_ERRORS,
        BAD_REQUEST,
        CONFLICT,
        NO_STORE,
        NOT_FOUND,
        AppRuntime,
        CurrentPrincipal,
        PlatformAdmin,
        RequirePrincipal,
        ScopedStore,
        SecurityService,
        SignedInUser,
        Staff,
        TenantAdmin,
        TenantId,
        current_principal,
        get_runtime,
        get_security,
        no_store,
        require_principal,
        require_role,
        runtime_of,
        scoped_store,
        tenant_id,
    )
    from headwater.http._listing import (
        list_query,
    )
    from headwater.http._params import (
        MAX_INT64,
    )
    from headwater.http._responses import (
        Envelope,
        ErrorBody,
        ErrorDetail,
        Meta,
        Page,
        PageInfo,
        ok,
        page,
    )
    from headwater.http._static import (
        Asset,
        StaticAssets,
    )

#: Public name -> the module that defines it. The one place to edit when a module moves.
_EXPORTS: Final[dict[str, str]] = {
    # who is calling, and what they may do
    "CurrentPrincipal": "headwater.http._deps",
    "PlatformAdmin": "headwater.http._deps",
    "RequirePrincipal": "headwater.http._deps",
    "SignedInUser": "headwater.http._deps",
    "Staff": "headwater.http._deps",
    "TenantAdmin": "headwater.http._deps",
    "current_principal": "headwater.http._deps",
    "require_principal": "headwater.http._deps",
    "require_role": "headwater.http._deps",
    # the tenant, the runtime and its services
    "AppRuntime": "headwater.http._deps",
    "ScopedStore": "headwater.http._deps",
    "SecurityService": "headwater.http._deps",
    "TenantId": "headwater.http._deps",
    "get_runtime": "headwater.http._deps",
    "get_security": "headwater.http._deps",
    "runtime_of": "headwater.http._deps",
    "scoped_store": "headwater.http._deps",
    "tenant_id": "headwater.http._deps",
    # OpenAPI ``responses=`` and caching
    "AUTH_ERRORS": "headwater.http._deps",
    "BAD_REQUEST": "headwater.http._deps",
    "CONFLICT": "headwater.http._deps",
    "NOT_FOUND": "headwater.http._deps",
    "NO_STORE": "headwater.http._deps",
    "no_store": "headwater.http._deps",
    # the response envelope
    "Envelope": "headwater.http._responses",
    "ErrorBody": "headwater.http._responses",
    "ErrorDetail": "headwater.http._responses",
    "Meta": "headwater.http._responses",
    "Page": "headwater.http._responses",
    "PageInfo": "headwater.http._responses",
    "ok": "headwater.http._responses",
    "page": "headwater.http._responses",
    # parameters and signed cursors
    "MAX_INT64": "headwater.http._params",
    # every list's sort, order and total
    "ListQuery": "headwater.cursors",
    "Sorts": "headwater.cursors",
    "Total": "headwater.cursors",
    "count_rows": "headwater.cursors",
    "list_query": "headwater.http._listing",
    "CursorCodec": "headwater.cursors",
    # fingerprinted static assets and the pages that name them
    "Asset": "headwater.http._static",
    "StaticAssets": "headwater.http._static",
    # the framework's browser client (headwater.js) and favicon, for pages to name
    "CLIENT_ASSETS": "headwater.http._client",
}

__all__ = [
    "AUTH_ERRORS",
    "BAD_REQUEST",
    "CLIENT_ASSETS",
    "CONFLICT",
    "MAX_INT64",
    "NOT_FOUND",
    "NO_STORE",
    "AppRuntime",
    "Asset",
    "CurrentPrincipal",
    "CursorCodec",
    "Envelope",
    "ErrorBody",
    "ErrorDetail",
    "ListQuery",
    "Meta",
    "Page",
    "PageInfo",
    "PlatformAdmin",
    "RequirePrincipal",
    "ScopedStore",
    "SecurityService",
    "SignedInUser",
    "Sorts",
    "Staff",
    "StaticAssets",
    "TenantAdmin",
    "TenantId",
    "Total",
    "count_rows",
    "current_principal",
    "get_runtime",
    "get_security",
    "list_query",
    "no_store",
    "ok",
    "page",
    "require_principal",
    "require_role",
    "runtime_of",
    "scoped_store",
    "tenant_id",
]


def __getattr__(name: str) -> Any:
    return _lazy.load(__name__, _EXPORTS, name)


def __dir__() -> list[str]:
    return _lazy.names(__name__, _EXPORTS)
