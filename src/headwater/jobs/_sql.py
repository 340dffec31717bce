"""The job queue's SQL, shared by SQLite and PostgreSQL, with every difference here.

The statements use ``?`` placeholders (the PostgreSQL store rewrites them) and SQL
that both databases run: CTEs, ``UPDATE ... FROM``, ``RETURNING``, row values and
``ON CONFLICT ... WHERE`` on a partial index. The one real difference is how two
claimers are kept from taking the same job:

* PostgreSQL: ``FOR UPDATE SKIP LOCKED`` in the claim's CTE. Each claimer locks the
  rows it picks and skips rows another claimer holds, so claimers never wait on each
  other and never pick the same row. Under READ COMMITTED a row that was waiting in
  this statement's snapshot but claimed (and committed) meanwhile is re-checked
  against the WHERE clause once locked, and dropped, since it is no longer waiting.
* SQLite: one writer at a time (``BEGIN IMMEDIATE`` on the store's writer thread,
  the file lock across processes), so a claim sees every earlier claim; no row locks
  exist or are needed.

Every state change is guarded by its source states (from ``job.TRANSITIONS``), and
every change to a running job by ``(id, attempts, lease_owner)``: ``attempts`` grows
with each claim, so it fences off a worker whose lease lapsed. Its late success or
failure matches no row and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from headwater.eventstore._protocol import Dialect
from headwater.jobs._job import UNFINISHED, WAITING, JobState, check_transition, sources_of

COLUMNS: Final = (
    "id, name, payload, state, priority, run_at, attempts, max_attempts, backoff, "
    "dedupe_key, tenant_id, last_error, created_at, updated_at, started_at, finished_at, "
    "lease_owner, lease_expires_at, traceparent"
)


def in_list(states: Sequence[JobState]) -> str:
    """A literal ``IN`` list of states (our own constants, never user input)."""
    return "(" + ", ".join(f"'{state.value}'" for state in states) + ")"


def placeholders(count: int) -> str:
    return ", ".join("?" * count)


WAITING_SQL: Final = in_list(WAITING)
UNFINISHED_SQL: Final = in_list(UNFINISHED)

# Without a conflict target, DO NOTHING covers both unique indexes: the id (the same
# enqueue again, e.g. a retried request or a replayed event: idempotent) and the dedupe
# key of an unfinished job. Either way the job that stands is found by EXISTING.
INSERT: Final = (
    "INSERT INTO hw_jobs (id, name, payload, state, priority, run_at, attempts, "
    "max_attempts, backoff, dedupe_key, tenant_id, created_at, updated_at, traceparent) "
    "VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)

FIND_UNFINISHED_BY_KEY: Final = (
    f"SELECT id FROM hw_jobs WHERE dedupe_key = ? AND state IN {UNFINISHED_SQL}"
)

#: Parameters: id, dedupe_key. The id wins: it names this very enqueue.
EXISTING: Final = (
    "SELECT id FROM hw_jobs WHERE id = ? "
    f"UNION ALL SELECT id FROM hw_jobs WHERE dedupe_key = ? AND state IN {UNFINISHED_SQL}"
)


def claim(dialect: Dialect, names: int) -> str:
    """Claim up to ``?`` due jobs of the given names, in priority, due-time, FIFO order.

    Parameters: now, *names, limit, owner, lease_expires_at, now, now.
    """
    for source in WAITING:
        check_transition(source, JobState.RUNNING)
    lock = " FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""
    return (
        "WITH picked AS ("
        f"SELECT seq FROM hw_jobs WHERE state IN {WAITING_SQL} AND run_at <= ? "
        f"AND name IN ({placeholders(names)}) "
        f"ORDER BY priority DESC, run_at, seq LIMIT ?{lock}) "
        "UPDATE hw_jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?, "
        "lease_expires_at = ?, started_at = ?, updated_at = ? "
        f"FROM picked WHERE hw_jobs.seq = picked.seq RETURNING {COLUMNS}"
    )


NEXT_DUE: Final = f"SELECT MIN(run_at) FROM hw_jobs WHERE state IN {WAITING_SQL} AND run_at > ?"


def reap(dialect: Dialect) -> str:
    """Running jobs whose lease lapsed: FAILED (to run again now) or DEAD if none left.

    Parameters: now (expired before), limit, now (run_at), now (updated_at), now
    (finished_at). SKIP LOCKED lets reapers on several nodes share the work without waiting.
    """
    check_transition(JobState.RUNNING, JobState.FAILED)
    check_transition(JobState.RUNNING, JobState.DEAD)
    lock = " FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""
    return (
        "WITH lapsed AS ("
        "SELECT seq FROM hw_jobs WHERE state = 'running' AND lease_expires_at <= ? "
        f"ORDER BY lease_expires_at LIMIT ?{lock}) "
        "UPDATE hw_jobs SET "
        "state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'failed' END, "
        "run_at = ?, updated_at = ?, "
        "finished_at = CASE WHEN attempts >= max_attempts THEN ? ELSE NULL END, "
        "last_error = 'lease expired: worker ' || COALESCE(lease_owner, '?') "
        "|| ' stopped renewing it (killed, stalled or cut off)', "
        "lease_owner = NULL, lease_expires_at = NULL "
        "FROM lapsed WHERE hw_jobs.seq = lapsed.seq RETURNING id, name, state, attempts"
    )


def _runs(count: int) -> str:
    # Row values: (id, attempts) pairs identify runs, not just jobs.
    return f"(id, attempts) IN (VALUES {', '.join(['(?, ?)'] * count)})"


def renew(runs: int) -> str:
    """Extend the leases of this owner's runs that have not lapsed.

    Parameters: lease_expires_at, now, owner, now, *(id, attempt) pairs. A lease
    that lapsed stays lapsed even if nobody reaped it yet: the worker's own deadline
    cancelled the run by then, so renewing it would protect nothing.
    """
    return (
        "UPDATE hw_jobs SET lease_expires_at = ?, updated_at = ? "
        "WHERE state = 'running' AND lease_owner = ? AND lease_expires_at > ? "
        f"AND {_runs(runs)} RETURNING id"
    )


def succeed(runs: int) -> str:
    """Parameters: now, now, owner, *(id, attempt) pairs."""
    check_transition(JobState.RUNNING, JobState.SUCCEEDED)
    return (
        "UPDATE hw_jobs SET state = 'succeeded', finished_at = ?, updated_at = ?, "
        "lease_owner = NULL, lease_expires_at = NULL "
        f"WHERE state = 'running' AND lease_owner = ? AND {_runs(runs)} RETURNING id"
    )


def settle(target: JobState) -> str:
    """Move one run to FAILED, DEAD or (released) QUEUED.

    Parameters: run_at, last_error, now (updated), finished_at, attempt delta,
    id, attempt, owner. A released run gives its attempt back (delta -1): it was
    interrupted by our shutdown, not failed by the job.
    """
    check_transition(JobState.RUNNING, target)
    return (
        f"UPDATE hw_jobs SET state = '{target.value}', run_at = ?, "
        "last_error = COALESCE(?, last_error), updated_at = ?, finished_at = ?, "
        "attempts = attempts + ?, lease_owner = NULL, lease_expires_at = NULL "
        "WHERE id = ? AND attempts = ? AND state = 'running' AND lease_owner = ?"
    )


def retry() -> str:
    """A dead (or failed) job back to QUEUED, due now, with its attempts reset.

    Parameters: now (run_at), now (updated), id.
    """
    sources = tuple(s for s in sources_of(JobState.QUEUED) if s is not JobState.RUNNING)
    return (
        "UPDATE hw_jobs SET state = 'queued', run_at = ?, attempts = 0, updated_at = ?, "
        "finished_at = NULL, lease_owner = NULL, lease_expires_at = NULL "
        f"WHERE id = ? AND state IN {in_list(sources)}"
    )


# Compare-and-set of a schedule's last period: the row changes (rowcount 1) only for
# the first node to reach a newer period; under PostgreSQL's row lock a second node
# waits, then re-checks the WHERE clause and changes nothing.
CLAIM_PERIOD: Final = (
    "INSERT INTO hw_job_periods (name, last_period, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET last_period = excluded.last_period, "
    "updated_at = excluded.updated_at WHERE hw_job_periods.last_period < excluded.last_period"
)

PRUNE: Final = "DELETE FROM hw_jobs WHERE state = 'succeeded' AND finished_at < ?"
DEPTH: Final = "SELECT state, COUNT(*) FROM hw_jobs GROUP BY state"

#: Per name, jobs due and waiting, and the earliest due time among them (the
#: ``hw_jobs_due`` index covers the scan). Parameter: now.
READY: Final = (
    f"SELECT name, COUNT(*), MIN(run_at) FROM hw_jobs WHERE state IN {WAITING_SQL} "
    "AND run_at <= ? GROUP BY name"
)


def select(where: str = "", suffix: str = "") -> str:
    return f"SELECT {COLUMNS} FROM hw_jobs{' WHERE ' + where if where else ''}{suffix}"


def flatten(pairs: Sequence[tuple[str, int]]) -> list[Any]:
    return [value for pair in pairs for value in pair]
