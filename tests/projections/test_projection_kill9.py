"""DESIGN §5.3: a runner killed with SIGKILL mid-catch-up resumes and ends equal to a
rebuild from zero (rows and checkpoint commit together, so nothing is lost or doubled)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from formease_sample import SUBMISSIONS, USERS, append_history, form_metrics, table_rows, user_stats

from headwater.eventstore import EventStore
from headwater.projections import ProjectionRunner, RunnerOptions, rebuild
from headwater.projections._checkpoints import read_record

pytestmark = pytest.mark.anyio

WORKER = Path(__file__).with_name("_projection_worker.py")
EVENTS = 3000


async def _kill_mid_way(url: str, head: int) -> int:
    """Start the worker, SIGKILL it once it is well into the log; return its last report."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), url, "10", stdout=subprocess.PIPE, env=dict(os.environ)
    )
    assert proc.stdout is not None
    seen = 0
    try:
        async with asyncio.timeout(20):
            while seen < head // 3:
                line = await proc.stdout.readline()
                assert line, "the worker exited early"
                seen = int(line.split()[1])
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    return seen


async def test_sigkill_mid_catch_up_resumes_equal_to_rebuild(
    store: EventStore, store_url: str, backend: str
) -> None:
    if backend == "sqlite-memory":
        pytest.skip("an in-memory database cannot be shared with another process")
    await append_history(store, EVENTS)
    head = await store.head_position()
    # Register in this process first, so the child only runs (no DDL race).
    for projection in (user_stats, form_metrics):
        await ProjectionRunner(store, projection).prepare()

    reported = await _kill_mid_way(store_url, head)
    record = await read_record(store, user_stats.name)
    assert record is not None
    assert reported <= record.position < head, "the kill must land mid-way"

    for projection in (user_stats, form_metrics):
        await ProjectionRunner(store, projection, RunnerOptions(batch_size=200)).catch_up()
    resumed_users = await table_rows(store, USERS)
    resumed_submissions = await table_rows(store, SUBMISSIONS)

    await rebuild(store, user_stats)
    await rebuild(store, form_metrics)
    assert await table_rows(store, USERS) == resumed_users
    assert await table_rows(store, SUBMISSIONS) == resumed_submissions
