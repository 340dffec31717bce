"""Token authentication: login, refresh, logout, who am I, password, act-as.

Login answers the same way, after the same work, whether or not the email has an
account, so the route gives an attacker no list of accounts and a rate limiter sees
uniform failures.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field

from headwater.errors import Forbidden, Unauthorized
from headwater.http._deps import (
    AUTH_ERRORS,
    NO_STORE,
    PlatformAdmin,
    RequirePrincipal,
    SecurityService,
)
from headwater.http._responses import Envelope, ErrorBody, ok
from headwater.http.routes._views import (
    AccessTokenView,
    Done,
    Memberships,
    MembershipView,
    PrincipalView,
    TokenView,
)
from headwater.identity._principal import ANONYMOUS, Principal
from headwater.security._accounts import AccountRecord

router = APIRouter(prefix="/auth", tags=["auth"], dependencies=[NO_STORE])

BAD_LOGIN: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "invalid_credentials, for every cause"}
}
BAD_REFRESH: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorBody,
        "description": "token_invalid, token_expired, token_revoked, or refresh_token_reused "
        "(a spent token came back: its whole session is revoked)",
    }
}


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=1, max_length=200)


class LogoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str | None = Field(default=None, max_length=200)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class ActAsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant_id: str = Field(min_length=1, max_length=255)


@router.post(
    "/login",
    response_model=Envelope[TokenView],
    responses=BAD_LOGIN,
    summary="Sign in with email and password: an access token and a refresh token",
)
async def login(body: LoginRequest, security: SecurityService) -> Envelope[TokenView]:
    return ok(TokenView.of(await security.login(body.email, body.password)))


@router.post(
    "/refresh",
    response_model=Envelope[TokenView],
    responses=BAD_REFRESH,
    summary="Spend a refresh token for a new access token and the next refresh token",
)
async def refresh(body: RefreshRequest, security: SecurityService) -> Envelope[TokenView]:
    return ok(TokenView.of(await security.refresh(body.refresh_token)))


@router.post(
    "/logout",
    response_model=Envelope[Done],
    responses={401: AUTH_ERRORS[401]},
    summary="End this session (by its access token, its refresh token, or both)",
)
async def logout(
    request: Request,
    security: SecurityService,
    body: Annotated[LogoutRequest | None, Body()] = None,
) -> Envelope[Done]:
    # Read without raising: an expired access token must not stop a logout that
    # names its session by the refresh token.
    principal = request.scope.get("state", {}).get("principal", ANONYMOUS)
    refresh_token = body.refresh_token if body is not None else None
    if not principal.is_authenticated and not refresh_token:
        raise Unauthorized("send the access token or the refresh token of the session to end")
    await security.logout(principal, refresh_token)
    return ok(Done())


@router.post(
    "/logout-all",
    response_model=Envelope[Done],
    responses=AUTH_ERRORS,
    summary="Sign out everywhere: every session and token of this account ends",
)
async def logout_all(principal: RequirePrincipal, security: SecurityService) -> Envelope[Done]:
    account = await _own_account(principal, security)
    await security.sign_out_everywhere(account, "signed out everywhere", principal.event_metadata())
    return ok(Done())


@router.get(
    "/me",
    response_model=Envelope[PrincipalView],
    responses={401: AUTH_ERRORS[401]},
    summary="The caller, as the server sees it",
)
async def me(principal: RequirePrincipal) -> Envelope[PrincipalView]:
    return ok(PrincipalView.of(principal))


@router.post(
    "/password",
    response_model=Envelope[TokenView],
    responses={**AUTH_ERRORS, 400: {"model": ErrorBody, "description": "Password too weak"}},
    summary="Change the caller's password; every session ends and a new one starts",
)
async def change_password(
    body: PasswordChange, principal: RequirePrincipal, security: SecurityService
) -> Envelope[TokenView]:
    await _own_account(principal, security)
    pair = await security.change_own_password(principal, body.current_password, body.new_password)
    return ok(TokenView.of(pair))


@router.post(
    "/act-as",
    response_model=Envelope[AccessTokenView],
    responses={**AUTH_ERRORS, 404: {"model": ErrorBody, "description": "No such tenant"}},
    summary="Platform admins: an access token to act for one tenant (recorded)",
)
async def act_as(
    body: ActAsRequest, principal: PlatformAdmin, security: SecurityService
) -> Envelope[AccessTokenView]:
    token, claims = await security.act_as(principal, body.tenant_id)
    return ok(
        AccessTokenView(
            access_token=token,
            expires_in=claims.expires_at - claims.issued_at,
            tenant_id=claims.tenant_id,
        )
    )


@router.post(
    "/switch-tenant",
    response_model=Envelope[AccessTokenView],
    responses=AUTH_ERRORS,
    summary="An access token to act in another tenant the account is a member of",
)
async def switch_tenant(
    body: ActAsRequest, principal: RequirePrincipal, security: SecurityService
) -> Envelope[AccessTokenView]:
    token, claims = await security.switch_tenant(principal, body.tenant_id)
    return ok(
        AccessTokenView(
            access_token=token,
            expires_in=claims.expires_at - claims.issued_at,
            tenant_id=claims.tenant_id,
        )
    )


@router.get(
    "/tenants",
    response_model=Memberships,
    responses=AUTH_ERRORS,
    summary="The tenants the signed-in account may act in, with its roles in each",
)
async def my_tenants(
    principal: RequirePrincipal, security: SecurityService
) -> Envelope[list[MembershipView]]:
    account = await _own_account(principal, security)
    found = [] if account.tenant_id is None else [(account.tenant_id, account.roles, "home")]
    for tenant_id, roles in await security.memberships.of_account(account.account_id):
        found.append((tenant_id, roles, "member"))
    return ok(
        [
            MembershipView(tenant_id=t, roles=sorted(r), kind=k, current=t == principal.tenant_id)
            for t, r, k in found
        ]
    )


async def _own_account(principal: Principal, security: SecurityService) -> AccountRecord:
    if principal.credential not in ("access_token", "session"):
        raise Forbidden("only a signed-in account can do this (an API key is managed by admins)")
    account = await security.accounts.get(principal.subject)
    if account is None:
        raise Unauthorized("the account no longer exists")
    return account
