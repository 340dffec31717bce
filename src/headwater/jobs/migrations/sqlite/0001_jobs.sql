-- The durable job queue, in the same database file as the events, so that a job can
-- be enqueued in the very transaction that appends the events causing it.
-- Times are microseconds since the Unix epoch (UTC), like the event store's.
CREATE TABLE hw_jobs (
    -- FIFO order among jobs of equal priority and run time; ids are random.
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('scheduled', 'queued', 'running', 'failed', 'succeeded', 'dead')),
    priority INTEGER NOT NULL DEFAULT 0,
    run_at INTEGER NOT NULL,
    -- Runs started so far; also the fencing token of the current run's lease.
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    backoff TEXT NOT NULL,
    dedupe_key TEXT,
    tenant_id TEXT,
    lease_owner TEXT,
    lease_expires_at INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER
);

-- At most one unfinished job per dedupe key; a finished one frees the key.
CREATE UNIQUE INDEX hw_jobs_dedupe ON hw_jobs (dedupe_key)
    WHERE state IN ('scheduled', 'queued', 'running', 'failed');

-- The claim query's scan: waiting jobs in claim order.
CREATE INDEX hw_jobs_waiting ON hw_jobs (priority DESC, run_at, seq)
    WHERE state IN ('scheduled', 'queued', 'failed');

-- The earliest future run time, which idle workers sleep until.
CREATE INDEX hw_jobs_due ON hw_jobs (run_at)
    WHERE state IN ('scheduled', 'queued', 'failed');

-- The lease reaper's scan.
CREATE INDEX hw_jobs_leases ON hw_jobs (lease_expires_at) WHERE state = 'running';

-- Listing by state (newest first) and counting by state.
CREATE INDEX hw_jobs_state ON hw_jobs (state, seq);

-- Pruning old successes.
CREATE INDEX hw_jobs_succeeded ON hw_jobs (finished_at) WHERE state = 'succeeded';

-- The last period each periodic schedule enqueued: one row per schedule, advanced by
-- compare-and-set, so only one node enqueues a given period.
CREATE TABLE hw_job_periods (
    name TEXT PRIMARY KEY,
    last_period INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
