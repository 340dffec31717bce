"""``headwater backup``: ship, restore, verify, drill and list backups of the event log.

    headwater backup ship    --target T [--url URL] [--once] [--interval S]
    headwater backup restore --target T --url EMPTY_URL [--to-position N | --to-time T]
                             [--dry-run] [--app pkg.module:projections]
    headwater backup verify  --target T
    headwater backup drill   --target T [--url URL] [--scratch-url URL] [--app ...]
    headwater backup base    --target T [--url URL]
    headwater backup prune   --target T [--url URL] [--keep-daily N] [--keep-weekly M]
    headwater backup list    --target T

``--target`` is ``file:///path`` (or a plain path) or ``s3://bucket/prefix``. Commands
that find a problem (verify, drill, a refused restore) exit with status 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import UTC, datetime
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.markup import escape

from headwater.backup import (
    Drill,
    RetentionRules,
    Shipper,
    ShipperOptions,
    apply_retention,
    create_base,
    list_bases,
    load_manifest,
    open_target,
    plan_restore,
    restore,
    verify_target,
)
from headwater.backup._drill import DrillResult
from headwater.backup._manifest import DRILL_KEY
from headwater.backup._verify import VerifyReport
from headwater.backup.restore import RestorePlan, RestoreResult
from headwater.cli._projections import load_projections
from headwater.errors import HeadwaterError
from headwater.eventstore import create_event_store
from headwater.observability._alerts import StreamAlertSink
from headwater.settings import Settings

app = typer.Typer(
    name="backup",
    help="Back up the event log, restore it to a position or time, verify and drill.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

Target = Annotated[
    str, typer.Option("--target", help="file:///path, a path, or s3://bucket/prefix.")
]
DatabaseUrl = Annotated[
    str | None, typer.Option("--url", help="Database URL (default: HEADWATER_DATABASE_URL).")
]
AppSpec = Annotated[
    str | None,
    typer.Option("--app", help="The app's projections to rebuild, as package.module:attribute."),
]


def _url(url: str | None) -> str:
    return url or Settings.from_env().database_url


def _fail(console: Console, what: str, exc: HeadwaterError) -> typer.Exit:
    console.print(f"[red]{what} failed:[/red] {escape(exc.message)}")
    return typer.Exit(1)


def _when(micros: int | None) -> str:
    if micros is None:
        return "-"
    return datetime.fromtimestamp(micros / 1_000_000, UTC).isoformat()


@app.command()
def ship(
    target: Target,
    url: DatabaseUrl = None,
    once: Annotated[bool, typer.Option(help="Ship what is there and exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between ships (loss bound).")] = 0.5,
) -> None:
    """Ship the log continuously (until SIGINT/SIGTERM, then one last ship)."""
    console = Console()

    async def run() -> int:
        store = await create_event_store(_url(url), migrate=False)
        shipper = Shipper(store, open_target(target), ShipperOptions(interval=interval))
        try:
            if once:
                return await shipper.ship_once()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await shipper.start()
            console.print(f"shipping to {shipper.target.location} every {interval:g}s")
            await stop.wait()
            await shipper.stop()
            return shipper.shipped_position
        finally:
            await shipper.target.close()
            await store.close()

    try:
        position = asyncio.run(run())
    except HeadwaterError as exc:
        raise _fail(console, "ship", exc) from exc
    console.print(f"shipped through position {position}")


@app.command("restore")
def restore_command(
    target: Target,
    url: Annotated[str, typer.Option("--url", help="The EMPTY database to restore into.")],
    to_position: Annotated[
        int | None, typer.Option("--to-position", help="Restore up to this position.", min=1)
    ] = None,
    to_time: Annotated[
        datetime | None,
        typer.Option(
            "--to-time",
            help="Restore every event recorded at or before this time (ISO 8601; UTC if no "
            "offset).",
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S"],
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be restored, and how long.")
    ] = False,
    app_spec: AppSpec = None,
) -> None:
    """Restore the log into an empty database, then rebuild every projection."""
    console = Console()
    moment = None
    if to_time is not None:
        moment = to_time if to_time.tzinfo is not None else to_time.replace(tzinfo=UTC)

    async def run() -> tuple[RestorePlan, RestoreResult | None]:
        backups = open_target(target)
        try:
            plan = await plan_restore(backups, to_position=to_position, to_time=moment)
            if dry_run:
                return plan, None
            projections = load_projections(app_spec)
            store = await create_event_store(url, migrate=True)
            try:
                return plan, await restore(backups, store, projections, plan=plan)
            finally:
                await store.close()
        finally:
            await backups.close()

    try:
        plan, result = asyncio.run(run())
    except HeadwaterError as exc:
        raise _fail(console, "restore", exc) from exc
    for line in plan.describe():
        console.print(line)
    if result is None:
        console.print("dry run: nothing was written")
        return
    console.print(
        f"restored {result.events} events to position {result.position} in "
        f"{result.load_seconds:.2f}s; rebuilt {len(result.rebuilds)} projections in "
        f"{result.rebuild_seconds:.2f}s"
    )


def _print_report(console: Console, report: VerifyReport) -> None:
    for problem in report.problems:
        console.print(f"[red]{escape(problem.describe())}[/red]")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    verdict = "[green]ok[/green]" if report.ok else f"[red]{len(report.problems)} problems[/red]"
    console.print(
        f"verified {report.chains} chains, {report.segments} segments, "
        f"{report.events} events: {verdict}"
    )


@app.command()
def verify(target: Target) -> None:
    """Check every segment's checksum and the hash chain, without restoring."""
    console = Console()

    async def run() -> VerifyReport:
        backups = open_target(target)
        try:
            return await verify_target(backups)
        finally:
            await backups.close()

    try:
        report = asyncio.run(run())
    except HeadwaterError as exc:
        raise _fail(console, "verify", exc) from exc
    _print_report(console, report)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def drill(
    target: Target,
    url: DatabaseUrl = None,
    scratch_url: Annotated[
        str | None,
        typer.Option("--scratch-url", help="An empty database to restore into (default: temp)."),
    ] = None,
    app_spec: AppSpec = None,
) -> None:
    """Restore the latest backup into a scratch database and compare it with the live one."""
    console = Console()

    async def run() -> DrillResult:
        projections = load_projections(app_spec)
        store = await create_event_store(_url(url), migrate=False)
        backups = open_target(target)
        try:
            return await Drill(
                store,
                backups,
                projections,
                scratch_url=scratch_url,
                alert_sinks=[StreamAlertSink(store)],
            ).run()
        finally:
            await backups.close()
            await store.close()

    try:
        result = asyncio.run(run())
    except HeadwaterError as exc:
        raise _fail(console, "drill", exc) from exc
    for comparison in result.comparisons:
        mark = "[green]equal[/green]" if comparison.equal else "[red]DIFFERENT[/red]"
        console.print(
            f"read model {comparison.projection}: {comparison.rows} rows, {mark} "
            f"({comparison.method})"
        )
    for problem in result.problems:
        console.print(f"[red]{escape(problem)}[/red]")
    console.print(
        f"drill {'passed' if result.ok else 'FAILED'}: restored {result.events} events to "
        f"position {result.position}, recovery {result.recovery_seconds:.2f}s, data loss "
        f"{result.data_loss_events} events / {result.data_loss_seconds:.2f}s"
    )
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def base(target: Target, url: DatabaseUrl = None) -> None:
    """Write a base backup: a full copy of the log, which lets retention prune old segments."""
    console = Console()

    async def run() -> str:
        store = await create_event_store(_url(url), migrate=False)
        backups = open_target(target)
        try:
            info = await create_base(store, backups)
            return f"base {info.id} at position {info.position}"
        finally:
            await backups.close()
            await store.close()

    try:
        console.print(asyncio.run(run()))
    except HeadwaterError as exc:
        raise _fail(console, "base", exc) from exc


