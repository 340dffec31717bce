"""FastAPI dependencies for routes: who is calling, what they may do, and their tenant.

::

    from headwater.http._deps import CurrentPrincipal, ScopedStore, TenantAdmin, require_role

    @router.get("/orders/{order_id}")
    async def get_order(order_id: str, store: ScopedStore) -> Envelope[Order]:
        # store reads this tenant's streams only; another tenant's order is a 404
        ...

    @router.post("/orders/{order_id}/refund", dependencies=[require_role(Role.STAFF)])
    async def refund(order_id: str, admin: TenantAdmin) -> ...: ...

Authentication itself happens once per request in ``middleware.authentication``;
these read its result. Anonymous callers of a protected route get 401, signed-in
callers without the role 403.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from headwater.errors import HeadwaterError, StoreUnavailable, Unauthorized
from headwater.http._responses import ErrorBody
from headwater.http.middleware._authentication import request_cookies
from headwater.identity._principal import ANONYMOUS, Principal, Role
from headwater.runtime import Runtime
from headwater.security._service import Security
from headwater.tenancy._store import TenantScopedStore

# Declared for the OpenAPI document (security schemes, "Authorize" in the docs UI).
# They read the same headers the authentication middleware already checked.
_bearer = HTTPBearer(auto_error=False, description="An access token from POST /auth/login")
_api_key = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="A device API key (also accepted as 'Authorization: ApiKey <key>')",
)
_session = APIKeyCookie(
    name="hw_session",
    auto_error=False,
    description="The dashboard session (unsafe methods also need X-CSRF-Token)",
)

#: ``responses=`` for routes that need a principal, so OpenAPI lists their errors.
AUTH_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": ErrorBody, "description": "No credentials, or expired, forged or revoked"},
    403: {"model": ErrorBody, "description": "Missing role, tenant or CSRF token"},
}
BAD_REQUEST: Final[dict[int | str, dict[str, Any]]] = {
    400: {"model": ErrorBody, "description": "Refused input (e.g. a bad cursor, a weak password)"},
}
CONFLICT: Final[dict[int | str, dict[str, Any]]] = {
    409: {"model": ErrorBody, "description": "Changed by someone else meanwhile: reload, retry"},
}
NOT_FOUND: Final[dict[int | str, dict[str, Any]]] = {
    404: {"model": ErrorBody, "description": "Not found in the caller's tenant"},
}


async def no_store(response: Response) -> None:
    """Answers that carry credentials (tokens, API keys) must not be kept by any cache
    between the client and us, nor by the browser's (RFC 6749 §5.1 asks the same)."""
    response.headers["cache-control"] = "no-store"


#: For the routers whose answers can hold a credential: ``dependencies=[NO_STORE]``.
NO_STORE = Depends(no_store)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


# Dependencies are ``async def`` even when they do not await: FastAPI runs a plain
# ``def`` dependency in its thread pool, a thread hop per request for a dict lookup.


async def get_runtime(request: Request) -> Runtime:
    return runtime_of(request)


async def get_security(request: Request) -> Security:
    security = runtime_of(request).security
    if security is None:
        raise StoreUnavailable("the security module is not installed on this app")
    return security


async def current_principal(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _api_key: Annotated[str | None, Depends(_api_key)],
    _session: Annotated[str | None, Depends(_session)],
) -> Principal:
    """The caller; ``ANONYMOUS`` without credentials; 401 for bad ones, 403 without CSRF token."""
    state = request.scope.get("state", {})
    error = state.get("auth_error")
    if isinstance(error, HeadwaterError):
        raise error
    principal = state.get("principal")
    if isinstance(principal, Principal):
        return principal
    # No authentication middleware in front of this app: authenticate here.
    authenticator = runtime_of(request).authenticator
    if authenticator is None:
        return ANONYMOUS
    headers = {k.lower(): v for k, v in request.headers.items()}
    result: Principal = await authenticator.authenticate(headers, request_cookies(headers))
    return result


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def require_principal(principal: CurrentPrincipal) -> Principal:
    if not principal.is_authenticated:
        raise Unauthorized("this needs credentials: sign in, or send an API key")
    return principal


RequirePrincipal = Annotated[Principal, Depends(require_principal)]


def require_role(role: Role) -> Any:
    """A dependency: the signed-in principal, if it holds ``role`` or a role above it.

    Use as ``Annotated[Principal, require_role(Role.STAFF)]`` or in a route's or
    router's ``dependencies=[require_role(Role.STAFF)]``.
    """

    async def check(principal: RequirePrincipal) -> Principal:
        principal.require_role(role)
        return principal

    check.__name__ = f"require_{role.value}"
    return Depends(check)


PlatformAdmin = Annotated[Principal, require_role(Role.PLATFORM_ADMIN)]
TenantAdmin = Annotated[Principal, require_role(Role.TENANT_ADMIN)]
Staff = Annotated[Principal, require_role(Role.STAFF)]
SignedInUser = Annotated[Principal, require_role(Role.USER)]


async def tenant_id(principal: RequirePrincipal) -> str:
    """The caller's tenant, from its credential (403 for a caller without one)."""
    return principal.require_tenant()


TenantId = Annotated[str, Depends(tenant_id)]


async def scoped_store(request: Request, principal: RequirePrincipal) -> TenantScopedStore:
    return TenantScopedStore(runtime_of(request).store, principal)


ScopedStore = Annotated[TenantScopedStore, Depends(scoped_store)]
SecurityService = Annotated[Security, Depends(get_security)]
AppRuntime = Annotated[Runtime, Depends(get_runtime)]
