"""The job queue in the event store's own database: SQLite or PostgreSQL.

Sharing the event store's database is the point. On SQLite every write goes through
the store's single writer thread (``store.transaction()``), the same one that appends
events, so an inline handler's job rows commit in the append's own transaction; on
PostgreSQL they ride the append's transaction on the writer connection. Either way
a job exists if and only if the events that caused it do: no lost jobs when an
append commits, no phantom jobs when it fails. The SQL is in :mod:`headwater.jobs._sql`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, Final, TypeVar

import orjson

from headwater.cursors import ListQuery, Total, count_rows
from headwater.errors import InvalidJob, JobNotFound
from headwater.eventstore._protocol import EventStore, Transaction
from headwater.eventstore._sql import Statement
from headwater.eventstore.migrations import apply_migrations, load_migrations
from headwater.jobs import _sql as sql
from headwater.jobs._job import (
    Backoff,
    Job,
    JobState,
    NewJob,
    check_transition,
    from_micros,
)
from headwater.jobs._metrics import JobEvent, emit
from headwater.jobs._queue import Claim, JobQueue, Settlement

T = TypeVar("T")

COMPONENT: Final = "jobs"
_MIGRATIONS: Final = "headwater.jobs.migrations"
#: Runs per renew/succeed statement: far below either database's parameter limit.
_CHUNK: Final = 400


def decode(row: Sequence[Any]) -> Job:
    """A row of ``sql.COLUMNS``."""
    return Job(
        id=str(row[0]),
        name=row[1],
        payload=orjson.loads(row[2]),
        state=JobState(row[3]),
        priority=int(row[4]),
        run_at=from_micros(int(row[5])),
        attempts=int(row[6]),
        max_attempts=int(row[7]),
        backoff=Backoff.from_json(row[8]),
        dedupe_key=row[9],
        tenant_id=row[10],
        last_error=row[11],
        created_at=from_micros(int(row[12])),
        updated_at=from_micros(int(row[13])),
        started_at=None if row[14] is None else from_micros(int(row[14])),
        finished_at=None if row[15] is None else from_micros(int(row[15])),
        lease_owner=row[16],
        lease_expires_at=None if row[17] is None else from_micros(int(row[17])),
        traceparent=row[18],
    )


def _insert_params(job: NewJob) -> tuple[Any, ...]:
    return (
        job.id,
        job.name,
        job.payload_json,
        job.state.value,
        job.priority,
        job.run_at,
        job.max_attempts,
        job.backoff.to_json(),
        job.dedupe_key,
        job.tenant_id,
        job.created_at,
        job.created_at,
        job.traceparent,
    )


def _chunks(items: Sequence[tuple[str, int]]) -> list[Sequence[tuple[str, int]]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


async def _fetch_job(tx: Transaction, job_id: str) -> Job | None:
    row = await tx.fetchone(sql.select("id = ?"), (job_id,))
    return None if row is None else decode(row)


class SqlJobQueue(JobQueue):
    """Jobs in ``hw_jobs``, next to the events of ``store``."""

    def __init__(self, store: EventStore, *, clock: Callable[[], int] | None = None) -> None:
        super().__init__(store, clock=clock)

    # --- schema ---------------------------------------------------------------------

    async def migrate(self) -> list[str]:
        migrations = load_migrations(_MIGRATIONS, COMPONENT, self.store.dialect)
        return await apply_migrations(self.store, migrations)

    async def is_current(self) -> bool:
        """Whether every shipped migration is applied (for nodes that must not migrate)."""
        expected = len(load_migrations(_MIGRATIONS, COMPONENT, self.store.dialect))

        async def work(tx: Transaction) -> tuple[Any, ...] | None:
            return await tx.fetchone(
                "SELECT MAX(version) FROM hw_migrations WHERE component = ?", (COMPONENT,)
            )

        row = await self._transact(work)
        return row is not None and row[0] is not None and int(row[0]) >= expected

    async def _transact(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run ``work`` in one store transaction that a cancelled caller cannot interrupt.

        Cancelling a task while the SQLite store opens a transaction strands its
        writer thread inside BEGIN (every later write would hang), and a PostgreSQL
        statement cut off midway costs the pool its connection. Workers, schedulers
        and callers with timeouts do get cancelled, so the transaction runs in a task
        of its own, shielded: it always commits or rolls back; a cancelled caller
        just stops waiting for it.
        """

        async def run() -> T:
            async with self.store.transaction() as tx:
                return await work(tx)

        task = asyncio.create_task(run())
        task.add_done_callback(_consume_outcome)
        return await asyncio.shield(task)

    # --- enqueueing -----------------------------------------------------------------

    def _insert_statement(self, job: NewJob) -> Statement:
        return Statement(sql.INSERT, _insert_params(job))

    async def _insert(self, job: NewJob) -> tuple[str, bool]:
        async def work(tx: Transaction) -> tuple[str, bool] | None:
            row = await tx.fetchone(sql.INSERT + " RETURNING id", _insert_params(job))
            if row is not None:
                return str(row[0]), True
            # DO NOTHING: the id exists, or an unfinished job holds the key. On
            # PostgreSQL the insert waited for that row's transaction: it is visible now.
            existing = await tx.fetchone(sql.EXISTING, (job.id, job.dedupe_key))
            return None if existing is None else (str(existing[0]), False)

        outcome = await self._transact(work)
        if outcome is None:  # pragma: no cover - the conflict proves it exists
            raise InvalidJob(f"job {job.id} conflicted with a job that cannot be found")
        return outcome

    async def _insert_many(self, jobs: Sequence[NewJob]) -> None:
        rows = [_insert_params(job) for job in jobs]

        async def work(tx: Transaction) -> None:
            await tx.executemany(sql.INSERT, rows)

        await self._transact(work)

    # --- inspecting and repairing ---------------------------------------------------

    async def get(self, job_id: str) -> Job | None:
        async def work(tx: Transaction) -> Job | None:
            return await _fetch_job(tx, str(job_id))

        return await self._transact(work)

    async def _list_jobs(
        self,
        state: JobState | None,
        name: str | None,
        tenant_id: str | None,
        limit: int,
        query: ListQuery,
        after: Sequence[Any] | None,
    ) -> list[tuple[Job, list[Any]]]:
        conditions, params = _filters(state, name, tenant_id)
        keyset = query.after(after)
        if keyset is not None:
            conditions.append(keyset[0])
            params.extend(keyset[1])
        # The sort value and seq ride after the job's columns: they are the row's key.
        statement = (
            f"SELECT {sql.COLUMNS}, {query.column}, seq FROM hw_jobs"
            + (" WHERE " + " AND ".join(conditions) if conditions else "")
            + f" ORDER BY {query.order_by()} LIMIT ?"
        )

        async def work(tx: Transaction) -> list[tuple[Any, ...]]:
            return await tx.fetchall(statement, [*params, limit])

        return [(decode(row[:-2]), list(row[-2:])) for row in await self._transact(work)]

    async def _count_jobs(
        self, state: JobState | None, name: str | None, tenant_id: str | None
    ) -> Total:
        conditions, params = _filters(state, name, tenant_id)
        where = " WHERE " + " AND ".join(conditions) if conditions else ""

        async def work(tx: Transaction) -> Total:
            return await count_rows(tx, f"FROM hw_jobs{where}", params)

        return await self._transact(work)

    async def _retry(self, job_id: str) -> Job:
        async def work(tx: Transaction) -> tuple[Job, bool]:
            job = await _fetch_job(tx, job_id)
            if job is None:
                raise JobNotFound(job_id)
            check_transition(job.state, JobState.QUEUED, job.id)
            if job.state is JobState.RUNNING:  # legal only as a worker's release
                raise InvalidJob(f"job {job.id} is running; it cannot be retried now")
            if job.dedupe_key is not None:
                holder = await tx.fetchone(sql.FIND_UNFINISHED_BY_KEY, (job.dedupe_key,))
                if holder is not None and str(holder[0]) != job.id:
                    other = await _fetch_job(tx, str(holder[0]))
                    assert other is not None
                    return other, False
            now = self.now()
            await tx.execute(sql.retry(), (now, now, job.id))
            retried = await _fetch_job(tx, job.id)
            assert retried is not None
            return retried, True

        job, requeued = await self._transact(work)
        if requeued:
            emit(self.listeners, JobEvent("enqueued", job.name, job.id))
        return job

    async def depth(self) -> dict[str, int]:
        async def work(tx: Transaction) -> list[tuple[Any, ...]]:
            return await tx.fetchall(sql.DEPTH)

        counts = {state.value: 0 for state in JobState}
        counts.update({str(state): int(count) for state, count in await self._transact(work)})
        return counts

    async def ready(self) -> dict[str, tuple[int, float]]:
        now = self.now()

        async def work(tx: Transaction) -> list[tuple[Any, ...]]:
            return await tx.fetchall(sql.READY, (now,))

        return {
            str(name): (int(count), max(0.0, (now - int(oldest)) / 1_000_000))
            for name, count, oldest in await self._transact(work)
        }

    async def prune(self, older_than: timedelta) -> int:
        cutoff = self.now() - int(older_than.total_seconds() * 1_000_000)

        async def work(tx: Transaction) -> int:
            return await tx.execute(sql.PRUNE, (cutoff,))

        return await self._transact(work)

    # --- worker primitives ----------------------------------------------------------

    async def claim(self, names: Sequence[str], *, owner: str, lease: float, limit: int) -> Claim:
        if not names or limit < 1:
            return Claim([])
        now = self.now()
        expires = now + int(lease * 1_000_000)
        query = sql.claim(self.store.dialect, len(names))

        async def work(tx: Transaction) -> tuple[list[tuple[Any, ...]], int | None]:
            rows = await tx.fetchall(query, [now, *names, limit, owner, expires, now, now])
            if len(rows) == limit:
                return rows, None
            row = await tx.fetchone(sql.NEXT_DUE, (now,))
            return rows, None if row is None or row[0] is None else int(row[0])

        rows, next_due = await self._transact(work)
        jobs = sorted(
            (decode(row) for row in rows), key=lambda j: (-j.priority, j.run_at, j.created_at)
        )
        return Claim(jobs, next_due)

    async def renew(self, owner: str, runs: Sequence[tuple[str, int]], lease: float) -> set[str]:
        now = self.now()
        expires = now + int(lease * 1_000_000)

        async def work(tx: Transaction) -> set[str]:
            held: set[str] = set()
            for chunk in _chunks(runs):
                rows = await tx.fetchall(
                    sql.renew(len(chunk)), [expires, now, owner, now, *sql.flatten(chunk)]
                )
                held.update(str(row[0]) for row in rows)
            return held

        return await self._transact(work)

    async def succeed(self, owner: str, runs: Sequence[tuple[str, int]]) -> set[str]:
        now = self.now()

        async def work(tx: Transaction) -> set[str]:
            held: set[str] = set()
            for chunk in _chunks(runs):
                rows = await tx.fetchall(
                    sql.succeed(len(chunk)), [now, now, owner, *sql.flatten(chunk)]
                )
                held.update(str(row[0]) for row in rows)
            return held

        return await self._transact(work)

    async def settle(self, owner: str, settlements: Sequence[Settlement]) -> set[str]:
        now = self.now()

        async def work(tx: Transaction) -> set[str]:
            held: set[str] = set()
            for s in settlements:
                finished = now if s.target is JobState.DEAD else None
                delta = -1 if s.target is JobState.QUEUED else 0
                changed = await tx.execute(
                    sql.settle(s.target),
                    (s.run_at, s.error, now, finished, delta, s.job_id, s.attempt, owner),
                )
                if changed:
                    held.add(s.job_id)
            return held

        return await self._transact(work)

    async def reap(self, limit: int = 100) -> list[tuple[str, str, JobState]]:
        now = self.now()

        async def work(tx: Transaction) -> list[tuple[Any, ...]]:
            return await tx.fetchall(sql.reap(self.store.dialect), (now, limit, now, now, now))

        return [(str(row[0]), str(row[1]), JobState(row[2])) for row in await self._transact(work)]

    async def claim_period(self, schedule: str, period: int, job: NewJob) -> bool:
        async def work(tx: Transaction) -> bool:
            if not await tx.execute(sql.CLAIM_PERIOD, (schedule, period, self.now())):
                return False
            await tx.execute(sql.INSERT, _insert_params(job))
            return True

        if not await self._transact(work):
            return False
        emit(self.listeners, JobEvent("enqueued", job.name, job.id))
        self.wake()
        return True


def _consume_outcome(task: asyncio.Task[Any]) -> None:
    # A shielded transaction whose caller was cancelled has nobody to report to;
    # reading its exception here keeps asyncio from logging it as never retrieved.
    if not task.cancelled():
        task.exception()


def _filters(
    state: JobState | None, name: str | None, tenant_id: str | None
) -> tuple[list[str], list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("tenant_id", tenant_id),
        ("state", None if state is None else state.value),
        ("name", name),
    ):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    return conditions, params
