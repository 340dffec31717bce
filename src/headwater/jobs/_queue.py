"""The job-queue interface: what apps call (enqueue, inspect, retry) and what workers call.

:class:`JobQueue` validates every argument before any I/O and reports what happens to
its listeners; a backend supplies the storage primitives. ``SqlJobQueue`` (SQLite and
PostgreSQL, in the event store's own database) is the one backend today;
``headwater.testing._jobs.JobQueueContract`` is the suite every backend passes.
"""

from __future__ import annotations

import abc
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from headwater.cursors import ListQuery, Order, Sorts, Total
from headwater.errors import InvalidJob, JobNotFound
from headwater.eventstore._notifier import Notifier
from headwater.eventstore._protocol import EventStore
from headwater.eventstore._records import RecordedEvent
from headwater.eventstore._sql import Statement
from headwater.identity._trace import TRACEPARENT_KEY
from headwater.jobs._job import Backoff, Job, JobState, NewJob, new_job
from headwater.jobs._metrics import JobEvent, Listener, emit


def wall_micros() -> int:
    """Now, in microseconds since the epoch: the clock every node's leases use.

    Nodes sharing a PostgreSQL database need clocks synchronised (NTP) to well
    within a lease's safety margin; see ``WorkerOptions.lease_margin``.
    """
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class Claim:
    """Jobs a worker now runs, and when the next waiting job falls due (if known)."""

    jobs: list[Job]
    next_due: int | None = None


@dataclass(frozen=True, slots=True)
class Settlement:
    """How one run ended: FAILED (retry at ``run_at``), DEAD, or QUEUED (released)."""

    job_id: str
    attempt: int
    target: JobState
    run_at: int
    error: str | None = None


#: Namespace of the job ids that triggers derive from event ids: an event replayed
#: (same id) yields the same job id, and a job per trigger per event at most.
_TRIGGER_NAMESPACE: Final = uuid.UUID("6f1c2d9e-5a43-4bd1-9b8e-0c7a3e2f4d11")


#: The orders a job list can take: public name -> column. ``seq`` breaks ties (and is
#: the creation order); each has an index (migration 0003), alone and under a tenant.
JOB_SORTS: Final = Sorts(
    columns={"created": "seq", "updated": "updated_at", "attempts": "attempts"},
    default="created",
    tiebreak="seq",
    order="desc",
)


def _parse_state(state: JobState | str | None) -> JobState | None:
    if state is None:
        return None
    try:
        return JobState(state)
    except ValueError as exc:
        raise InvalidJob(f"unknown job state {state!r}") from exc


def _event_traceparent(event: RecordedEvent) -> str | None:
    found = event.metadata.get(TRACEPARENT_KEY)
    return found if isinstance(found, str) else None


PayloadFn = Callable[[RecordedEvent], Mapping[str, Any] | None]
KeyFn = Callable[[RecordedEvent], str | None]


@dataclass(frozen=True, slots=True)
class Trigger:
    """Enqueue job ``name`` for every appended event of type ``event_type``."""

    event_type: str
    name: str
    #: The job's payload from the event (default: the event's data); None skips it.
    payload: PayloadFn | None = None
    dedupe_key: KeyFn | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