@app.command()
def prune(
    target: Target,
    url: DatabaseUrl = None,
    keep_daily: Annotated[int, typer.Option(min=0, help="Newest base of each of N days.")] = 7,
    keep_weekly: Annotated[int, typer.Option(min=0, help="Newest base of each of M weeks.")] = 4,
) -> None:
    """Apply retention. Run it where no shipper runs (the manifest has one writer)."""
    console = Console()

    async def run() -> str:
        store = await create_event_store(_url(url), migrate=False)
        backups = open_target(target)
        try:
            result = await apply_retention(
                Shipper(store, backups), RetentionRules(keep_daily, keep_weekly)
            )
            return (
                f"kept {len(result.plan.keep)} bases, dropped {len(result.plan.drop)} bases "
                f"and {len(result.dropped_segments)} log segments"
            )
        finally:
            await backups.close()
            await store.close()

    try:
        console.print(asyncio.run(run()))
    except HeadwaterError as exc:
        raise _fail(console, "prune", exc) from exc


@app.command("list")
def list_command(target: Target) -> None:
    """The shipped log, the base backups and the last drill in the target."""
    console = Console()

    async def run() -> list[str]:
        backups = open_target(target)
        try:
            manifest = await load_manifest(backups)
            lines = [
                f"log: positions {manifest.first_position}-{manifest.last_position} in "
                f"{len(manifest.segments)} segments, last event at {_when(manifest.last_us)}"
            ]
            lines += [
                f"base {b.id}: positions 1-{b.position}, taken {b.created.isoformat()}"
                for b in await list_bases(backups)
            ]
            with contextlib.suppress(HeadwaterError, orjson.JSONDecodeError, KeyError):
                last = orjson.loads(await backups.get(DRILL_KEY))
                lines.append(
                    f"last drill {last['started_at']}: {'passed' if last['ok'] else 'FAILED'}, "
                    f"position {last['position']}, recovery {last['recovery_seconds']:.2f}s"
                )
            return lines
        finally:
            await backups.close()

    try:
        lines = asyncio.run(run())
    except HeadwaterError as exc:
        raise _fail(console, "list", exc) from exc
    for line in lines:
        console.print(line)
