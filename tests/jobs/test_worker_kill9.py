"""A worker process killed with SIGKILL mid-job: its jobs are retried by another worker
once their leases lapse, never lost, and no job ever runs twice at the same time.

Two real ``headwater worker`` processes (``python -m headwater.cli._jobs worker``) share
the queue; the test kills one while it runs a job. Every run logs its start and
finish with a timestamp; a killed run ends at the moment of the kill.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from headwater.jobs import JobState, SqlJobQueue
from headwater.testing._jobs import eventually

pytestmark = pytest.mark.anyio

HERE = Path(__file__).parent
JOBS = 8


@dataclass
class Run:
    job_id: str
    attempt: int
    pid: int
    start: float
    end: float | None = None


def read_runs(path: Path) -> list[Run]:
    runs: dict[tuple[str, int, int], Run] = {}
    if not path.exists():
        return []
    for line in path.read_text().splitlines():
        what, job_id, attempt, pid, moment = line.split()
        key = (job_id, int(attempt), int(pid))
        if what == "start":
            runs[key] = Run(job_id, int(attempt), int(pid), float(moment))
        else:
            runs[key].end = float(moment)
    return list(runs.values())


async def spawn_worker(url: str) -> asyncio.subprocess.Process:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]))
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "headwater.cli._jobs",
        "worker",
        "--url",
        url,
        "--app",
        "_kill_app:jobs",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def test_a_worker_killed_mid_job_has_its_job_rerun_elsewhere_never_overlapping(
    queue: SqlJobQueue, store_url: str, backend: str, tmp_path: Path
) -> None:
    if backend == "sqlite-memory":
        pytest.skip("an in-memory database cannot be shared with another process")
    log = tmp_path / "runs.log"
    ids = await queue.enqueue_many(
        "work", [{"log": str(log), "seconds": 0.6, "n": n} for n in range(JOBS)]
    )
    victim, survivor = await spawn_worker(store_url), await spawn_worker(store_url)
    try:

        async def victim_is_mid_job() -> bool:
            runs = read_runs(log)
            return any(r.pid == victim.pid and r.end is None for r in runs)

        await eventually(victim_is_mid_job, "the victim to start a job")
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
        killed_at = time.time()

        async def all_succeeded() -> bool:
            depth = await queue.depth()
            return depth["succeeded"] == JOBS

        await eventually(all_succeeded, "every job to succeed")
    finally:
        for proc in (victim, survivor):
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                await proc.wait()

    runs = read_runs(log)
    by_job: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        if run.end is None:
            assert run.pid == victim.pid, "only the killed worker leaves runs unfinished"
            run.end = killed_at
        by_job[run.job_id].append(run)
    assert set(by_job) == set(ids), "no job was lost"
    interrupted = [job_id for job_id, rs in by_job.items() if any(r.end == killed_at for r in rs)]
    assert interrupted, "the kill landed mid-job"
    for job_id, job_runs in by_job.items():
        job_runs.sort(key=lambda r: r.start)
        for earlier, later in itertools.pairwise(job_runs):
            assert earlier.end is not None
            assert later.start >= earlier.end, f"job {job_id}: two runs overlapped"
            assert later.attempt == earlier.attempt + 1
        assert any(r.end != killed_at for r in job_runs), f"job {job_id} never finished"
    for job_id in interrupted:
        job = await queue.require(job_id)
        assert job.state is JobState.SUCCEEDED
        rerun = by_job[job_id][-1]
        assert rerun.pid == survivor.pid, "another worker ran it again"
        assert "lease expired" in (job.last_error or "")
