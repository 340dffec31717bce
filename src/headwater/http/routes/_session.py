"""The dashboard's cookie session: sign in, get the CSRF token, sign out.

The session cookie is httpOnly, SameSite=Lax and Secure unless configured off for
plain-HTTP development. Unsafe requests authenticated by it need the CSRF token in
``X-CSRF-Token`` (enforced by ``middleware.csrf`` for every route, not just these).
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from headwater.errors import Forbidden
from headwater.http._deps import AUTH_ERRORS, NO_STORE, RequirePrincipal, SecurityService
from headwater.http._responses import Envelope, ok
from headwater.http.routes._auth import BAD_LOGIN, LoginRequest
from headwater.http.routes._views import AccountView, Done
from headwater.security._config import SecurityConfig

router = APIRouter(prefix="/auth/session", tags=["session"], dependencies=[NO_STORE])


class SessionView(BaseModel):
    csrf_token: str
    account: AccountView


class CsrfView(BaseModel):
    csrf_token: str


@router.post(
    "",
    response_model=Envelope[SessionView],
    responses=BAD_LOGIN,
    summary="Dashboard sign-in: sets the session cookie and returns the CSRF token",
)
async def open_session(
    body: LoginRequest, response: Response, security: SecurityService
) -> Envelope[SessionView]:
    session = await security.open_cookie_session(body.email, body.password)
    config = security.config
    _set_cookie(response, config, config.session_cookie, session.cookie, http_only=True)
    _set_cookie(response, config, config.csrf_cookie, session.csrf_token, http_only=False)
    return ok(SessionView(csrf_token=session.csrf_token, account=AccountView.of(session.account)))


@router.get(
    "/csrf",
    response_model=Envelope[CsrfView],
    responses=AUTH_ERRORS,
    summary="The CSRF token of the current cookie session",
)
async def csrf_token(principal: RequirePrincipal, security: SecurityService) -> Envelope[CsrfView]:
    session_id = principal.claims.get("sid")
    if principal.credential != "session" or not isinstance(session_id, str):
        raise Forbidden("there is no cookie session on this request")
    return ok(CsrfView(csrf_token=security.cookies.csrf_token(session_id)))


@router.post(
    "/logout",
    response_model=Envelope[Done],
    responses=AUTH_ERRORS,
    summary="Dashboard sign-out: ends the session server-side and clears its cookies",
)
async def close_session(
    principal: RequirePrincipal, response: Response, security: SecurityService
) -> Envelope[Done]:
    await security.logout(principal)
    config = security.config
    for name in (config.session_cookie, config.csrf_cookie):
        response.delete_cookie(name, path="/", secure=config.cookie_secure, samesite="lax")
    return ok(Done())


def _set_cookie(
    response: Response, config: SecurityConfig, name: str, value: str, *, http_only: bool
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=config.cookie_session_seconds,
        path="/",
        secure=config.cookie_secure,
        httponly=http_only,
        samesite="lax",
    )
