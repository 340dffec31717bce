"""``InstalledPlugins``: every discovered plugin, served as one module.

::

    create_app(settings, plugins=[InstalledPlugins()])      # discover now
    headwater serve --app headwater.plugins:InstalledPlugins  # the same, by the CLI

It stands for its plugins wherever ``create_app`` takes a module, forwarding every
``Module`` hook (a test checks that none is left out): their routers, middleware,
endpoint limits, jobs, admin panels (each named for its own plugin) and migrations,
in order; it starts them in order and stops them in reverse. Their CLI commands are
mounted by the ``headwater`` command itself, which discovers them before any app
exists. A plain ``Module`` among them gets the same guarantee as a ``Plugin``: a
failure to build its routes or to start is re-raised as ``PluginError`` naming it.
``GET /plugins`` lists what is installed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from fastapi import APIRouter
from starlette.middleware import Middleware

from headwater.errors import PluginError
from headwater.modules import Module
from headwater.plugins._discovery import discover_plugins
from headwater.runtime import Runtime

if TYPE_CHECKING:
    import typer

    from headwater.admin._panels import Panel
    from headwater.eventstore import EventStore
    from headwater.jobs import JobsModule
    from headwater.ratelimit._config import EndpointLimit


class InstalledPlugins(Module):
    name: ClassVar[str] = "plugins"
    version: ClassVar[str] = "0.1.0"

    def __init__(
        self,
        plugins: Sequence[Module] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        only: Iterable[str] | None = None,
    ) -> None:
        """``plugins=None`` discovers the installed ones (``only``: an allow-list of names)."""
        found = discover_plugins(environ, only=only) if plugins is None else plugins
        self.plugins = list(found)
        self._started: list[Module] = []

    def _guard(self, plugin: Module, stage: str, exc: Exception) -> PluginError:
        if isinstance(exc, PluginError):
            return exc
        return PluginError(plugin.name, stage, f"{type(exc).__name__}: {exc}")

    def routers(self) -> Sequence[APIRouter]:
        out: list[APIRouter] = [self._listing()]
        for plugin in self.plugins:
            try:
                out.extend(plugin.routers())
            except Exception as exc:
                raise self._guard(plugin, "add its routes", exc) from exc
        return out

    def middleware(self) -> Sequence[Middleware]:
        out: list[Middleware] = []
        for plugin in self.plugins:
            try:
                out.extend(plugin.middleware())
            except Exception as exc:
                raise self._guard(plugin, "add its middleware", exc) from exc
        return out

    def endpoint_limits(self) -> Sequence[EndpointLimit]:
        return [limit for plugin in self.plugins for limit in plugin.endpoint_limits()]

    def admin_panels(self) -> Sequence[Panel]:
        out: list[Panel] = []
        for plugin in self.plugins:
            try:
                out.extend(replace(panel, app=plugin.name) for panel in plugin.admin_panels())
            except Exception as exc:
                raise self._guard(plugin, "add its admin panels", exc) from exc
        return out

    def declare_jobs(self, jobs: JobsModule) -> None:
        for plugin in self.plugins:
            try:
                plugin.declare_jobs(jobs)
            except Exception as exc:
                raise self._guard(plugin, "declare its jobs", exc) from exc

    def cli(self) -> typer.Typer | None:
        """None: ``headwater`` mounts each discovered plugin's own CLI under its name."""
        return None

    async def migrate(self, store: EventStore) -> list[str]:
        applied: list[str] = []
        for plugin in self.plugins:
            try:
                applied += await plugin.migrate(store)
            except Exception as exc:
                raise self._guard(plugin, "migrate", exc) from exc
        return applied

    async def start(self, runtime: Runtime) -> None:
        for plugin in self.plugins:
            try:
                await plugin.start(runtime)
            except Exception as exc:
                # Stop those already running, so a failed start leaves nothing behind.
                await self.stop(runtime)
                raise self._guard(plugin, "start", exc) from exc
            self._started.append(plugin)

    async def stop(self, runtime: Runtime) -> None:
        while self._started:
            await self._started.pop().stop(runtime)

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": plugin.name, "version": plugin.version} for plugin in self.plugins]

    def _listing(self) -> APIRouter:
        router = APIRouter()

        @router.get("/plugins", tags=["plugins"])
        async def installed() -> dict[str, Any]:
            return {"data": self.describe()}

        return router
