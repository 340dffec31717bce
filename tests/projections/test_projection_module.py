"""The projections module: apps register projections once; commits invalidate the cache."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient

from headwater.app import create_app
from headwater.cache import read_model_tag
from headwater.eventstore import EventStore, NewEvent, RecordedEvent, Statement
from headwater.modules import Module
from headwater.projections import INTEGER, TEXT, Merge, Projection, ProjectionRunner, Table
from headwater.runtime import Runtime
from headwater.settings import Settings

pytestmark = pytest.mark.anyio

COUNTS = Table("rm_module_counts", {"kind": TEXT, "n": INTEGER}, primary_key="kind")
counts = Projection("module_counts", tables=[COUNTS])


@counts.on("Counted")
def _count(event: RecordedEvent) -> Sequence[Statement]:
    return [COUNTS.upsert({"kind": event.data["kind"], "n": 1}, merge={"n": Merge.ADD})]


async def test_runner_tells_on_commit_which_tables_changed(store: EventStore) -> None:
    told: list[tuple[str, ...]] = []

    async def on_commit(tables: Sequence[str]) -> None:
        told.append(tuple(tables))

    await store.append("c-1", [NewEvent("Counted", {"kind": "a"})])
    async with ProjectionRunner(store, counts, on_commit=on_commit) as runner:
        with anyio.fail_after(10):
            await runner.wait_for(await store.head_position())
    assert told
    assert set(told) == {("rm_module_counts",)}


async def test_a_failing_on_commit_hook_does_not_stop_projecting(store: EventStore) -> None:
    async def broken(tables: Sequence[str]) -> None:
        raise RuntimeError("cache down")

    async with ProjectionRunner(store, counts, on_commit=broken) as runner:
        for kind in ("a", "b"):
            await store.append(f"c-{kind}", [NewEvent("Counted", {"kind": kind})])
            with anyio.fail_after(10):
                await runner.wait_for(await store.head_position())
    assert await store.fetchall("SELECT kind, n FROM rm_module_counts ORDER BY kind") == [
        ("a", 1),
        ("b", 1),
    ]


class _CountingApp(Module):
    name = "counting"

    async def start(self, runtime: Runtime) -> None:
        await runtime.require_projections().add(counts)


def test_an_app_registers_a_projection_and_its_commits_invalidate_cached_reads(
    tmp_path: Path,
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        data_dir=tmp_path,
        secret_key="k",  # type: ignore[arg-type]
        rate_limits=False,
    )
    app = create_app(settings, apps=[_CountingApp()])
    computed: list[int] = []

    async def scenario(runtime: Runtime) -> None:
        cache = runtime.require_cache()
        projections = runtime.require_projections()

        async def total() -> int:
            row = await runtime.store.fetchone("SELECT COALESCE(SUM(n), 0) FROM rm_module_counts")
            computed.append(1)
            return int(row[0]) if row else 0

        async def cached_total() -> int:
            return int(
                await cache.get_or_compute(
                    "total", total, tags=[read_model_tag("rm_module_counts")], tenant="t"
                )
            )

        assert await cached_total() == 0
        assert await cached_total() == 0
        assert len(computed) == 1  # the second read was a hit
        await runtime.store.append("c-1", [NewEvent("Counted", {"kind": "a"})])
        with anyio.fail_after(10):
            await projections.catch_up()
        # The runner's commit dropped the cached entry: the next read recomputes.
        assert await cached_total() == 1
        assert len(computed) == 2

    with TestClient(app) as client:
        client.portal.call(scenario, app.state.runtime)
