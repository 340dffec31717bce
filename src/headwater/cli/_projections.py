"""``headwater projections``: status and rebuilds of read models.

    headwater projections status [--app pkg.module:projections] [--url URL]
    headwater projections rebuild NAME --app pkg.module:projections [--url URL]

``--app`` names the app's projections (a Projection, a sequence of them, or a
function returning either). ``status`` works without it, with lag counted over
all events instead of the handled types.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from headwater.errors import HeadwaterError, InvalidInput
from headwater.eventstore import create_event_store
from headwater.projections import (
    Projection,
    ProjectionStatus,
    RebuildResult,
    UnknownProjection,
    projection_status,
    rebuild,
)
from headwater.settings import Settings

app = typer.Typer(
    name="projections",
    help="Read models: status and rebuilds.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

DatabaseUrl = Annotated[
    str | None, typer.Option("--url", help="Database URL (default: HEADWATER_DATABASE_URL).")
]
AppSpec = Annotated[
    str | None,
    typer.Option("--app", help="The app's projections, as package.module:attribute."),
]


def _url(url: str | None) -> str:
    return url or Settings.from_env().database_url


def load_projections(spec: str | None) -> list[Projection]:
    if spec is None:
        return []
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise InvalidInput(f"--app must look like package.module:attribute, not {spec!r}")
    value: Any = getattr(importlib.import_module(module_name), attribute)
    if callable(value) and not isinstance(value, Projection):
        value = value()
    found = [value] if isinstance(value, Projection) else list(value)
    if not all(isinstance(p, Projection) for p in found):
        raise InvalidInput(f"{spec} holds something other than projections")
    return found


def _status_table(rows: Sequence[ProjectionStatus]) -> RichTable:
    table = RichTable(title="projections")
    for heading in ("name", "mode", "state", "position", "lag", "lag (s)", "poison", "last error"):
        table.add_column(heading, overflow="fold")
    for s in rows:
        state = str(s.state) + (" (needs rebuild)" if s.needs_rebuild else "")
        table.add_row(
            s.name,
            s.mode,
            state,
            f"{s.position}/{s.head}",
            str(s.lag_events),
            f"{s.lag_seconds:.1f}",
            str(s.poison_count),
            (s.last_error or "")[:120],
        )
    return table


@app.command()
def status(url: DatabaseUrl = None, app_spec: AppSpec = None) -> None:
    """Position, lag, state, last error and poison count of every projection."""
    console = Console()

    async def run() -> list[ProjectionStatus]:
        projections = load_projections(app_spec)
        store = await create_event_store(_url(url), migrate=False)
        try:
            return await projection_status(store, projections)
        finally:
            await store.close()

    try:
        rows = asyncio.run(run())
    except HeadwaterError as exc:
        console.print(f"[red]status failed:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    if not rows:
        console.print("no projections registered yet")
        return
    console.print(_status_table(rows))


@app.command("rebuild")
def rebuild_command(name: str, app_spec: AppSpec = None, url: DatabaseUrl = None) -> None:
    """Rebuild NAME from the log into fresh tables, then swap them in."""
    console = Console()

    async def run() -> RebuildResult:
        projections = {p.name: p for p in load_projections(app_spec)}
        if name not in projections:
            raise UnknownProjection(name)
        store = await create_event_store(_url(url), migrate=False)
        try:
            with Progress(
                TextColumn(f"rebuilding {name}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as bar:
                task = bar.add_task(name, total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=max(total, 1))

                return await rebuild(store, projections[name], progress=progress)
        finally:
            await store.close()

    try:
        result = asyncio.run(run())
    except HeadwaterError as exc:
        console.print(f"[red]rebuild failed:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    console.print(
        f"rebuilt {result.name}: {result.events} events to position {result.position} "
        f"in {result.seconds:.2f}s, {result.parked} parked, swapped in as generation "
        f"{result.generation}"
    )
