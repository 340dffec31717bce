"""The library as a Headwater module: ``headwater dev --app library.module:module``."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from headwater import EventStore, Module, Repository, Runtime, attach_inline
from headwater.admin import Column, Panel
from headwater.http import AppRuntime, Envelope, SignedInUser, ok
from headwater.jobs import JobsModule
from headwater.projections import InlineHandler

from library import page, routes
from library.commands import build_bus
from library.jobs import Reminders, reminders
from library.projections import shelf
from library.realtime import shelf_topic
from library.routes import Library

reminder_router = APIRouter(prefix="/library", tags=["library"])


@reminder_router.get("/reminders")
async def loan_reminders(user: SignedInUser, runtime: AppRuntime) -> Envelope[list[str]]:
    return ok(await reminders(runtime.store, user.require_tenant()))


class LibraryModule(Module):
    name = "library"
    version = "0.1.0"

    def __init__(self) -> None:
        self.handlers: list[InlineHandler] = []
        self.reminders = Reminders()

    def routers(self) -> Sequence[APIRouter]:
        return (routes.router, page.router, reminder_router)

    # --8<-- [start:start]
    async def start(self, runtime: Runtime) -> None:
        # The shelf is written in each append's transaction from now on (and built
        # from the log first, if the log already holds books).
        self.handlers = await attach_inline(runtime.store, [shelf])
        runtime.provide(Library(build_bus(Repository(runtime.store)), runtime.store))
        if runtime.hub is not None:  # the realtime module is one of the core modules
            runtime.hub.add_topic(shelf_topic(runtime.store))
        await self.reminders.migrate(runtime.store)
        self.reminders.store = runtime.store

    async def stop(self, runtime: Runtime) -> None:
        for handler in self.handlers:
            runtime.store.remove_inline_handler(handler)
        self.handlers = []
        self.reminders.store = None
        runtime.withdraw(Library)

    # --8<-- [end:start]
    # --8<-- [start:jobs]
    def declare_jobs(self, jobs: JobsModule) -> None:
        self.reminders.declare(jobs)

    async def migrate(self, store: EventStore) -> list[str]:
        await self.reminders.migrate(store)  # headwater migrate, before PostgreSQL nodes
        return []

    # --8<-- [end:jobs]
    # --8<-- [start:panel]
    def admin_panels(self) -> Sequence[Panel]:
        columns = (
            Column("title", "Title"),
            Column("author", "Author"),
            Column("lent_to", "Lent to"),
        )
        return (
            Panel(
                "library-shelf",
                "The shelf",
                "table",
                "/library/books",
                columns=columns,
            ),
        )

    # --8<-- [end:panel]


module = LibraryModule()
