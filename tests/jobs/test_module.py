"""``JobsModule`` inside an app (the workers of ``headwater serve``) and on its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from headwater.app import create_app
from headwater.errors import SchemaNotMigrated
from headwater.eventstore import NewEvent, create_event_store
from headwater.jobs import Job, JobsModule, SqlJobQueue, WorkerOptions
from headwater.runtime import Runtime
from headwater.settings import Settings
from headwater.testing._jobs import eventually

pytestmark = pytest.mark.anyio


async def test_the_module_runs_jobs_and_triggers_inside_the_app(tmp_path: Path) -> None:
    jobs = JobsModule(options=WorkerOptions(lease=2.0, poll_interval=0.2))
    seen: list[dict[str, object]] = []

    @jobs.handler("greet")
    async def greet(job: Job) -> None:
        seen.append(job.payload)

    jobs.on_event("Greeted", "greet", payload=lambda e: {"from_event": e.data["n"]})
    jobs.every("greet", 3600, payload={"periodic": True})
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        data_dir=tmp_path,
        secret_key=SecretStr("s"),
    )
    app = create_app(settings, apps=[jobs])
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.runtime
        queue = runtime.require_jobs()
        assert isinstance(queue, SqlJobQueue)
        await queue.enqueue("greet", {"direct": True})
        await runtime.store.append("g-1", NewEvent("Greeted", {"n": 2}))

        async def all_three() -> bool:
            return len(seen) == 3

        await eventually(all_three, "the direct, triggered and periodic jobs")
        stats = await jobs.stats()
    assert sorted(map(str, seen)) == sorted(
        map(str, [{"direct": True}, {"from_event": 2}, {"periodic": True}])
    )
    assert stats["depth"]["succeeded"] == 3
    assert stats["counts"]["succeeded"] == 3
    assert runtime.jobs is None


async def test_a_node_without_workers_only_enqueues(tmp_path: Path) -> None:
    store = await create_event_store(f"sqlite:///{tmp_path / 'e.db'}")
    jobs = JobsModule(workers=0)

    @jobs.handler("x")
    async def x(job: Job) -> None:
        raise AssertionError("must not run here")

    try:
        queue = await jobs.open(store)
        await jobs.start_workers()
        await queue.enqueue("x")
        assert (await jobs.stats())["depth"]["queued"] == 1
        await jobs.stop()
    finally:
        await store.close()


@pytest.mark.postgres
async def test_a_postgres_node_refuses_to_start_on_unmigrated_job_tables(
    postgres_url: str,
) -> None:
    store = await create_event_store(postgres_url, migrate=True)
    try:
        jobs = JobsModule()
        with pytest.raises(SchemaNotMigrated, match="headwater migrate"):
            await jobs.open(store)
        assert await jobs.migrate(store) == [
            "jobs/0001_jobs",
            "jobs/0002_traceparent",
            "jobs/0003_list_sorts",
        ]
        await jobs.open(store)
        assert await jobs.migrate(store) == []
    finally:
        await store.close()
