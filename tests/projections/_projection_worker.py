"""Runs the sample projections in a child process, for the kill -9 test.

    python _projection_worker.py URL BATCH_SIZE

Prints ``position <n>`` (flushed) whenever the user_stats checkpoint moves.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from formease_sample import form_metrics, user_stats

from headwater.eventstore import create_event_store
from headwater.projections import ProjectionRunner, RunnerOptions


async def main(url: str, batch_size: int) -> None:
    store = await create_event_store(url, migrate=False)
    options = RunnerOptions(batch_size=batch_size)
    runners = [ProjectionRunner(store, p, options) for p in (user_stats, form_metrics)]
    for runner in runners:
        await runner.start()
    last = -1
    while True:
        position = runners[0].position
        if position != last:
            sys.stdout.write(f"position {position}\n")
            sys.stdout.flush()
            last = position
        await asyncio.sleep(0.002)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
