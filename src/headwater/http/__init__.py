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
    )
    from headwater.http.deps import (
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
    from headwater.http.params import (
        MAX_INT64,
    )
    from headwater.http.responses import (
        Envelope,
        ErrorBody,
        ErrorDetail,
        Meta,
        Page,
        PageInfo,
        ok,
        page,
    )
    from headwater.http.static import (
        Asset,
        StaticAssets,
    )

#: Public name -> the module that defines it. The one place to edit when a module moves.
_EXPORTS: Final[dict[str, str]] = {
    # who is calling, and what they may do
    "CurrentPrincipal": "headwater.http.deps",
    "PlatformAdmin": "headwater.http.deps",
    "RequirePrincipal": "headwater.http.deps",
    "SignedInUser": "headwater.http.deps",
    "Staff": "headwater.http.deps",
    "TenantAdmin": "headwater.http.deps",
    "current_principal": "headwater.http.deps",
    "require_principal": "headwater.http.deps",
    "require_role": "headwater.http.deps",
    # the tenant, the runtime and its services
    "AppRuntime": "headwater.http.deps",
    "ScopedStore": "headwater.http.deps",
    "SecurityService": "headwater.http.deps",
    "TenantId": "headwater.http.deps",
    "get_runtime": "headwater.http.deps",
    "get_security": "headwater.http.deps",
    "runtime_of": "headwater.http.deps",
    "scoped_store": "headwater.http.deps",
    "tenant_id": "headwater.http.deps",
    # OpenAPI ``responses=`` and caching
    "AUTH_ERRORS": "headwater.http.deps",
    "BAD_REQUEST": "headwater.http.deps",
    "CONFLICT": "headwater.http.deps",
    "NOT_FOUND": "headwater.http.deps",
    "NO_STORE": "headwater.http.deps",
    "no_store": "headwater.http.deps",
    # the response envelope
    "Envelope": "headwater.http.responses",
    "ErrorBody": "headwater.http.responses",
    "ErrorDetail": "headwater.http.responses",
    "Meta": "headwater.http.responses",
    "Page": "headwater.http.responses",
    "PageInfo": "headwater.http.responses",
    "ok": "headwater.http.responses",
    "page": "headwater.http.responses",
    # parameters and signed cursors
    "MAX_INT64": "headwater.http.params",
    "CursorCodec": "headwater.cursors",
    # fingerprinted static assets and the pages that name them
    "Asset": "headwater.http.static",
    "StaticAssets": "headwater.http.static",
}

__all__ = [
    "AUTH_ERRORS",
    "BAD_REQUEST",
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
    "Meta",
    "Page",
    "PageInfo",
    "PlatformAdmin",
    "RequirePrincipal",
    "ScopedStore",
    "SecurityService",
    "SignedInUser",
    "Staff",
    "StaticAssets",
    "TenantAdmin",
    "TenantId",
    "current_principal",
    "get_runtime",
    "get_security",
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
