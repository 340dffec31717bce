"""``Security``: the security layer of one node, assembled, and the flows that span its parts.

Login, refresh, logout, act-as and the admin commands each touch several parts
(passwords, accounts, sessions, tokens, the revocation cache). They live here so a
route stays a thin translation of HTTP, and so every command that invalidates a
credential also drops this node's cached answer for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from headwater.errors import (
    EmailTaken,
    Forbidden,
    InvalidCredentials,
    InvalidInput,
    RefreshTokenReused,
    TokenRevoked,
)
from headwater.eventstore import EventStore
from headwater.identity._channels import ChannelRegistry
from headwater.identity._principal import Principal, Role, Tier
from headwater.security._accounts import AccountRecord, Accounts
from headwater.security._apikeys import ApiKeyRecord, ApiKeys
from headwater.security._authenticator import SecurityAuthenticator
from headwater.security._config import SecurityConfig
from headwater.security._cookies import SessionCookies
from headwater.security._memberships import Memberships
from headwater.security._passwords import Passwords
from headwater.security._revocation import CredentialStates
from headwater.security._sessions import Sessions
from headwater.security._settings import TenantSettings, TenantSettingsStore
from headwater.security._tenants import Tenants
from headwater.security._tokens import AccessClaims, AccessTokens

Metadata = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    access: AccessClaims
    refresh_token: str
    #: Microseconds since the epoch.
    refresh_expires_at: int
    account: AccountRecord


@dataclass(frozen=True, slots=True)
class CookieSession:
    cookie: str
    csrf_token: str
    account: AccountRecord


class Security:
    def __init__(
        self,
        store: EventStore,
        *,
        root_secret: str,
        config: SecurityConfig,
        channels: ChannelRegistry,
    ) -> None:
        self.store = store
        self.config = config
        self.channels = channels
        self.passwords = Passwords(config.passwords, max_concurrent=config.max_concurrent_hashes)
        self.tokens = AccessTokens(
            root_secret,
            lifetime_seconds=config.access_token_seconds,
            leeway_seconds=config.clock_leeway_seconds,
        )
        self.cookies = SessionCookies(root_secret, max_age_seconds=config.cookie_session_seconds)
        self.accounts = Accounts(store, self.passwords)
        self.tenants = Tenants(store)
        self.api_keys = ApiKeys(store)
        self.settings = TenantSettingsStore(store)
        self.memberships = Memberships(store)
        self.sessions = Sessions(
            store,
            refresh_seconds=config.refresh_token_seconds,
            session_max_seconds=config.session_max_seconds,
            cookie_seconds=config.cookie_session_seconds,
        )
        self.states = CredentialStates(store, self.api_keys, ttl=config.revocation_cache_seconds)
        self.authenticator = SecurityAuthenticator(
            tokens=self.tokens,
            cookies=self.cookies,
            states=self.states,
            session_cookie=config.session_cookie,
            memberships=self.memberships,
        )

    # --- signing in and out -------------------------------------------------------------

    async def check_password(self, email: str, password: str) -> AccountRecord:
        """The account, or ``InvalidCredentials`` after the same work whatever the cause."""
        account = await self.accounts.find_by_email(email)
        if account is None:
            await self.passwords.verify_nothing(password)
            raise InvalidCredentials()
        if not await self.passwords.verify(account.password_hash, password) or account.disabled:
            raise InvalidCredentials()
        if self.passwords.needs_rehash(account.password_hash):
            await self.accounts.rehash(account, password)
        return account

    async def login(self, email: str, password: str) -> TokenPair:
        account = await self.check_password(email, password)
        grant = await self.sessions.open_token_session(account.account_id)
        token, claims = self._access_for(account, grant.session_id)
        return TokenPair(token, claims, grant.refresh_token, grant.refresh_expires_at, account)

    async def refresh(self, refresh_token: str) -> TokenPair:
        try:
            grant = await self.sessions.rotate(refresh_token)
        except RefreshTokenReused:
            # The reuse revoked the session: this node stops trusting it at once.
            found = await self.sessions.session_of(refresh_token)
            if found is not None:
                self.states.forget_session(found[0])
            raise
        account = await self.accounts.get(grant.account_id)
        if account is None or account.disabled:
            await self.sessions.revoke(grant.session_id, "account_disabled")
            raise TokenRevoked("the account is disabled")
        token, claims = self._access_for(account, grant.session_id)
        return TokenPair(token, claims, grant.refresh_token, grant.refresh_expires_at, account)

    async def logout(self, principal: Principal, refresh_token: str | None = None) -> None:
        """End the caller's session, and the session of ``refresh_token`` if given."""
        ended: list[str] = []
        session_id = principal.claims.get("sid")
        if principal.credential in ("access_token", "session") and isinstance(session_id, str):
            ended.append(session_id)
        if refresh_token:
            found = await self.sessions.session_of(refresh_token)
            if found is not None:
                ended.append(found[0])
        for sid in ended:
            await self.sessions.revoke(sid, "logout")
            self.states.forget_session(sid)

    async def open_cookie_session(self, email: str, password: str) -> CookieSession:
        account = await self.check_password(email, password)
        session_id = await self.sessions.open_cookie_session(account.account_id)
        cookie = self.cookies.encode(session_id, account.account_id)
        return CookieSession(cookie, self.cookies.csrf_token(session_id), account)

    async def act_as(self, principal: Principal, tenant_id: str) -> tuple[str, AccessClaims]:
        """An access token with which a platform admin acts for ``tenant_id``.

        An explicit choice, recorded as an event on the admin's account; every event
        the admin then causes carries ``acting_as_admin`` in its metadata.
        """
        principal.require_role(Role.PLATFORM_ADMIN)
        session_id = principal.claims.get("sid")
        if principal.credential != "access_token" or not isinstance(session_id, str):
            raise Forbidden("acting for a tenant needs a signed-in access token")
        await self.tenants.get(tenant_id)
        account = await self._account(principal.subject)
        await self.accounts.record_acting_for(
            account, tenant_id, metadata=principal.event_metadata()
        )
        return self.tokens.issue(
            subject=account.account_id,
            tenant_id=tenant_id,
            roles=account.roles,
            tier=account.tier,
            session_id=session_id,
            acting_as_admin=True,
        )

    async def switch_tenant(self, principal: Principal, tenant_id: str) -> tuple[str, AccessClaims]:
        """An access token with which the caller acts in ``tenant_id`` (seed 004 ``switchTenant``).

        Allowed for the account's home tenant and the tenants it is a member of, with
        the roles it holds there; anything else is a 403 that says nothing of whether
        the tenant exists. The token stays tied to the caller's session, so signing
        out ends it, and the membership is checked again on every request.
        """
        session_id = principal.claims.get("sid")
        if principal.credential != "access_token" or not isinstance(session_id, str):
            raise Forbidden("switching tenant needs a signed-in access token")
        account = await self._account(principal.subject)
        if Role.PLATFORM_ADMIN in account.roles:
            raise Forbidden("a platform admin acts for a tenant with /auth/act-as")
        if tenant_id == account.tenant_id:
            roles = account.roles
        else:
            found = await self.memberships.roles_in(account.account_id, tenant_id)
            if found is None:
                raise Forbidden("this account is not a member of that tenant")
            roles = found
        return self.tokens.issue(
            subject=account.account_id,
            tenant_id=tenant_id,
            roles=roles,
            tier=account.tier,
            session_id=session_id,
        )

    async def tenant_settings(self, tenant_id: str) -> TenantSettings:
        """The tenant's plan, limits and features (seed 004 ``getTenantConfig``)."""
        return await self.settings.get(tenant_id)

    async def change_own_password(self, principal: Principal, current: str, new: str) -> TokenPair:
        """Change the caller's password, end every session, and sign in afresh."""
        account = await self._account(principal.subject)
        if not await self.passwords.verify(account.password_hash, current):
            raise InvalidCredentials()
        await self.accounts.change_password(
            account, new, sign_out=True, metadata=principal.event_metadata()
        )
        self.states.forget_account(account.account_id)
        return await self.login(account.email, new)

    # --- administering accounts and keys ------------------------------------------------

    async def create_account(
        self,
        *,
        tenant_id: str,
        email: str,
        password: str,
        roles: Iterable[Role],
        tier: Tier,
        display_name: str | None,
        metadata: Metadata,
    ) -> AccountRecord:
        return await self.accounts.register(
            email=email,
            password=password,
            tenant_id=tenant_id,
            roles=roles,
            tier=tier,
            display_name=display_name,
            metadata=metadata,
        )

    async def change_roles(
        self, account: AccountRecord, roles: Iterable[Role], tier: Tier, metadata: Metadata
    ) -> None:
        await self.accounts.change_roles(account, roles, tier, metadata=metadata)
        self.states.forget_account(account.account_id)

    async def disable(self, account: AccountRecord, reason: str, metadata: Metadata) -> None:
        await self.accounts.disable(account, reason=reason, metadata=metadata)
        self.states.forget_account(account.account_id)

    async def enable(self, account: AccountRecord, metadata: Metadata) -> None:
        await self.accounts.enable(account, metadata=metadata)
        self.states.forget_account(account.account_id)

    async def sign_out_everywhere(
        self, account: AccountRecord, reason: str, metadata: Metadata
    ) -> None:
        await self.accounts.revoke_tokens(account, reason=reason, metadata=metadata)
        self.states.forget_account(account.account_id)

    async def revoke_api_key(self, key_id: str, tenant_id: str, metadata: Metadata) -> ApiKeyRecord:
        record = await self.api_keys.revoke(key_id, tenant_id, metadata=metadata)
        self.states.forget_api_key(key_id)
        return record

    async def ensure_platform_admin(self, email: str, password: str) -> AccountRecord:
        """Create the platform admin ``email`` unless an account has that email (idempotent)."""
        existing = await self.accounts.find_by_email(email)
        if existing is not None:
            if Role.PLATFORM_ADMIN not in existing.roles:
                raise InvalidInput(f"{email} exists and is not a platform admin")
            return existing
        try:
            return await self.accounts.register(
                email=email,
                password=password,
                tenant_id=None,
                roles=[Role.PLATFORM_ADMIN],
                metadata={"actor": "system", "actor_kind": "bootstrap"},
            )
        except EmailTaken:  # another node bootstrapped it at the same moment
            return await self._account_by_email(email)

    # --- helpers ------------------------------------------------------------------------

    def _access_for(self, account: AccountRecord, session_id: str) -> tuple[str, AccessClaims]:
        return self.tokens.issue(
            subject=account.account_id,
            tenant_id=account.tenant_id,
            roles=account.roles,
            tier=account.tier,
            session_id=session_id,
        )

    async def _account(self, account_id: str) -> AccountRecord:
        account = await self.accounts.get(account_id)
        if account is None:
            raise TokenRevoked("the account no longer exists")
        return account

    async def _account_by_email(self, email: str) -> AccountRecord:
        account = await self.accounts.find_by_email(email)
        if account is None:  # pragma: no cover - EmailTaken said it exists
            raise InvalidInput(f"no account {email}")
        return account
