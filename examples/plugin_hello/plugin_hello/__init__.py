"""An example Headwater plugin that uses every hook a module has.

Installed as a package, it is found through its ``headwater.plugins`` entry point and
then behaves like any app module:

- ``routers``: ``GET /plugins/hello`` (a greeting, from the settings), ``POST
  /plugins/hello/greetings`` (appends a ``hello.greeted`` event) and ``GET
  /plugins/hello/greetings`` (what the job recorded);
- ``middleware``: counts the requests it sees and says so in ``x-hello-seen``;
- ``endpoint_limits``: three greetings a minute per caller;
- ``declare_jobs``: each ``hello.greeted`` event enqueues ``hello.record``, which
  writes the greeting into the plugin's table;
- ``admin_panels``: a table of those greetings on ``/admin``;
- ``migrate``: creates that table (``headwater migrate``);
- ``cli``: ``headwater hello greet --name Ada``;
- ``start`` / ``stop`` (``on_start`` / ``on_stop``): noted in ``lifecycle_log`` when set.

Settings come from ``HEADWATER_PLUGIN_HELLO_*`` (``GREETING``, ``AUDIENCE``,
``LIFECYCLE_LOG``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headwater.admin import Column, Panel
from headwater.eventstore import EventStore, NewEvent
from headwater.jobs import Job, JobsModule
from headwater.plugins import Plugin
from headwater.ratelimit import EndpointLimit
from headwater.runtime import Runtime

__version__ = "0.2.0"

GREETED = "hello.greeted"
RECORD_JOB = "hello.record"
TABLE = "hello_greetings"


class HelloSettings(BaseModel):
    """Read from ``HEADWATER_PLUGIN_HELLO_*`` (e.g. ``HEADWATER_PLUGIN_HELLO_GREETING``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    greeting: str = "hello"
    audience: str = "world"
    #: A file the plugin appends ``started`` and ``stopped`` to (an audit trail).
    lifecycle_log: str | None = None


class Greeting(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class RequestCounter:
    """Requests the plugin's middleware has seen, shared with its routes."""

    def __init__(self) -> None:
        self.seen = 0


class SeenMiddleware:
    """Pure ASGI: counts every HTTP request and adds ``x-hello-seen`` to its response."""

    def __init__(self, app: ASGIApp, counter: RequestCounter) -> None:
        self.app = app
        self.counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.counter.seen += 1
        seen = str(self.counter.seen).encode("ascii")

        async def mark(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-hello-seen", seen)]
            await send(message)

        await self.app(scope, receive, mark)


class HelloPlugin(Plugin):
    name = "hello"
    version = __version__
    settings_model = HelloSettings

    def __init__(self, settings: HelloSettings | dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self.requests = RequestCounter()
        # The job handler gets only the job: it writes through the store of the
        # node that started the plugin.
        self._store: EventStore | None = None

    @property
    def config(self) -> HelloSettings:
        assert isinstance(self.settings, HelloSettings)
        return self.settings

    # --- built into the app ------------------------------------------------------------

    def routers(self) -> Sequence[APIRouter]:
        router = APIRouter(prefix="/plugins/hello", tags=["hello"])

        @router.get("")
        async def hello() -> dict[str, Any]:
            return {
                "data": {
                    "message": f"{self.config.greeting}, {self.config.audience}",
                    "plugin": self.name,
                    "version": self.version,
                    "requests_seen": self.requests.seen,
                }
            }

        @router.post("/greetings", status_code=202)
        async def greet(body: Greeting) -> dict[str, Any]:
            store = self._require_store()
            await store.append(f"hello-{body.name}", [NewEvent(GREETED, {"name": body.name})])
            return {"data": {"name": body.name}}

        @router.get("/greetings")
        async def greetings() -> dict[str, Any]:
            rows = await self._require_store().fetchall(
                f"SELECT name FROM {TABLE} ORDER BY name", ()
            )
            return {"data": [{"name": row[0]} for row in rows]}

        return [router]

    def middleware(self) -> Sequence[Middleware]:
        return [Middleware(SeenMiddleware, counter=self.requests)]

    def endpoint_limits(self) -> Sequence[EndpointLimit]:
        return [EndpointLimit("POST /plugins/hello/greetings", limit=3, period=60)]

    def admin_panels(self) -> Sequence[Panel]:
        return [
            Panel(
                "hello-greetings",
                "Greetings",
                "table",
                source="/plugins/hello/greetings",
                columns=(Column("name", "Name"),),
            )
        ]

    def declare_jobs(self, jobs: JobsModule) -> None:
        # Enqueued in the append's own transaction: no greeting is left unrecorded.
        jobs.on_event(GREETED, RECORD_JOB, payload=lambda event: {"name": event.data["name"]})
        jobs.handler(RECORD_JOB)(self._record)

    async def _record(self, job: Job) -> None:
        # Keyed by job: a retried job records its greeting once.
        async with self._require_store().transaction() as tx:
            await tx.execute(
                f"INSERT INTO {TABLE} (job_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (job.id, job.payload["name"]),
            )

    async def migrate(self, store: EventStore) -> list[str]:
        try:
            await store.fetchone(f"SELECT 1 FROM {TABLE} LIMIT 1", ())
        except Exception:
            async with store.transaction() as tx:
                await tx.execute_script(
                    f"CREATE TABLE IF NOT EXISTS {TABLE} "
                    "(job_id TEXT PRIMARY KEY, name TEXT NOT NULL)"
                )
            return [f"{self.name}.0001_{TABLE}"]
        return []

    def cli(self) -> typer.Typer:
        app = typer.Typer(help="Say hello.")

        @app.command()
        def greet(name: str = "world") -> None:
            typer.echo(f"{self.config.greeting}, {name}")

        @app.command()
        def version() -> None:
            typer.echo(self.version)

        return app

    # --- with the running node ----------------------------------------------------------

    async def on_start(self, runtime: Runtime) -> None:
        self._store = runtime.store
        self._note("started")

    async def on_stop(self, runtime: Runtime) -> None:
        self._note("stopped")
        self._store = None

    def _require_store(self) -> EventStore:
        if self._store is None:
            raise RuntimeError("the hello plugin is not started")
        return self._store

    def _note(self, what: str) -> None:
        if self.config.lifecycle_log is not None:
            with Path(self.config.lifecycle_log).open("a", encoding="utf-8") as log:
                log.write(what + "\n")
