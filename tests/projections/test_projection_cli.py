"""``headwater projections status`` and ``rebuild``, run as a user runs them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from formease_sample import append_history, user_stats
from typer.testing import CliRunner

from headwater.cli._projections import app
from headwater.eventstore import create_event_store
from headwater.projections import ProjectionRunner

runner = CliRunner(env={"COLUMNS": "200"})


def _prepare(url: str) -> None:
    async def run() -> None:
        store = await create_event_store(url, migrate=True)
        await append_history(store, 200)
        await ProjectionRunner(store, user_stats).catch_up()
        await store.close()

    asyncio.run(run())


def test_status_then_rebuild(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    _prepare(url)
    status = runner.invoke(app, ["status", "--url", url, "--app", "formease_sample:user_stats"])
    assert status.exit_code == 0, status.output
    assert "user_stats" in status.output
    assert "200/200" in status.output

    rebuilt = runner.invoke(
        app, ["rebuild", "user_stats", "--url", url, "--app", "formease_sample:user_stats"]
    )
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "rebuilt user_stats: 200 events to position 200" in rebuilt.output

    unknown = runner.invoke(
        app, ["rebuild", "nope", "--url", url, "--app", "formease_sample:user_stats"]
    )
    assert unknown.exit_code == 1
    assert "no projection named 'nope'" in unknown.output
