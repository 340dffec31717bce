"""What a plugin may add, applied at start-up; every failure names the plugin."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from headwater.admin import AdminModule, Column, Panel
from headwater.app import core_modules, create_app
from headwater.eventstore._records import NewEvent, RecordedEvent
from headwater.eventstore._sql import Statement
from headwater.jobs import Job, JobsModule
from headwater.modules import Module
from headwater.plugins import EventHandler, InstalledPlugins, Plugin, PluginError
from headwater.projections import TEXT, Projection, Table
from headwater.runtime import Runtime
from tests.http.support import make_settings

greetings = Table("plugin_greetings", {"name": TEXT}, primary_key="name")
greeted = Projection("plugin_greetings", tables=[greetings])


@greeted.on("guest.arrived")
def _(event: RecordedEvent) -> Statement:
    return greetings.upsert({"name": event.data["name"]})


class Recorded:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.both = asyncio.Event()


class Everything(Plugin):
    name = "everything"
    version = "3.1.4"

    def __init__(self, seen: Recorded) -> None:
        super().__init__()
        self.seen = seen

    def event_handlers(self) -> Mapping[str, Sequence[EventHandler]]:
        async def on_arrival(event: RecordedEvent, runtime: Runtime) -> None:
            self.seen.events.append(event.data["name"])
            if len(self.seen.events) == 2:
                self.seen.both.set()

        async def broken(event: RecordedEvent, runtime: Runtime) -> None:
            raise RuntimeError("a bug in one handler")

        return {"guest.arrived": [broken, on_arrival]}

    def projections(self) -> Sequence[Projection]:
        return [greeted]


def test_a_plugin_runs_its_event_handlers_and_projections(tmp_path: Path) -> None:
    seen = Recorded()
    app = create_app(make_settings(tmp_path), plugins=[InstalledPlugins([Everything(seen)])])
    with TestClient(app) as client:
        runtime = app.state.runtime
        store = runtime.store

        async def arrive_and_wait() -> list[tuple[object, ...]]:
            for name in ("ada", "grace"):
                await store.append(f"guest-{name}", NewEvent("guest.arrived", {"name": name}))
            async with asyncio.timeout(5):
                await seen.both.wait()
                # The projection runs on its own: poll its table until both rows are in.
                rows: list[tuple[object, ...]] = []
                while len(rows) < 2:
                    await asyncio.sleep(0.02)
                    rows = await store.fetchall("SELECT name FROM plugin_greetings ORDER BY name")
                return rows

        assert client.portal is not None
        rows = client.portal.call(arrive_and_wait)
        listing = client.get("/plugins").json()["data"]
    assert seen.events == ["ada", "grace"]  # the broken handler did not stop this one
    assert [tuple(r) for r in rows] == [("ada",), ("grace",)]
    assert listing == [{"name": "everything", "version": "3.1.4"}]


def _hooks(cls: type[Module]) -> set[str]:
    return {name for name in vars(cls) if not name.startswith("_") and callable(vars(cls)[name])}


def test_installed_plugins_forwards_every_module_hook() -> None:
    # A hook added to Module and not forwarded here would silently not work for the
    # plugins `headwater serve` discovers (as jobs and admin panels once did not).
    missing = _hooks(Module) - _hooks(InstalledPlugins)
    assert not missing, f"InstalledPlugins does not forward {sorted(missing)}"


class Declaring(Module):
    name = "declaring"

    def __init__(self) -> None:
        self.started = asyncio.Event()

    def admin_panels(self) -> Sequence[Panel]:
        return [Panel("things", "Things", "table", "/things", columns=(Column("id", "Id"),))]

    def declare_jobs(self, jobs: JobsModule) -> None:
        @jobs.handler("declaring.ping")
        async def ping(job: Job) -> None:
            self.started.set()


@pytest.mark.parametrize("hosted", [False, True], ids=["given", "installed"])
def test_jobs_and_panels_work_alike_given_or_installed(tmp_path: Path, hosted: bool) -> None:
    module = Declaring()
    plugin: Module = InstalledPlugins([module]) if hosted else module
    settings = make_settings(tmp_path)
    # The dashboard's panels are those of the modules create_app hands the core.
    admin = next(m for m in core_modules(settings, [plugin]) if isinstance(m, AdminModule))
    app = create_app(settings, plugins=[plugin])
    with TestClient(app) as client:
        queue = app.state.runtime.require_jobs()

        async def run_job() -> None:
            await queue.enqueue("declaring.ping", {})
            async with asyncio.timeout(10):
                await module.started.wait()

        assert client.portal is not None
        client.portal.call(run_job)
    assert [(p.id, p.app) for p in admin.panels] == [("things", "declaring")]


class Failing(Plugin):
    name = "failing"

    async def on_start(self, runtime: Runtime) -> None:
        raise ConnectionError("no route to the SMTP relay")


def test_a_plugin_given_to_create_app_that_fails_to_start_is_named(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path), plugins=[Failing()])
    with pytest.raises(PluginError) as caught, TestClient(app):
        pass
    assert caught.value.plugin == "failing"
    assert str(caught.value) == (
        "plugin 'failing' failed to start: ConnectionError: no route to the SMTP relay"
    )


class PlainModule(Module):
    name = "plain"

    def routers(self) -> list[Any]:
        raise ImportError("fastapi-extras is missing")


def test_a_plain_module_among_plugins_is_named_when_it_breaks(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match=r"^plugin 'plain' failed to add its routes: ImportError"):
        create_app(make_settings(tmp_path), plugins=[InstalledPlugins([PlainModule()])])


class Limits(BaseModel):
    per_minute: int = 10


class Configured(Plugin):
    name = "configured-thing"
    settings_model = Limits


def test_settings_are_validated_and_errors_name_the_plugin_and_its_variables() -> None:
    assert Configured({"per_minute": "25"}).settings == Limits(per_minute=25)
    assert Configured().settings == Limits()
    env = {"HEADWATER_PLUGIN_CONFIGURED_THING_PER_MINUTE": "7", "HEADWATER_OTHER": "x"}
    assert Configured.from_env(env).settings == Limits(per_minute=7)
    with pytest.raises(PluginError) as caught:
        Configured({"per_minute": "lots"})
    assert str(caught.value).startswith(
        "plugin 'configured-thing' failed to configure: bad settings "
        "(HEADWATER_PLUGIN_CONFIGURED_THING_*)"
    )
    with pytest.raises(PluginError, match="takes no settings"):
        Failing({"anything": 1})
