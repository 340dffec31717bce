"""``create_app``: a FastAPI app with Headwater's runtime, middleware and error shape.

The composition root: the only place that knows every module, in the order a node
starts them (and stops them, in reverse). No feature package imports it.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from headwater import __version__
from headwater.app._core import core_modules
from headwater.cursors import CursorCodec
from headwater.errors import InvalidInput
from headwater.eventstore import PostgresTimeouts, create_event_store
from headwater.http import _client as client
from headwater.http import _docs as docs
from headwater.http import _health as health
from headwater.http._error_handlers import install_error_handlers
from headwater.http.middleware._edge import EdgeMiddleware
from headwater.http.middleware._error_boundary import ErrorBoundaryMiddleware
from headwater.http.middleware._etag import ETagMiddleware
from headwater.http.middleware._json_unicode import JsonUnicodeMiddleware
from headwater.http.middleware._route_index import install_route_index
from headwater.jobs import JobsModule
from headwater.modules import Module
from headwater.runtime import Runtime
from headwater.settings import Settings


def resolve_secret(settings: Settings) -> str:
    """The configured secret, or, for the embedded default only, one kept on disk."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    if not settings.database_url.startswith("sqlite"):
        raise InvalidInput(
            "HEADWATER_SECRET_KEY is required with a shared database: every node must "
            "sign cursors and tokens with the same key"
        )
    path = settings.data_dir / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), "utf-8")
        path.chmod(0o600)
    return path.read_text("utf-8").strip()


def postgres_timeouts(settings: Settings) -> PostgresTimeouts:
    """The deadlines of every PostgreSQL call, from the ``database_*`` settings."""
    return PostgresTimeouts(
        connect=settings.database_connect_timeout,
        pool=settings.database_pool_timeout,
        query=settings.database_query_timeout,
        append=settings.append_timeout_seconds,
        migration=settings.database_migration_timeout,
        listen_heartbeat=settings.database_listen_heartbeat,
        tcp_user_timeout=settings.database_tcp_user_timeout,
        pool_max_lifetime=settings.database_pool_max_lifetime,
        pool_max_idle=settings.database_pool_idle_timeout,
    )


def postgres_pool(settings: Settings) -> dict[str, int]:
    """The pool's sizes for ``create_event_store`` (PostgreSQL only; SQLite has none)."""
    if settings.database_url.startswith("sqlite"):
        return {}
    return {
        "pool_size": settings.database_pool_max_size,
        "pool_min_size": settings.database_pool_min_size,
    }


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """Add a module's routes to the app's own route list.

    Not ``include_router``: recent FastAPI keeps each included router as a node that
    re-resolves its routes, and juggles scope keys, for every candidate of every
    request, ahead of the route that matches; profiled, that was about 29% of a
    cached GET. A router's own prefix, tags, responses and dependencies are merged
    into each of its routes when they are declared, so nothing is lost by adding
    the routes as they are (the OpenAPI document is the same).
    """
    app.router.routes.extend(router.routes)


def _declare_jobs(modules: Sequence[Module]) -> None:
    """Every module declares its jobs with the queue in place (the core one, or one a
    plugin put in its place), before anything starts: triggers hook into appends at
    start, and workers start only for names that have handlers."""
    queue = next((m for m in modules if isinstance(m, JobsModule)), None)
    if queue is None:
        return
    for module in modules:
        if module is not queue:
            module.declare_jobs(queue)


def create_app(
    settings: Settings | None = None,
    *,
    apps: Sequence[Module] = (),
    plugins: Sequence[Module] = (),
    core: Sequence[Module] | None = None,
) -> FastAPI:
    """Build the app: core modules, then plugins, then apps.

    ``core`` replaces the default core modules (tests use it to run bare); a plugin
    or app named like a core module (e.g. a configured ``SecurityModule``) replaces it.
    """
    settings = settings or Settings.from_env()
    # A plugin or app named like a core module takes that module's place in the order
    # (the order is what lets realtime find the authenticator security registers).
    given = {module.name: module for module in [*plugins, *apps]}
    defaults = core_modules(settings, [*plugins, *apps]) if core is None else core
    core_list = [given.get(m.name, m) for m in defaults]
    placed = {id(m) for m in core_list}
    modules = [*core_list, *(m for m in [*plugins, *apps] if id(m) not in placed)]
    _declare_jobs(modules)
    secret = resolve_secret(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await create_event_store(
            settings.database_url,
            migrate=settings.auto_migrate,
            postgres_timeouts=postgres_timeouts(settings),
            **postgres_pool(settings),
        )
        runtime = Runtime(
            settings=settings, store=store, cursors=CursorCodec(secret), secret=secret
        )
        app.state.runtime = runtime
        started: list[Module] = []
        try:
            for module in modules:
                await module.start(runtime)
                started.append(module)
            yield
        finally:
            for module in reversed(started):
                await module.stop(runtime)
            await store.close()

    app = FastAPI(
        title="Headwater",
        version=__version__,
        lifespan=lifespan,
        description="Event-sourced, real-time backend.",
        # FastAPI's pages load from a CDN with inline scripts the CSP refuses: ours are vendored.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    for router in [
        health.router,
        client.router,
        docs.router,
        *(r for module in modules for r in module.routers()),
    ]:
        add_routes(app, router)
    install_route_index(app)
    # Added innermost first: request id wraps everything, so even a 413 carries one;
    # core middleware (authentication) wraps plugins' and apps', so theirs (e.g. a rate
    # limiter) see the principal.
    app.add_middleware(ErrorBoundaryMiddleware)
    app.add_middleware(ETagMiddleware)
    for module in reversed(modules):
        for entry in reversed(module.middleware()):
            app.add_middleware(entry.cls, *entry.args, **entry.kwargs)
    # Inside the body limit: it buffers JSON bodies, which must be bounded first.
    app.add_middleware(JsonUnicodeMiddleware)
    # Around the modules' middleware too, so an error one of them raises (the store
    # unreachable while authenticating, say) gets the standard body, not a bare 500.
    app.add_middleware(ErrorBoundaryMiddleware)
    # Request id, security headers, compression and the body limit, in that order from
    # the outside in, as one layer (see ``_edge``: one send wrapper instead of four).
    app.add_middleware(EdgeMiddleware, hsts=settings.hsts, max_bytes=settings.max_body_bytes)
    return app
