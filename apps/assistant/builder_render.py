"""The deterministic generator: an ``AppSpec`` becomes a Headwater app package and its tests.

The shape is ``headwater new``'s template (domain, commands, projections, routes,
service, module, and a ``tests/`` folder that serves the app for real), one aggregate
per entity. Its rendering is private to the CLI, so the app renders its own; every
name was checked by ``builder_spec``, so the text here is always valid Python.
"""

from __future__ import annotations

from typing import Final

from apps.assistant.builder_render_tests import CONFTEST, render_tests
from apps.assistant.builder_spec import AppSpec, EntitySpec, FieldSpec, snake

_SQL: Final = {"str": "TEXT", "int": "INTEGER", "float": "REAL", "bool": "BOOLEAN"}
_DEFAULT: Final = {"str": '""', "int": "0", "float": "0.0", "bool": "False"}
_PYTYPE: Final = {"str": "str", "int": "int", "float": "float", "bool": "bool"}


def _annotation(field: FieldSpec) -> str:
    if field.type == "str":
        return "str = Field(max_length=1000)"
    return _PYTYPE[field.type]


def _fields(entity: EntitySpec, names: list[str] | None = None) -> list[FieldSpec]:
    return [f for f in entity.fields if names is None or f.name in names]


def _domain(spec: AppSpec) -> str:
    out = [
        f'"""{spec.app}: the write side, one aggregate per entity, changed only by its events."""',
        "",
        "from __future__ import annotations",
        "",
        "from headwater import Aggregate, AggregateId, Event, InvalidInput, NotFound, when",
    ]
    for e in spec.entities:
        n, s = e.name, snake(e.name)
        out += ["", "", f'class {n}Id(AggregateId, prefix="{spec.app}{s.replace("_", "")}"):']
        out += ["    pass", "", "", f'class {n}Created(Event, type="{spec.app}.{n}Created"):']
        out += [f"    {f.name}: {_PYTYPE[f.type]}" for f in e.fields]
        for c in e.commands:
            out += ["", "", f'class {n}{c.name}Recorded(Event, type="{spec.app}.{n}{c.name}"):']
            out += [f"    {f.name}: {_PYTYPE[f.type]}" for f in _fields(e, c.sets)]
        out += ["", "", f'class {n}(Aggregate[{n}Id], type_name="{spec.app}.{n}"):']
        out += [f"    {f.name}: {_PYTYPE[f.type]} = {_DEFAULT[f.type]}" for f in e.fields]
        params = ", ".join(f"{f.name}: {_PYTYPE[f.type]}" for f in e.fields)
        args = ", ".join(f"{f.name}={f.name}" for f in e.fields)
        out += ["", f"    def create(self, *, {params}) -> None:", "        if self.exists:"]
        out += [f'            raise InvalidInput(f"{s} {{self.id.value}} exists already")']
        out += [f"        self.record({n}Created({args}))"]
        for c in e.commands:
            fs = _fields(e, c.sets)
            params = ", ".join(f"{f.name}: {_PYTYPE[f.type]}" for f in fs)
            args = ", ".join(f"{f.name}={f.name}" for f in fs)
            out += ["", f"    def {snake(c.name)}(self, *, {params}) -> None:"]
            out += ["        if not self.exists:"]
            out += [f'            raise NotFound(f"no {s} {{self.id.value}}")']
            out += [f"        self.record({n}{c.name}Recorded({args}))"]
        out += ["", f"    @when({n}Created)", f"    def _created(self, event: {n}Created) -> None:"]
        out += [f"        self.{f.name} = event.{f.name}" for f in e.fields]
        for c in e.commands:
            ev = f"{n}{c.name}Recorded"
            out += ["", f"    @when({ev})", f"    def _{snake(c.name)}(self, event: {ev}) -> None:"]
            out += [f"        self.{f.name} = event.{f.name}" for f in _fields(e, c.sets)]
    return "\n".join(out) + "\n"


def _commands(spec: AppSpec) -> str:
    imports = sorted({f"{e.name}" for e in spec.entities} | {f"{e.name}Id" for e in spec.entities})
    out = [
        f'"""{spec.app}: commands and their handlers (load, decide, save)."""',
        "",
        "from __future__ import annotations",
        "",
        "from headwater import Command, CommandBus, Repository",
        "from pydantic import Field",
        "",
        f"from {spec.app}.domain import {', '.join(imports)}",
        "",
        "_ = Field  # used by str fields' bounds",
    ]
    for e in spec.entities:
        n, s = e.name, snake(e.name)
        out += ["", "", f'class Create{n}(Command[str], name="{spec.app}.Create{n}"):']
        out += [f"    {s}_id: {n}Id"] + [f"    {f.name}: {_annotation(f)}" for f in e.fields]
        for c in e.commands:
            out += ["", "", f'class {n}{c.name}(Command[None], name="{spec.app}.{n}{c.name}"):']
            out += [f"    {s}_id: {n}Id"]
            out += [f"    {f.name}: {_annotation(f)}" for f in _fields(e, c.sets)]
    out += ["", "", "def build_bus(repository: Repository) -> CommandBus:"]
    out += ["    bus = CommandBus(repository)"]
    for e in spec.entities:
        n, s = e.name, snake(e.name)
        args = ", ".join(f"{f.name}=command.{f.name}" for f in e.fields)
        out += ["", f"    @bus.handler(Create{n}, {n})"]
        out += [f"    def create_{s}(command: Create{n}, aggregate: {n}) -> str:"]
        out += [f"        aggregate.create({args})", "        return aggregate.id.value"]
        for c in e.commands:
            args = ", ".join(f"{f.name}=command.{f.name}" for f in _fields(e, c.sets))
            out += ["", f"    @bus.handler({n}{c.name}, {n})"]
            out += [f"    def {s}_{snake(c.name)}(command: {n}{c.name}, aggregate: {n}) -> None:"]
            out += [f"        aggregate.{snake(c.name)}({args})"]
    out += ["", "    return bus"]
    return "\n".join(out) + "\n"


