"""Realtime helpers for tests and benchmarks that run real ``headwater serve`` processes.

* :class:`StaticTokenAuthenticator` maps known bearer tokens to principals: enough to
  test per-channel authorization before (and independently of) the real auth layer.
* :class:`AppendModule` adds ``POST /_test/append``, appending events as the caller's
  tenant, so a test can write through one node and read through another.

Serve them with ``--app headwater.testing._realtime:realtime_app`` and
``--app headwater.testing._realtime:append_app``. Never mount these in production.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from headwater.errors import Unauthorized
from headwater.eventstore import NewEvent
from headwater.identity._principal import ANONYMOUS, Authenticator, Principal, Role
from headwater.modules import Module
from headwater.realtime import RealtimeConfig, RealtimeModule

#: The cookie a :class:`StaticTokenAuthenticator` reads as a session.
SESSION_COOKIE = "hw_session"


def principal(
    subject: str, tenant_id: str | None, *roles: Role, exp: float | None = None
) -> Principal:
    claims: dict[str, object] = {} if exp is None else {"exp": exp}
    return Principal(
        subject=subject,
        tenant_id=tenant_id,
        roles=frozenset(roles),
        credential="access_token",
        display_name=subject.title(),
        claims=claims,
    )


#: Two tenants, and one of each role that matters to channel policies.
TOKENS: dict[str, Principal] = {
    "alice-token": principal("alice", "acme", Role.STAFF),
    "bob-token": principal("bob", "acme", Role.USER),
    "carol-token": principal("carol", "acme", Role.TENANT_ADMIN),
    "eve-token": principal("eve", "globex", Role.TENANT_ADMIN),
    "root-token": principal("root", None, Role.PLATFORM_ADMIN),
}


class StaticTokenAuthenticator:
    """Bearer tokens (header, first message or the session cookie) from a fixed table."""

    def __init__(self, tokens: Mapping[str, Principal] | None = None) -> None:
        self._tokens = dict(TOKENS if tokens is None else tokens)

    async def authenticate(
        self,
        headers: Mapping[str, str],
        cookies: Mapping[str, str],
        token: str | None = None,
    ) -> Principal:
        credential = "access_token"
        if token is None:
            scheme, _, value = headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer" and value:
                token = value.strip()
            elif SESSION_COOKIE in cookies:
                token, credential = cookies[SESSION_COOKIE], "session"
        if token is None:
            return ANONYMOUS
        found = self._tokens.get(token)
        if found is None:
            raise Unauthorized("unknown or revoked token")
        if credential == "session":
            found = Principal(**{**_fields(found), "credential": "session"})
        return found


def _fields(p: Principal) -> dict[str, Any]:
    return {name: getattr(p, name) for name in Principal.__slots__}


class AppendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stream_id: str = Field(min_length=1, max_length=255)
    type: str = Field(default="Tested", min_length=1, max_length=255)
    data: dict[str, Any] = Field(default_factory=dict)
    #: Append this many copies (with ``"n": i`` added) in one atomic append.
    count: int = Field(default=1, ge=1, le=10_000)


class AppendResponse(BaseModel):
    positions: list[int]


class AppendModule(Module):
    """``POST /_test/append``: write as the caller's tenant (tests and benchmarks only)."""

    name = "test-append"

    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    def routers(self) -> Sequence[APIRouter]:
        router = APIRouter(tags=["testing"])
        authenticator = self._authenticator

        async def caller(request: Request) -> Principal:
            headers = {k.lower(): v for k, v in request.headers.items()}
            found = await authenticator.authenticate(headers, request.cookies)
            if not found.is_authenticated:
                raise Unauthorized("this route needs a bearer token")
            return found

        @router.post("/_test/append", response_model=AppendResponse)
        async def append(body: AppendRequest, request: Request) -> AppendResponse:
            who = await caller(request)
            events = [
                NewEvent(body.type, {**body.data, "n": i}, metadata=who.event_metadata())
                for i in range(body.count)
            ]
            store = request.app.state.runtime.store
            result = await store.append(body.stream_id, events, tenant_id=who.tenant_id)
            return AppendResponse(positions=list(result.positions))

        return [router]


authenticator = StaticTokenAuthenticator()
realtime_app = RealtimeModule(authenticator)
append_app = AppendModule(authenticator)


def realtime_module(config: RealtimeConfig | None = None, **options: Any) -> RealtimeModule:
    """A realtime module on the static tokens, for a test's own app module."""
    return RealtimeModule(authenticator, config=config, **options)
