"""``headwater``: one command, a sub-command per task."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated

import typer
from rich.console import Console

from headwater.cli import _demo as demo_module
from headwater.cli import _jobs as jobs_cli
from headwater.cli._backup import app as backup_app
from headwater.cli._config import app as config_app
from headwater.cli._dev import dev
from headwater.cli._new import new
from headwater.cli._privacy import erase
from headwater.cli._projections import app as projections_app
from headwater.errors import HeadwaterError
from headwater.modules import Module
from headwater.settings import Settings

app = typer.Typer(
    name="headwater",
    help="Event-sourced, real-time backends.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

app.add_typer(projections_app, name="projections", help="Projection status and rebuilds.")
app.add_typer(jobs_cli.app, name="jobs", help="List, retry and count jobs.")
app.add_typer(backup_app, name="backup", help="Back up, restore, verify and drill the log.")
app.add_typer(config_app, name="config", help="Check the configuration for its profile.")
app.command("worker")(jobs_cli.worker)
app.command("erase")(erase)
app.command("new")(new)
app.command("dev")(dev)


def _discovered(settings: Settings) -> list[Module]:
    """The installed plugins ``headwater serve`` loads (none with discovery off)."""
    from headwater.plugins import discover_plugins

    return discover_plugins(only=settings.plugins) if settings.discover_plugins else []


def _with_commands() -> list[Module]:
    """The modules whose ``cli`` the command mounts: installed plugins, then the apps."""
    from headwater.app._server import load_module

    try:
        settings = Settings.from_env()
    except ValueError:
        # Bad settings are reported by the commands that read them; the plugins'
        # commands stay available without them.
        from headwater.plugins import discover_plugins

        return discover_plugins()
    return [*_discovered(settings), *(load_module(path) for path in settings.apps)]


DatabaseUrl = Annotated[
    str | None,
    typer.Option("--url", help="Database URL (default: HEADWATER_DATABASE_URL)."),
]


def _url(url: str | None) -> str:
    return url or Settings.from_env().database_url


@app.command()
def migrate(url: DatabaseUrl = None) -> None:
    """Create or upgrade the database schema (run once per deploy, before the nodes)."""
    console = Console()
    from headwater.app import core_modules
    from headwater.app._server import load_module
    from headwater.eventstore import create_event_store
    from headwater.jobs import SqlJobQueue
    from headwater.privacy import SubjectKeys
    from headwater.projections import migrate_projections

    settings = Settings.from_env()
    # The same modules `headwater serve` runs: the installed plugins, then the apps.
    apps = [*_discovered(settings), *(load_module(path) for path in settings.apps)]
    modules = [*core_modules(settings, apps), *apps]

    async def run() -> list[str]:
        store = await create_event_store(_url(url), migrate=True)
        try:
            applied = list(store.applied_migrations)
            applied += await migrate_projections(store)
            applied += await SqlJobQueue(store).migrate()
            applied += await SubjectKeys(store).migrate()
            for module in modules:
                applied += await module.migrate(store)
            return applied
        finally:
            await store.close()

    try:
        applied = asyncio.run(run())
    except HeadwaterError as exc:
        console.print(f"[red]migrate failed:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    for name in applied:
        console.print(f"applied {name}")
    console.print(f"schema is current at {_url(url)} ({len(applied)} migrations applied now)")


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="The platform admin's email.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    url: DatabaseUrl = None,
) -> None:
    """Create a platform admin account (the first account of a deployment)."""
    from headwater.app import resolve_secret
    from headwater.security._bootstrap import create_platform_admin

    console = Console()
    settings = Settings.from_env()
    try:
        asyncio.run(
            create_platform_admin(_url(url), email, password, root_secret=resolve_secret(settings))
        )
    except HeadwaterError as exc:
        console.print(f"[red]create-admin failed:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    console.print(f"platform admin {email} created")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    url: DatabaseUrl = None,
    app_path: Annotated[
        list[str] | None,
        typer.Option("--app", help="An app to serve, as package.module:attribute (repeatable)."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the HTTP API, WebSockets and SSE with uvicorn."""
    import json
    import os

    import uvicorn

    from headwater.app._profiles import describe, refuses_to_start
    from headwater.http._heads import HeadLimits, bounded_protocol

    # Settings are read once, from the environment, by the app factory in each worker;
    # options given here are passed the same way.
    if url:
        os.environ["HEADWATER_DATABASE_URL"] = url
    if app_path:
        os.environ["HEADWATER_APPS"] = json.dumps(app_path)
    settings = Settings.from_env()
    refused = refuses_to_start(settings)
    if refused:
        typer.echo(
            "headwater serve refuses to start production with an unsafe configuration "
            "(see `headwater config check`):\n" + describe(refused, settings),
            err=True,
        )
        raise typer.Exit(2)
    limits = HeadLimits(
        max_head_bytes=settings.max_head_bytes,
        max_headers=settings.max_headers,
        head_timeout=settings.head_timeout,
        keepalive_timeout=settings.keepalive_timeout,
    )
    uvicorn.run(
        "headwater.app._server:build_from_env",
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=True,
        server_header=False,
        # httptools with bounded heads (size, count, time): uvicorn bounds none of them.
        http=bounded_protocol(limits),
        timeout_keep_alive=limits.keepalive_timeout,  # type: ignore[arg-type]
        # The sans-I/O websockets implementation, without per-message deflate: with
        # deflate a connection holds ~40 KB more of compressor state, idle or not.
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_max_size=65536,
        # No protocol-level keep-alive pings: liveness is the realtime layer's own
        # (heartbeats, idle and send timeouts). A ping unanswered by a client that
        # stopped reading would close it with a bare 1011 before its 4008 and
        # ``resync_from`` (which wait for the transport) could reach it.
        ws_ping_interval=None,
        ws_ping_timeout=None,
        # Open SSE streams and WebSockets would otherwise hold shutdown forever.
        timeout_graceful_shutdown=5,
    )


@app.command()
def demo(
    url: Annotated[str, typer.Option("--url", help="Where the demo keeps its data.")] = (
        "sqlite:///var/demo.db"
    ),
) -> None:
    """Run the demo scenario on the embedded default (SQLite) and say what happened."""
    console = Console()
    try:
        asyncio.run(demo_module.run(url, console))
    except HeadwaterError as exc:
        console.print(f"[red]demo failed:[/red] {exc.message}")
        raise typer.Exit(1) from exc


def import_apps_from_here() -> None:
    """Let ``--app`` and ``HEADWATER_APPS`` name packages in the working directory.

    Apps run from their checkout, not from site-packages (the reference apps are not in
    the wheel), and a console script's ``sys.path[0]`` is its own ``bin/``, not where it
    was started (``python -m`` puts the working directory first; a script does not).
    uvicorn's ``--app-dir`` defaults to ``.`` for the same reason.
    """
    here = os.getcwd()
    if here not in sys.path:
        sys.path.insert(0, here)


def main() -> None:
    """The console script: the built-in commands plus those of plugins and apps."""
    from headwater.plugins import mount_plugin_cli

    import_apps_from_here()
    try:
        mount_plugin_cli(app, _with_commands())
    except HeadwaterError as exc:
        Console(stderr=True).print(f"[red]{exc.message}[/red]")
        raise SystemExit(1) from exc
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
