"""``headwater worker`` and ``headwater jobs``: run job workers, inspect and retry jobs.

    headwater worker --app pkg.module:jobs [--url URL] [--concurrency N] [--lease S]
    headwater jobs list [--state dead] [--name NAME] [--limit N] [--url URL]
    headwater jobs retry JOB_ID... | --all-dead [--url URL]
    headwater jobs stats [--url URL]

``--app`` names a ``JobsModule`` (or a module object with a ``jobs`` attribute
holding one, or a ``JobRegistry``); without it, the apps in ``HEADWATER_APPS``.
The worker stops gracefully on SIGTERM or SIGINT: running jobs get
``--shutdown-grace`` seconds to finish, the rest are released to other workers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import signal
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table as RichTable

from headwater.errors import HeadwaterError, InvalidInput, SchemaNotMigrated
from headwater.eventstore import EventStore, create_event_store
from headwater.jobs import Job, JobRegistry, JobsModule, JobState, SqlJobQueue, WorkerOptions
from headwater.settings import Settings

app = typer.Typer(
    name="jobs",
    help="The durable job queue: list, retry, stats.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

DatabaseUrl = Annotated[
    str | None, typer.Option("--url", help="Database URL (default: HEADWATER_DATABASE_URL).")
]


def load_jobs_modules(paths: list[str]) -> list[JobsModule]:
    """``package.module:attribute`` -> the JobsModule it names (see the module doc)."""
    found: list[JobsModule] = []
    for path in paths:
        module_name, _, attribute = path.partition(":")
        try:
            value: Any = getattr(importlib.import_module(module_name), attribute or "jobs")
        except (ImportError, AttributeError) as exc:
            raise InvalidInput(f"cannot load {path!r}: {exc}") from exc
        if isinstance(value, type):
            value = value()
        if isinstance(value, JobRegistry):
            value = JobsModule(value)
        if not isinstance(value, JobsModule):
            value = getattr(value, "jobs", None)
        if isinstance(value, JobsModule):
            found.append(value)
    if not found:
        raise InvalidInput(f"no JobsModule found in {paths}: pass --app package.module:jobs")
    return found


async def _open_queue(url: str) -> tuple[EventStore, SqlJobQueue]:
    store = await create_event_store(url)
    queue = SqlJobQueue(store)
    if store.dialect == "sqlite":
        await queue.migrate()
    elif not await queue.is_current():
        await store.close()
        raise SchemaNotMigrated("the job tables are missing or old: run `headwater migrate`")
    return store, queue


def _fail(console: Console, what: str, exc: HeadwaterError) -> typer.Exit:
    console.print(f"[red]{what} failed:[/red] {exc.message}")
    return typer.Exit(1)


def worker(
    url: DatabaseUrl = None,
    app_path: Annotated[
        list[str] | None,
        typer.Option("--app", help="Job handlers, as package.module:attribute (repeatable)."),
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Jobs run at once per loop.")] = None,
    loops: Annotated[int, typer.Option("--workers", help="Worker loops in this process.")] = 1,
    lease: Annotated[float | None, typer.Option(help="Lease seconds per claim.")] = None,
    poll_interval: Annotated[
        float | None, typer.Option(help="Longest idle wait between claims.")
    ] = None,
    shutdown_grace: Annotated[
        float | None, typer.Option(help="Seconds to finish running jobs at shutdown.")
    ] = None,
) -> None:
    """Run job workers and periodic schedules, without the HTTP server."""
    console = Console()
    settings = Settings.from_env()

    async def run() -> None:
        modules = load_jobs_modules(app_path or settings.apps)
        store = await create_event_store(url or settings.database_url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            for module in modules:
                await module.open(store, auto_migrate=settings.auto_migrate)
                module.options = _options(module.options)
                await module.start_workers(loops)
            names = sorted({name for m in modules for name in m.registry.names})
            console.print(f"worker ready: {loops} loop(s), jobs {', '.join(names)}")
            await stop.wait()
            console.print("stopping: finishing running jobs")
        finally:
            for module in modules:
                await module.stop()
            await store.close()

    def _options(base: WorkerOptions) -> WorkerOptions:
        overrides: dict[str, Any] = {
            key: value
            for key, value in (
                ("concurrency", concurrency),
                ("lease", lease),
                ("poll_interval", poll_interval),
                ("shutdown_grace", shutdown_grace),
            )
            if value is not None
        }
        return dataclasses.replace(base, **overrides)

    try:
        asyncio.run(run())
    except HeadwaterError as exc:
        raise _fail(console, "worker", exc) from exc


def _table(jobs: list[Job]) -> RichTable:
    table = RichTable(title="jobs")
    for heading in ("id", "name", "state", "attempts", "run at", "last error"):
        table.add_column(heading, overflow="fold")
    for job in jobs:
        error = (job.last_error or "").splitlines()[0][:100] if job.last_error else ""
        table.add_row(
            job.id,
            job.name,
            job.state.value,
            f"{job.attempts}/{job.max_attempts}",
            job.run_at.isoformat(timespec="seconds"),
            error,
        )
    return table


@app.command("list")
def list_jobs(
    url: DatabaseUrl = None,
    state: Annotated[str | None, typer.Option(help="Only jobs in this state.")] = None,
    name: Annotated[str | None, typer.Option(help="Only jobs of this name.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
) -> None:
    """Jobs, newest first, with their state, attempts and last error."""
    console = Console()

    async def run() -> list[Job]:
        store, queue = await _open_queue(url or Settings.from_env().database_url)
        try:
            return await queue.list_jobs(state=state, name=name, limit=limit)
        finally:
            await store.close()

    try:
        jobs = asyncio.run(run())
    except HeadwaterError as exc:
        raise _fail(console, "list", exc) from exc
    if not jobs:
        console.print("no jobs")
        return
    console.print(_table(jobs))


@app.command("retry")
def retry(
    job_ids: Annotated[list[str] | None, typer.Argument(help="Ids of jobs to retry.")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Retry every dead job.")] = False,
    url: DatabaseUrl = None,
) -> None:
    """Run dead (or failed) jobs again now, with their attempts reset."""
    console = Console()
    if not job_ids and not all_dead:
        console.print("[red]retry failed:[/red] give job ids or --all-dead")
        raise typer.Exit(2)

    async def run() -> list[Job]:
        store, queue = await _open_queue(url or Settings.from_env().database_url)
        try:
            ids = list(job_ids or [])
            if all_dead:
                dead = await queue.list_jobs(state=JobState.DEAD, limit=10_000)
                ids += [job.id for job in dead]
            return [await queue.retry(job_id) for job_id in ids]
        finally:
            await store.close()

    try:
        retried = asyncio.run(run())
    except HeadwaterError as exc:
        raise _fail(console, "retry", exc) from exc
    for job in retried:
        console.print(f"{job.id} ({job.name}): {job.state.value}")
    console.print(f"{len(retried)} job(s) retried")


@app.command("stats")
def stats(url: DatabaseUrl = None) -> None:
    """How many jobs are in each state."""
    console = Console()

    async def run() -> dict[str, int]:
        store, queue = await _open_queue(url or Settings.from_env().database_url)
        try:
            return await queue.depth()
        finally:
            await store.close()

    try:
        depth = asyncio.run(run())
    except HeadwaterError as exc:
        raise _fail(console, "stats", exc) from exc
    console.print("  ".join(f"{state}: {count}" for state, count in depth.items()))


def standalone() -> typer.Typer:
    """``worker`` and ``jobs`` as one CLI, as ``headwater`` registers them (tests, -m)."""
    cli = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    cli.command("worker")(worker)
    cli.add_typer(app, name="jobs")
    return cli


if __name__ == "__main__":  # pragma: no cover
    standalone()()
