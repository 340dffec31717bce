"""``headwater erase``: erase a data subject from the command line (for a DPO's request)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from headwater.errors import HeadwaterError
from headwater.settings import Settings


def erase(
    subject: Annotated[str, typer.Argument(help="The data subject's id (e.g. a guest id).")],
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="The tenant the subject belongs to.")
    ] = None,
    actor: Annotated[
        str, typer.Option("--actor", help="Who asked, recorded on SubjectErased.")
    ] = "cli",
    url: Annotated[
        str | None, typer.Option("--url", help="Database URL (default: HEADWATER_DATABASE_URL).")
    ] = None,
) -> None:
    """Destroy a subject's key and record SubjectErased; their personal fields read as
    replacement values from then on. Erasing twice changes nothing."""
    from headwater.eventstore import create_event_store
    from headwater.privacy import Eraser, SubjectKeys

    console = Console()
    database_url = url or Settings.from_env().database_url

    async def run() -> tuple[int, bool]:
        store = await create_event_store(database_url)
        try:
            keys = SubjectKeys(store)
            if store.dialect == "sqlite":
                await keys.migrate()  # the embedded default migrates itself, as `serve` does
            result = await Eraser(store, keys).erase_subject(tenant, subject, actor=actor)
            return result.position, result.erased_now
        finally:
            await store.close()

    try:
        position, erased_now = asyncio.run(run())
    except HeadwaterError as exc:
        console.print(f"[red]erase failed:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    state = "erased" if erased_now else "was already erased"
    console.print(f"subject {subject} {state}; SubjectErased at position {position}")
