"""``Plugin``: a ``Module`` with its own settings and more places to plug into.

::

    class HelloSettings(BaseModel):
        greeting: str = "hello"

    class HelloPlugin(Plugin):
        name = "hello"
        version = "1.0.0"
        settings_model = HelloSettings

        def routers(self):                 # every Module hook: routes, middleware,
            ...                            # limits, jobs, panels, migrations, CLI
        def event_handlers(self):
            return {"guest.invited": [self.greet]}

Beyond ``Module``'s hooks a plugin has settings, live event handlers and projections
it runs itself. ``start`` applies them to the running node and then calls
``on_start``; anything that fails on the way is re-raised as ``PluginError`` naming
the plugin, so a broken plugin stops start-up with a message that says which one.

Settings are a pydantic model, given to the constructor or read (by discovery, which
is where the environment is read) from ``HEADWATER_PLUGIN_<NAME>_<FIELD>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ValidationError

from headwater.errors import PluginError
from headwater.eventstore._records import RecordedEvent
from headwater.modules import Module
from headwater.observability._logging import get_logger
from headwater.runtime import Runtime

if TYPE_CHECKING:
    from headwater.projections import Projection, ProjectionRunner

#: A live event handler: gets each new event of its type and the node's runtime.
EventHandler = Callable[[RecordedEvent, Runtime], Awaitable[None]]
_log = get_logger("headwater.plugins")


def env_prefix(plugin_name: str) -> str:
    return "HEADWATER_PLUGIN_" + re.sub(r"[^A-Za-z0-9]", "_", plugin_name).upper() + "_"


def settings_from_env(plugin_name: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The ``HEADWATER_PLUGIN_<NAME>_*`` variables, keyed by lower-case field name."""
    prefix = env_prefix(plugin_name)
    return {k[len(prefix) :].lower(): v for k, v in environ.items() if k.startswith(prefix)}


class Plugin(Module):
    settings_model: ClassVar[type[BaseModel] | None] = None

    def __init__(self, settings: BaseModel | Mapping[str, Any] | None = None) -> None:
        self.settings: BaseModel | None = self._validate(settings)
        self._tasks: list[asyncio.Task[None]] = []
        self._runners: list[ProjectionRunner] = []

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Plugin:
        """Built with settings from ``HEADWATER_PLUGIN_<NAME>_*`` (discovery calls this)."""
        return cls(settings_from_env(cls.name, environ))

    def _validate(self, given: BaseModel | Mapping[str, Any] | None) -> BaseModel | None:
        model = self.settings_model
        if model is None:
            if given:
                raise PluginError(self.name, "configure", "it takes no settings")
            return None
        if isinstance(given, model):
            return given
        try:
            return model.model_validate(dict(given or {}))
        except ValidationError as exc:
            raise PluginError(
                self.name, "configure", f"bad settings ({env_prefix(self.name)}*): {exc}"
            ) from exc

    # --- what a plugin may declare (all optional) ----------------------------------------

    def event_handlers(self) -> Mapping[str, Sequence[EventHandler]]:
        """Live handlers by event type, run for events appended after start-up.

        Not durable (a handler that fails, or a node that is down, misses events):
        use a projection or a job triggered by the event for work that must happen.
        """
        return {}

    def projections(self) -> Sequence[Projection]:
        """``headwater.projections.Projection`` objects, each run by its own runner."""
        return ()

    async def on_start(self, runtime: Runtime) -> None:
        """The plugin's own start-up, after its declarations are applied."""

    async def on_stop(self, runtime: Runtime) -> None:
        """The plugin's own shutdown, before its handlers and runners stop."""

    # --- Module lifecycle: apply the declarations, naming the plugin on failure ---------

    async def start(self, runtime: Runtime) -> None:
        # A subclass whose __init__ forgot super().__init__() still starts and stops.
        self.__dict__.setdefault("_tasks", [])
        self.__dict__.setdefault("_runners", [])
        try:
            await self._apply(runtime)
            await self.on_start(runtime)
        except PluginError:
            raise
        except Exception as exc:
            await self._halt()
            raise PluginError(self.name, "start", f"{type(exc).__name__}: {exc}") from exc
        _log.info("plugin.started", plugin=self.name, version=self.version)

    async def stop(self, runtime: Runtime) -> None:
        try:
            await self.on_stop(runtime)
        finally:
            await self._halt()

    async def _apply(self, runtime: Runtime) -> None:
        projections = self.projections()
        if projections:
            from headwater.projections import ProjectionRunner, migrate_projections

            auto = runtime.settings.auto_migrate
            if auto or (auto is None and runtime.store.dialect == "sqlite"):
                await migrate_projections(runtime.store)
            for projection in projections:
                runner = ProjectionRunner(runtime.store, projection)
                await runner.start()
                self._runners.append(runner)
        handlers = self.event_handlers()
        if handlers:
            after = await runtime.store.head_position()
            self._tasks.append(asyncio.create_task(self._dispatch(runtime, handlers, after)))

    async def _dispatch(
        self, runtime: Runtime, handlers: Mapping[str, Sequence[EventHandler]], after: int
    ) -> None:
        async for event in runtime.store.subscribe(after=after, types=list(handlers)):
            for handler in handlers.get(event.type, ()):
                try:
                    await handler(event, runtime)
                except Exception:
                    # One failing handler must not stop the plugin's other handlers.
                    _log.exception("plugin.handler_failed", plugin=self.name, event_type=event.type)

    async def _halt(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for runner in reversed(self._runners):
            await runner.stop()
        self._runners.clear()