def _projections(spec: AppSpec) -> str:
    events = []
    for e in spec.entities:
        events += [f"{e.name}Created", f"{e.name}Id"]
        events += [f"{e.name}{c.name}Recorded" for c in e.commands]
    out = [
        f'"""{spec.app}: the read side, one table per entity, kept inline."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any",
        "",
        "from headwater import EventStore, Projection, RecordedEvent, Statement, Table",
        "from headwater.projections import BOOLEAN, INTEGER, REAL, TEXT",
        "",
        f"from {spec.app}.domain import {', '.join(sorted(events))}",
        "",
        "_ = (BOOLEAN, INTEGER, REAL)  # not every app uses every column type",
    ]
    tables = []
    for e in spec.entities:
        s, t = snake(e.name), snake(e.name).upper() + "_TABLE"
        tables.append(t)
        cols = ", ".join([f'"{s}_id": TEXT', '"tenant_id": TEXT'])
        cols += "".join(f', "{f.name}": {_SQL[f.type]}' for f in e.fields)
        out += ["", f'{t} = Table("{spec.app}_{s}", {{{cols}}}, primary_key="{s}_id")']
    out += ["", f'read_model = Projection("{spec.app}_read", tables=[{", ".join(tables)}])']
    for e in spec.entities:
        n, s, t = e.name, snake(e.name), snake(e.name).upper() + "_TABLE"
        key = f"{n}Id.from_stream_id(event.stream_id).value"
        values = "".join(f', "{f.name}": event.data["{f.name}"]' for f in e.fields)
        out += ["", "", f"@read_model.on({n}Created)"]
        out += [f"def _{s}_created(event: RecordedEvent) -> Statement:"]
        out += [f'    row = {{"{s}_id": {key}, "tenant_id": event.tenant_id{values}}}']
        out += [f"    return {t}.upsert(row)"]
        for c in e.commands:
            values = ", ".join(f'"{f}": event.data["{f}"]' for f in c.sets)
            out += ["", "", f"@read_model.on({n}{c.name}Recorded)"]
            out += [f"def _{s}_{snake(c.name)}(event: RecordedEvent) -> Statement:"]
            out += [f'    return {t}.update({{{values}}}, where={{"{s}_id": {key}}})']
        columns = [f"{s}_id"] + [f.name for f in e.fields]
        casts = [f'"{s}_id": r[0]'] + [
            f'"{f.name}": {_PYTYPE[f.type]}(r[{i + 1}])' for i, f in enumerate(e.fields)
        ]
        out += ["", "", f"async def list_{s}(", "    store: EventStore, tenant_id: str"]
        out += [") -> list[dict[str, Any]]:", "    rows = await store.fetchall("]
        out += [f'        f"SELECT {", ".join(columns)} FROM {{{t}.ref}} "']
        out += [f'        "WHERE tenant_id = ? ORDER BY {s}_id",', "        (tenant_id,),", "    )"]
        out += [f"    return [{{{', '.join(casts)}}} for r in rows]"]
    return "\n".join(out) + "\n"


