"""Step 6: a durable job. Each loan enqueues one, in the same transaction as the loan's
event, and a worker records a reminder for it: keyed by the job id, a retried job
records once."""

from __future__ import annotations

from headwater import EventStore
from headwater.jobs import Job, JobsModule

from library.domain import BookLent

JOB = "library.remind"
REMINDERS = "library_reminders"


class Reminders:
    def __init__(self) -> None:
        self.store: EventStore | None = None  # set when the module starts

    def declare(self, jobs: JobsModule) -> None:
        jobs.on_event(
            BookLent.event_type,
            JOB,
            payload=lambda event: {"stream_id": event.stream_id, "to": event.data["to"]},
        )
        jobs.handler(JOB)(self.remind)

    async def migrate(self, store: EventStore) -> None:
        async with store.transaction() as tx:
            await tx.execute_script(
                f"CREATE TABLE IF NOT EXISTS {REMINDERS} "
                "(job_id TEXT PRIMARY KEY, tenant_id TEXT, stream_id TEXT, lent_to TEXT)"
            )

    async def remind(self, job: Job) -> None:
        if self.store is None:
            raise RuntimeError("the library is not started on this node")
        async with self.store.transaction() as tx:
            await tx.execute(
                f"INSERT INTO {REMINDERS} (job_id, tenant_id, stream_id, lent_to) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (job.id, job.tenant_id, job.payload["stream_id"], job.payload["to"]),
            )


async def reminders(store: EventStore, tenant_id: str) -> list[str]:
    rows = await store.fetchall(
        f"SELECT lent_to FROM {REMINDERS} WHERE tenant_id = ? ORDER BY lent_to", (tenant_id,)
    )
    return [row[0] for row in rows]
