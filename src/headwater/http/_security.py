"""``SecurityModule``: the security service on the web, as one Module.

``headwater.security`` owns accounts, tenants, tokens, API keys and sessions and knows
no HTTP; this module puts it behind its routes and middleware.

::

    app = create_app(settings, plugins=[SecurityModule()])

At start it creates or checks its tables, attaches the inline projection, and puts
the ``Security`` service in ``runtime.security``, its authenticator in
``runtime.authenticator`` (the realtime endpoints use it for a WebSocket's first
message) and the channel registry in ``runtime.channels`` (the hub's
``authorize(principal, channel)``).

Its middleware, outermost first: CORS (allow-list), authentication (principal and
tenant context for every request), CSRF (cookie sessions only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from fastapi import APIRouter
from starlette.middleware import Middleware

from headwater.errors import SchemaNotMigrated
from headwater.eventstore import EventStore
from headwater.http.middleware._authentication import AuthenticationMiddleware
from headwater.http.middleware._cors import AllowListCORSMiddleware
from headwater.http.middleware._csrf import CsrfMiddleware
from headwater.http.routes import _accounts as accounts
from headwater.http.routes import _api_keys as api_keys
from headwater.http.routes import _auth as auth
from headwater.http.routes import _session as session
from headwater.http.routes import _tenant_admin as tenant_admin
from headwater.http.routes import _tenants as tenants
from headwater.identity._channels import ChannelRegistry
from headwater.modules import Module
from headwater.runtime import Runtime
from headwater.security import _schema as schema
from headwater.security._config import SecurityConfig
from headwater.security._service import Security


class SecurityModule(Module):
    name: ClassVar[str] = "security"
    version: ClassVar[str] = "0.1.0"

    def __init__(
        self,
        config: SecurityConfig | None = None,
        *,
        channels: ChannelRegistry | None = None,
    ) -> None:
        #: None: built from the runtime's settings at start (``SecurityConfig.from_settings``).
        self.config = config
        #: The one channel registry: the realtime module adopts it at start.
        self.channels = channels if channels is not None else ChannelRegistry.with_defaults()

    def routers(self) -> Sequence[APIRouter]:
        return (
            auth.router,
            session.router,
            accounts.router,
            api_keys.router,
            tenants.router,
            tenant_admin.router,
        )

    def middleware(self) -> Sequence[Middleware]:
        origins = None if self.config is None else self.config.cors_origins
        return (
            Middleware(AllowListCORSMiddleware, origins=origins),
            Middleware(AuthenticationMiddleware),
            Middleware(CsrfMiddleware),
        )

    async def migrate(self, store: EventStore) -> list[str]:
        """For ``headwater migrate``: create or upgrade the security tables."""
        return await schema.migrate(store)

    async def start(self, runtime: Runtime) -> None:
        settings = runtime.settings
        config = self.config or SecurityConfig.from_settings(settings)
        auto = settings.auto_migrate
        if auto or (auto is None and runtime.store.dialect == "sqlite"):
            await schema.migrate(runtime.store)
        elif not await schema.is_current(runtime.store):
            raise SchemaNotMigrated(
                "the security tables are missing or old: run `headwater migrate` "
                "(or start once with HEADWATER_AUTO_MIGRATE=true)"
            )
        schema.attach(runtime.store)
        security = Security(
            runtime.store,
            root_secret=runtime.secret,
            config=config,
            channels=self.channels,
        )
        runtime.security = security
        runtime.authenticator = security.authenticator
        runtime.channels = self.channels
        await security.sessions.purge_expired()
        if config.bootstrap_admin_email and config.bootstrap_admin_password:
            await security.ensure_platform_admin(
                config.bootstrap_admin_email, config.bootstrap_admin_password
            )

    async def stop(self, runtime: Runtime) -> None:
        schema.detach(runtime.store)
        runtime.security = None
        runtime.authenticator = None
        runtime.channels = None
