"""What an app (QR Event, FormEase) or a plugin gives Headwater.

A module has a name and a version, contributes routers and middleware when the
HTTP app is built, and may start and stop background work with the runtime.
Every hook is optional, and each works the same for an app, a plugin given to
``create_app`` and a plugin that ``headwater serve`` discovers:

- ``routers``, ``middleware``, ``endpoint_limits``, ``admin_panels``: read once,
  when ``create_app`` builds the app;
- ``declare_jobs``: called once by ``create_app`` with the node's jobs module;
- ``migrate``: run by ``headwater migrate`` (and by ``start`` where a module
  migrates itself on the embedded default);
- ``cli``: mounted by the ``headwater`` command as ``headwater <name> ...``;
- ``start`` / ``stop``: with the runtime, in order and in reverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from fastapi import APIRouter
from starlette.middleware import Middleware

if TYPE_CHECKING:
    import typer

    from headwater.admin._panels import Panel
    from headwater.eventstore import EventStore
    from headwater.jobs import JobsModule
    from headwater.ratelimit._config import EndpointLimit
    from headwater.runtime import Runtime


class Module:
    name: ClassVar[str] = "module"
    version: ClassVar[str] = "0.0.0"

    def routers(self) -> Sequence[APIRouter]:
        return ()

    def middleware(self) -> Sequence[Middleware]:
        return ()

    def endpoint_limits(self) -> Sequence[EndpointLimit]:
        """Per-endpoint rate limits this module's routes need (route templates)."""
        return ()

    def admin_panels(self) -> Sequence[Panel]:
        """Tables, charts and review queues this module adds to the ``/admin`` dashboard."""
        return ()

    def declare_jobs(self, jobs: JobsModule) -> None:
        """Register this module's job handlers, event triggers and schedules with the
        node's job queue (``jobs.handler``, ``jobs.on_event``, ``jobs.every``...)."""

    async def migrate(self, store: EventStore) -> list[str]:
        """Create or upgrade this module's tables; ``headwater migrate`` calls it.

        Returns the names of the migrations applied now.
        """
        return []

    def cli(self) -> typer.Typer | None:
        """A typer sub-app, mounted on the ``headwater`` command under this module's name."""
        return None

    async def start(self, runtime: Runtime) -> None:
        """Called once the store is open, before the app serves requests."""

    async def stop(self, runtime: Runtime) -> None:
        """Called at shutdown, in reverse order of start."""