class JobQueue(abc.ABC):
    """A durable queue of named jobs with JSON payloads."""

    def __init__(self, store: EventStore, *, clock: Callable[[], int] | None = None) -> None:
        #: The event store whose database holds the jobs.
        self.store = store
        self.triggers: list[Trigger] = []
        self._attached = False
        self.listeners: list[Listener] = []
        #: Wakes this process's workers when it enqueues; other processes poll.
        self.notifier = Notifier()
        self._clock = clock or wall_micros

    def now(self) -> int:
        return self._clock()

    # --- enqueueing -----------------------------------------------------------------

    async def enqueue(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        attempts: int = 3,
        backoff: Backoff | str = "exponential",
        delay: timedelta | float | None = None,
        run_at: datetime | None = None,
        priority: int = 0,
        dedupe_key: str | None = None,
        tenant_id: str | None = None,
        job_id: str | uuid.UUID | None = None,
        traceparent: str | None = None,
    ) -> str:
        """Store a job; return its id.

        ``attempts`` is the most runs it gets; ``priority``: higher runs first;
        ``delay`` or ``run_at``: not before then. While a job with the same
        ``dedupe_key`` is unfinished, that job's id is returned and nothing is added;
        the same ``job_id`` twice stores one job, so a retried request is harmless.
        ``traceparent``: the trace the job's runs continue (default: the current one;
        pass an event's ``metadata["traceparent"]`` when enqueuing for that event).
        """
        job = new_job(
            name,
            payload,
            now=self.now(),
            attempts=attempts,
            backoff=backoff,
            delay=delay,
            run_at=run_at,
            priority=priority,
            dedupe_key=dedupe_key,
            tenant_id=tenant_id,
            job_id=job_id,
            traceparent=traceparent,
        )
        stored_id, inserted = await self._insert(job)
        if inserted:
            emit(self.listeners, JobEvent("enqueued", job.name, stored_id))
            self.wake()
        return stored_id

    async def enqueue_many(
        self, name: str, payloads: Iterable[Mapping[str, Any]], **options: Any
    ) -> list[str]:
        """Store many jobs of one name in one transaction (no ``dedupe_key``/``job_id``)."""
        if "dedupe_key" in options or "job_id" in options:
            raise InvalidJob("enqueue_many takes no dedupe_key or job_id; use enqueue")
        now = self.now()
        jobs = [new_job(name, payload, now=now, **options) for payload in payloads]
        if jobs:
            await self._insert_many(jobs)
            for job in jobs:
                emit(self.listeners, JobEvent("enqueued", job.name, job.id))
            self.wake()
        return [job.id for job in jobs]

    def enqueue_statement(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Statement:
        """The SQL that enqueues this job, to run in *your* transaction.

        Return it from an inline handler (``store.add_inline_handler``) or pass it to
        ``store.commit``: the job exists if and only if that transaction commits.
        Pass ``job_id=`` to know the id. If that id exists already, or an unfinished
        job holds the ``dedupe_key``, the statement inserts nothing and that job stands.
        """
        return self._insert_statement(new_job(name, payload, now=self.now(), **options))

    def enqueue_on(
        self,
        event_type: str,
        name: str,
        *,
        payload: PayloadFn | None = None,
        dedupe_key: KeyFn | None = None,
        **options: Any,
    ) -> Trigger:
        """Enqueue ``name`` in the same transaction as every ``event_type`` event appended.

        Takes effect once :meth:`attach` has hooked the queue into the store.
        ``options`` are :meth:`enqueue`'s (attempts, backoff, delay, priority); the
        job id derives from the event id, and the tenant is the event's.
        """
        if not isinstance(event_type, str) or not event_type:
            raise InvalidJob("event_type must be a non-empty string")
        bad = set(options) - {"attempts", "backoff", "delay", "priority"}
        if bad:
            raise InvalidJob(f"enqueue_on does not take {sorted(bad)}")
        # Validate name and options now, not inside someone's append later.
        new_job(name, {}, now=self.now(), **options)
        trigger = Trigger(event_type, name, payload, dedupe_key, dict(options))
        self.triggers.append(trigger)
        return trigger

    def attach(self) -> None:
        """Run the triggers inside every append of the store (idempotent)."""
        if not self._attached:
            self.store.add_inline_handler(self._jobs_for_events)
            self._attached = True

    def detach(self) -> None:
        if self._attached:
            self.store.remove_inline_handler(self._jobs_for_events)
            self._attached = False

    def _jobs_for_events(self, events: Sequence[RecordedEvent]) -> list[Statement]:
        """The inline handler: pure, it only builds statements (it may run on the
        SQLite writer thread, inside the append's transaction)."""
        statements: list[Statement] = []
        for trigger in self.triggers:
            for event in events:
                if event.type != trigger.event_type:
                    continue
                payload = event.data if trigger.payload is None else trigger.payload(event)
                if payload is None:
                    continue
                job = new_job(
                    trigger.name,
                    payload,
                    now=self.now(),
                    dedupe_key=None if trigger.dedupe_key is None else trigger.dedupe_key(event),
                    tenant_id=event.tenant_id,
                    job_id=uuid.uuid5(_TRIGGER_NAMESPACE, f"{event.id}/{trigger.name}"),
                    # The event's trace, not the appender's current one: the same here,
                    # but an event appended outside a request may still carry one.
                    traceparent=_event_traceparent(event),
                    **trigger.options,
                )
                statements.append(self._insert_statement(job))
        if statements:
            # Once the jobs have committed: a wake-up sent from here would reach the
            # workers before they can claim anything.
            self.store.after_commit(self.wake)
        return statements

    def wake(self) -> None:
        """Tell this process's idle workers to look for work now."""
        self.notifier.notify()

    # --- inspecting and repairing ---------------------------------------------------

    async def require(self, job_id: str) -> Job:
        job = await self.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    async def list_jobs(
        self,
        *,
        state: JobState | str | None = None,
        name: str | None = None,
        tenant_id: str | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """Jobs, newest first, optionally of one state, name and/or tenant."""
        keyed = await self.keyed_jobs(state=state, name=name, tenant_id=tenant_id, limit=limit)
        return [job for job, _ in keyed]

    async def keyed_jobs(
        self,
        *,
        state: JobState | str | None = None,
        name: str | None = None,
        tenant_id: str | None = None,
        limit: int = 100,
        sort: str = JOB_SORTS.default,
        order: Order = JOB_SORTS.order,
        after: Sequence[Any] | None = None,
    ) -> list[tuple[Job, list[Any]]]:
        """One keyset page of jobs in ``sort`` order (a column of :data:`JOB_SORTS`),
        each with its key (sort value, tiebreak): pass the last one as ``after`` for
        the next page."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidJob("limit must be an integer from 1 to 10000")
        if sort not in JOB_SORTS.columns or order not in JOB_SORTS.orders:
            raise InvalidJob(f"jobs cannot be listed by {sort!r} {order!r}")
        if after is not None and len(after) != 2:
            raise InvalidJob("after must be a (sort value, tiebreak) pair")
        query = ListQuery(sorts=JOB_SORTS, sort=sort, order=order, total=False)
        return await self._list_jobs(_parse_state(state), name, tenant_id, limit, query, after)

    async def count_jobs(
        self,
        *,
        state: JobState | str | None = None,
        name: str | None = None,
        tenant_id: str | None = None,
    ) -> Total:
        """How many jobs match: exact up to ``headwater.cursors.EXACT_TOTAL_CAP``."""
        return await self._count_jobs(_parse_state(state), name, tenant_id)

    async def retry(self, job_id: str) -> Job:
        """Run a DEAD (or waiting FAILED) job again now, with its attempts reset.

        Raises ``IllegalJobTransition`` for any other state. If another unfinished job
        holds the same dedupe key meanwhile, that job is returned and this one stays.
        """
        result = await self._retry(job_id)
        if result.state is JobState.QUEUED:
            self.wake()
        return result

    # --- what a backend supplies ----------------------------------------------------

    @abc.abstractmethod
    async def migrate(self) -> list[str]:
        """Create or upgrade the job tables; return the migrations applied now."""

    @abc.abstractmethod
    async def _insert(self, job: NewJob) -> tuple[str, bool]:
        """Store ``job`` unless its dedupe key is taken: (the stored id, inserted?)."""

    @abc.abstractmethod
    async def _insert_many(self, jobs: Sequence[NewJob]) -> None: ...

    @abc.abstractmethod
    def _insert_statement(self, job: NewJob) -> Statement: ...

    @abc.abstractmethod
    async def get(self, job_id: str) -> Job | None: ...

    @abc.abstractmethod
    async def _list_jobs(
        self,
        state: JobState | None,
        name: str | None,
        tenant_id: str | None,
        limit: int,
        query: ListQuery,
        after: Sequence[Any] | None,
    ) -> list[tuple[Job, list[Any]]]: ...

    @abc.abstractmethod
    async def _count_jobs(
        self, state: JobState | None, name: str | None, tenant_id: str | None
    ) -> Total: ...

    @abc.abstractmethod
    async def _retry(self, job_id: str) -> Job: ...

    @abc.abstractmethod
    async def depth(self) -> dict[str, int]:
        """How many jobs are in each state, across every node."""

    @abc.abstractmethod
    async def ready(self) -> dict[str, tuple[int, float]]:
        """Per job name, the jobs due and waiting now, across every node, and the
        seconds the longest-waiting of them has been due: ``{name: (count, age)}``."""

    @abc.abstractmethod
    async def prune(self, older_than: timedelta) -> int:
        """Delete jobs that succeeded longer ago than ``older_than``; return how many."""

    # Worker primitives. Leases are in seconds; ``owner`` names the worker.

    @abc.abstractmethod
    async def claim(self, names: Sequence[str], *, owner: str, lease: float, limit: int) -> Claim:
        """Move up to ``limit`` due jobs of ``names`` to RUNNING, leased to ``owner``.

        No job is ever claimed by two owners at once: a run is valid until its lease
        lapses, and then only after the lapse is reaped can the job be claimed again.
        """

    @abc.abstractmethod
    async def renew(self, owner: str, runs: Sequence[tuple[str, int]], lease: float) -> set[str]:
        """Extend the leases of ``(job id, attempt)`` runs; return the ids still held."""

    @abc.abstractmethod
    async def succeed(self, owner: str, runs: Sequence[tuple[str, int]]) -> set[str]:
        """Mark runs SUCCEEDED; return the ids this owner still held (others: lease lost)."""

    @abc.abstractmethod
    async def settle(self, owner: str, settlements: Sequence[Settlement]) -> set[str]:
        """Record failed, dead or released runs; return the ids this owner still held."""

    @abc.abstractmethod
    async def reap(self, limit: int = 100) -> list[tuple[str, str, JobState]]:
        """Expire lapsed leases: (id, name, new state) of each job taken back."""

    @abc.abstractmethod
    async def claim_period(self, schedule: str, period: int, job: NewJob) -> bool:
        """Enqueue ``job`` if ``schedule`` has not enqueued ``period`` or a later one yet.

        Atomic across nodes: of many callers for one period, exactly one gets True.
        """
