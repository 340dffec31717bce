"""Turns presented credentials into a Principal: the one place every credential is checked.

Where credentials come from, first match wins:

1. ``token`` (a WebSocket's first message): an access token, or an API key;
2. ``Authorization: Bearer <access token>`` or ``Authorization: ApiKey <key>``;
3. ``X-API-Key: <key>``;
4. the dashboard's session cookie.

Header credentials win over the cookie, so a request that carries both is not
cookie-authenticated and needs no CSRF token (a cross-site page cannot set headers).
Present-but-bad credentials raise (401, with a code saying why); no credentials at
all is ``ANONYMOUS``. Roles, tier and tenant come from the account as it is now (see
``revocation``), never from what the client holds; the tenant of an API key is the
key's.
"""

from __future__ import annotations

from collections.abc import Mapping

from headwater.errors import ApiKeyInvalid, TokenInvalid, TokenRevoked
from headwater.identity._principal import ANONYMOUS, Principal, Role
from headwater.security._apikeys import PREFIX as API_KEY_PREFIX
from headwater.security._apikeys import split_key
from headwater.security._cookies import SessionCookies
from headwater.security._memberships import Memberships
from headwater.security._opaque import matches
from headwater.security._revocation import CredentialStates, SessionState
from headwater.security._tokens import AccessTokens


class SecurityAuthenticator:
    def __init__(
        self,
        *,
        tokens: AccessTokens,
        cookies: SessionCookies,
        states: CredentialStates,
        session_cookie: str,
        memberships: Memberships,
    ) -> None:
        self.memberships = memberships
        self.tokens = tokens
        self.cookies = cookies
        self.states = states
        self.session_cookie = session_cookie

    async def authenticate(
        self,
        headers: Mapping[str, str],
        cookies: Mapping[str, str],
        token: str | None = None,
    ) -> Principal:
        if token is not None:
            token = token.strip()
            if token.startswith(API_KEY_PREFIX):
                return await self.from_api_key(token)
            return await self.from_access_token(token)
        authorization = headers.get("authorization")
        if authorization:
            scheme, _, value = authorization.strip().partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                return await self.from_access_token(value.strip())
            if scheme.lower() == "apikey" and value.strip():
                return await self.from_api_key(value.strip())
            raise TokenInvalid("use 'Authorization: Bearer <access token>' or 'ApiKey <key>'")
        api_key = headers.get("x-api-key")
        if api_key:
            return await self.from_api_key(api_key)
        session = cookies.get(self.session_cookie)
        if session:
            return await self.from_session_cookie(session)
        return ANONYMOUS

    async def from_access_token(self, token: str) -> Principal:
        claims = self.tokens.decode(token)
        state = await self._live(claims.subject, claims.session_id)
        account = state.account
        tenant_id = account.tenant_id
        roles = account.roles
        if claims.acting_as_admin:
            # Only a platform admin acts for a tenant, and only by the explicit,
            # audited act-as token; never by a client-chosen header.
            if Role.PLATFORM_ADMIN not in account.roles or claims.tenant_id is None:
                raise TokenRevoked("this account may no longer act for a tenant")
            tenant_id = claims.tenant_id
        elif claims.tenant_id != account.tenant_id:
            # A token switched to another tenant: valid while the membership lasts,
            # with the roles it holds there (read now, not from the token).
            member_roles = (
                None
                if claims.tenant_id is None
                else await self.memberships.roles_in(account.account_id, claims.tenant_id)
            )
            if member_roles is None:
                raise TokenRevoked("the account's tenant changed: sign in again")
            tenant_id, roles = claims.tenant_id, member_roles
        return Principal(
            subject=account.account_id,
            tenant_id=tenant_id,
            roles=roles,
            credential="access_token",
            tier=account.tier,
            acting_as_admin=claims.acting_as_admin,
            display_name=account.display_name or account.email,
            claims=claims.raw,
        )

    async def from_session_cookie(self, value: str) -> Principal:
        session_id, account_id = self.cookies.decode(value)
        account = (await self._live(account_id, session_id)).account
        return Principal(
            subject=account.account_id,
            tenant_id=account.tenant_id,
            roles=account.roles,
            credential="session",
            tier=account.tier,
            display_name=account.display_name or account.email,
            claims={"sid": session_id},
        )

    async def from_api_key(self, presented: str) -> Principal:
        parts = split_key(presented)
        if parts is None:
            raise ApiKeyInvalid()
        key_id, secret = parts
        record = await self.states.api_key(key_id)
        # One answer for unknown, wrong secret and revoked: no oracle for key ids.
        if record is None or record.revoked_at is not None:
            raise ApiKeyInvalid()
        if not matches(secret, record.secret_digest):
            raise ApiKeyInvalid()
        return Principal(
            subject=record.key_id,
            tenant_id=record.tenant_id,
            roles=frozenset({record.role}),
            credential="api_key",
            tier=record.tier,
            display_name=record.name,
            claims={"key_id": record.key_id},
        )

    async def _live(self, account_id: str, session_id: str) -> SessionState:
        state = await self.states.session(account_id, session_id)
        if state is None or not state.active:
            raise TokenRevoked("this session has ended (signed out, revoked or disabled)")
        return state