def _routes(spec: AppSpec) -> str:
    imports = []
    for e in spec.entities:
        imports += [f"Create{e.name}"] + [f"{e.name}{c.name}" for c in e.commands]
    ids = sorted(f"{e.name}Id" for e in spec.entities)
    lists = sorted(f"list_{snake(e.name)}" for e in spec.entities)
    out = [
        f'"""{spec.app}: HTTP routes; staff write, any signed-in user of the tenant reads."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any",
        "",
        "from fastapi import APIRouter",
        "from headwater.http import (",
        "    AUTH_ERRORS, NOT_FOUND, AppRuntime, Envelope, SignedInUser, Staff, ok,",
        ")",
        "from pydantic import BaseModel, Field",
        "",
        f"from {spec.app}.commands import {', '.join(sorted(imports))}",
        f"from {spec.app}.domain import {', '.join(ids)}",
        f"from {spec.app}.projections import {', '.join(lists)}",
        f"from {spec.app}.service import Service",
        "",
        f'router = APIRouter(prefix="/{spec.app}", tags=["{spec.app}"], responses=AUTH_ERRORS)',
        "_ = Field  # used by str fields' bounds",
    ]
    for e in spec.entities:
        n, s = e.name, snake(e.name)
        out += ["", "", f"class New{n}(BaseModel):"]
        out += [f"    {f.name}: {_annotation(f)}" for f in e.fields]
        for c in e.commands:
            out += ["", "", f"class {n}{c.name}Body(BaseModel):"]
            out += [f"    {f.name}: {_annotation(f)}" for f in _fields(e, c.sets)]
        out += ["", "", f'@router.post("/{s}", status_code=201)']
        out += [f"async def create_{s}(", f"    body: New{n}, staff: Staff, runtime: AppRuntime"]
        out += [") -> Envelope[dict[str, str]]:", "    service = runtime.get(Service)"]
        out += [f"    command = Create{n}({s}_id={n}Id.new(), **body.model_dump())"]
        out += ["    result = await service.bus.send(command, service.context(staff))"]
        out += [f'    return ok({{"{s}_id": result.value}})']
        for c in e.commands:
            cs = snake(c.name)
            out += ["", "", f'@router.post("/{s}/{{{s}_id}}/{cs}", responses=NOT_FOUND)']
            out += [f"async def {s}_{cs}("]
            out += [f"    {s}_id: str, body: {n}{c.name}Body, staff: Staff,"]
            out += ["    runtime: AppRuntime,", ") -> Envelope[dict[str, str]]:"]
            out += ["    service = runtime.get(Service)"]
            out += [f"    command = {n}{c.name}({s}_id={n}Id({s}_id), **body.model_dump())"]
            out += ["    await service.bus.send(command, service.context(staff))"]
            out += [f'    return ok({{"{s}_id": {s}_id}})']
        out += ["", "", f'@router.get("/{s}")']
        out += [f"async def get_{s}("]
        out += ["    user: SignedInUser, runtime: AppRuntime", ") -> Envelope[dict[str, Any]]:"]
        out += ["    store = runtime.get(Service).store"]
        out += [f'    return ok({{"items": await list_{s}(store, user.require_tenant())}})']
    return "\n".join(out) + "\n"


_SERVICE: Final = '''"""What the routes need from a running node: the command bus and the store."""

from __future__ import annotations

from dataclasses import dataclass

from headwater import CommandBus, CommandContext, EventStore, Principal


@dataclass(frozen=True)
class Service:
    bus: CommandBus
    store: EventStore

    @staticmethod
    def context(principal: Principal) -> CommandContext:
        """Who acts, for which tenant: every event carries both."""
        return CommandContext(actor=principal.subject, tenant_id=principal.require_tenant())
'''

_MODULE: Final = '''"""{app} as a Headwater module: ``headwater serve --app {app}.module:module``.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from headwater import EventStore, Module, Repository, Runtime, attach_inline
from headwater.projections import InlineHandler

from {app}.commands import build_bus
from {app}.projections import read_model
from {app}.routes import router
from {app}.service import Service


class App(Module):
    name = "{app}"
    version = "0.1.0"

    def __init__(self) -> None:
        self.handlers: list[InlineHandler] = []

    def routers(self) -> Sequence[APIRouter]:
        return (router,)

    async def migrate(self, store: EventStore) -> list[str]:
        return []

    async def start(self, runtime: Runtime) -> None:
        self.handlers = await attach_inline(runtime.store, [read_model])
        runtime.provide(Service(build_bus(Repository(runtime.store)), runtime.store))

    async def stop(self, runtime: Runtime) -> None:
        for handler in self.handlers:
            runtime.store.remove_inline_handler(handler)
        self.handlers = []
        runtime.withdraw(Service)


module = App()
'''


def render(spec: AppSpec, description: str = "") -> dict[str, str]:
    """Every file of the app, by path relative to the project folder, in a stable order."""
    app = spec.app
    about = description or spec.description or f"{app}: a Headwater app."
    readme = (
        f"# {app}\n\n{about}\n\nServe it: `headwater serve --app {app}.module:module`.\n"
        "Test it: `pytest tests` (it serves the app on SQLite).\n\n## Entities\n\n"
    )
    for e in spec.entities:
        fields = ", ".join(f"`{f.name}` ({f.type})" for f in e.fields)
        commands = ", ".join(f"`{c.name}` sets {', '.join(c.sets)}" for c in e.commands)
        readme += f"- **{e.name}** (`/{app}/{snake(e.name)}`): {fields}"
        readme += f"; commands: {commands}\n" if commands else "\n"
    return {
        "README.md": readme,
        # Free text stays in the README: a docstring could be broken by its quotes.
        f"{app}/__init__.py": f'"""{app}: a Headwater app (see README.md)."""\n',
        f"{app}/domain.py": _domain(spec),
        f"{app}/commands.py": _commands(spec),
        f"{app}/projections.py": _projections(spec),
        f"{app}/routes.py": _routes(spec),
        f"{app}/service.py": _SERVICE,
        f"{app}/module.py": _MODULE.format(app=app),
        "tests/__init__.py": "",
        "tests/conftest.py": CONFTEST.format(app=app),
        f"tests/test_{app}.py": render_tests(spec),
    }
