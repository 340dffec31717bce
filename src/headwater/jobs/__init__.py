"""Durable jobs: a queue in the event store's database, workers, schedules, batches.

    jobs = JobsModule()

    @jobs.handler("update-leaderboard")
    async def update_leaderboard(job: Job) -> None:
        ...

    jobs.on_event("ScoreRecorded", "update-leaderboard",
                  payload=lambda e: {"game_id": e.data["game_id"]},
                  dedupe_key=lambda e: f"leaderboard:{e.data['game_id']}")
    jobs.every("cleanup", 3600)

    create_app(settings, apps=[..., jobs])      # workers run inside `headwater serve`
    await runtime.require_jobs().enqueue("send-email", {"to": ...}, attempts=5)

See ``job.py`` for the state machine, ``worker.py`` for the lease rules and
``sql.py`` for the locking.
"""

from headwater.errors import (
    IllegalJobTransition,
    InvalidJob,
    JobNotFound,
    PermanentJobError,
)
from headwater.jobs._batch import BatchProcessor, ParkedBatch, park_to_queue
from headwater.jobs._job import Backoff, Job, JobState
from headwater.jobs._metrics import JobEvent, JobStats
from headwater.jobs._module import JobsModule
from headwater.jobs._periodic import Cron, Periodic, Scheduler
from headwater.jobs._queue import JobQueue, Trigger
from headwater.jobs._registry import JobRegistry
from headwater.jobs._sqlqueue import SqlJobQueue
from headwater.jobs._worker import Worker, WorkerOptions

__all__ = [
    "Backoff",
    "BatchProcessor",
    "Cron",
    "IllegalJobTransition",
    "InvalidJob",
    "Job",
    "JobEvent",
    "JobNotFound",
    "JobQueue",
    "JobRegistry",
    "JobState",
    "JobStats",
    "JobsModule",
    "ParkedBatch",
    "Periodic",
    "PermanentJobError",
    "Scheduler",
    "SqlJobQueue",
    "Trigger",
    "Worker",
    "WorkerOptions",
    "park_to_queue",
]
