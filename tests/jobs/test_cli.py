"""``headwater jobs list/retry/stats`` and ``headwater worker``, run as a user runs them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headwater.cli._jobs import standalone
from headwater.eventstore import create_event_store
from headwater.jobs import JobState, SqlJobQueue
from headwater.jobs._queue import Settlement

runner = CliRunner(env={"COLUMNS": "200"})
cli = standalone()


def make_dead_job(url: str) -> str:
    async def setup() -> str:
        store = await create_event_store(url, migrate=True)
        try:
            queue = SqlJobQueue(store)
            await queue.migrate()
            await queue.enqueue("mail.send", {"to": "x"})
            job_id = await queue.enqueue("report.build", attempts=1)
            claim = await queue.claim(["report.build"], owner="w", lease=30, limit=1)
            error = "ValueError: the template is missing\nTraceback ..."
            dead = Settlement(job_id, claim.jobs[0].attempts, JobState.DEAD, queue.now(), error)
            await queue.settle("w", [dead])
            return job_id
        finally:
            await store.close()

    return asyncio.run(setup())


def job_state(url: str, job_id: str) -> JobState:
    async def read() -> JobState:
        store = await create_event_store(url)
        try:
            return (await SqlJobQueue(store).require(job_id)).state
        finally:
            await store.close()

    return asyncio.run(read())


def check_list_and_retry(url: str) -> None:
    job_id = make_dead_job(url)
    listed = runner.invoke(cli, ["jobs", "list", "--state", "dead", "--url", url])
    assert listed.exit_code == 0, listed.output
    assert job_id in listed.output
    assert "ValueError: the template is missing" in listed.output
    assert "mail.send" not in listed.output
    stats = runner.invoke(cli, ["jobs", "stats", "--url", url])
    assert "dead: 1" in stats.output
    assert "queued: 1" in stats.output
    retried = runner.invoke(cli, ["jobs", "retry", job_id, "--url", url])
    assert retried.exit_code == 0, retried.output
    assert f"{job_id} (report.build): queued" in retried.output
    assert job_state(url, job_id) is JobState.QUEUED
    again = runner.invoke(cli, ["jobs", "retry", job_id, "--url", url])
    assert again.exit_code == 1
    assert "cannot go from queued to queued" in again.output


def test_list_shows_dead_jobs_and_retry_requeues_them(tmp_path: Path) -> None:
    check_list_and_retry(f"sqlite:///{tmp_path / 'jobs.db'}")


@pytest.mark.postgres
def test_list_and_retry_on_postgres(postgres_url: str) -> None:
    check_list_and_retry(postgres_url)


def test_retry_all_dead(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    first, second = make_dead_job(url), make_dead_job(url)
    result = runner.invoke(cli, ["jobs", "retry", "--all-dead", "--url", url])
    assert result.exit_code == 0, result.output
    assert "2 job(s) retried" in result.output
    assert {job_state(url, first), job_state(url, second)} == {JobState.QUEUED}


def test_retry_needs_ids_and_an_unknown_id_is_reported(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    assert runner.invoke(cli, ["jobs", "retry", "--url", url]).exit_code == 2
    missing = runner.invoke(
        cli, ["jobs", "retry", "00000000-0000-4000-8000-000000000000", "--url", url]
    )
    assert missing.exit_code == 1
    assert "no job with id" in missing.output


def test_worker_without_handlers_says_what_to_pass(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    result = runner.invoke(cli, ["worker", "--url", url, "--app", "json:dumps"])
    assert result.exit_code == 1
    assert "no JobsModule found" in result.output
