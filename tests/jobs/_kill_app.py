"""The job handlers that the kill -9 test's worker processes run (``--app _kill_app:jobs``).

Each run appends ``start``/``finish`` lines with the pid and a wall-clock time to the
log file named in the payload, so the test can prove that runs never overlap.
"""

from __future__ import annotations

import asyncio
import os
import time

from headwater.jobs import Job, JobsModule, WorkerOptions

jobs = JobsModule(options=WorkerOptions(concurrency=2, lease=1.0, poll_interval=0.1))


def record(path: str, what: str, job: Job) -> None:
    # One short write per line with O_APPEND: lines from several processes never mix.
    line = f"{what} {job.id} {job.attempts} {os.getpid()} {time.time():.6f}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@jobs.handler("work")
async def work(job: Job) -> None:
    record(job.payload["log"], "start", job)
    await asyncio.sleep(job.payload["seconds"])
    record(job.payload["log"], "finish", job)
