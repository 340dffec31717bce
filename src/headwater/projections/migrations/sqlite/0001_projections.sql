-- One row per projection: its checkpoint and what `headwater projections status` shows.
--
-- ``position`` is the checkpoint: the read model's tables reflect exactly the events
-- up to it. Runners move it in the same transaction as the rows they write, with a
-- compare-and-set (see ``fence``), so exactly one writer wins each step.
--
-- ``fence`` is always 0. A runner's commit sets it to 1 when the stored position is
-- not the one the runner expected; the CHECK then fails the whole transaction. It is
-- the one portable way to make a plain UPDATE inside a statement batch abort when a
-- rebuild (or another instance of the runner) moved the checkpoint under it.
--
-- ``rebuild_token`` names the rebuild that holds the claim; its commits check it
-- through ``fence`` too, so a rebuild that lost its claim can no longer write.
--
-- Times are microseconds since the Unix epoch, UTC, like the event store's.
CREATE TABLE hw_projections (
    name                 TEXT    PRIMARY KEY,
    mode                 TEXT    NOT NULL,
    position             INTEGER NOT NULL DEFAULT 0,
    fence                INTEGER NOT NULL DEFAULT 0 CHECK (fence = 0),
    generation           INTEGER NOT NULL DEFAULT 0,
    fingerprint          TEXT    NOT NULL,
    state                TEXT    NOT NULL DEFAULT 'stopped',
    last_error           TEXT,
    last_error_at        INTEGER,
    heartbeat_at         INTEGER,
    rebuild_token        TEXT,
    rebuild_heartbeat_at INTEGER,
    rebuild_position     INTEGER,
    rebuild_target       INTEGER,
    updated_at           INTEGER NOT NULL
) WITHOUT ROWID;

-- Events a projection could not apply after its retries: parked with the error, and
-- skipped, so that one bad event never stops the events after it.
CREATE TABLE hw_poison_events (
    projection  TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    event_id    TEXT    NOT NULL,
    stream_id   TEXT    NOT NULL,
    event_type  TEXT    NOT NULL,
    error       TEXT    NOT NULL,
    attempts    INTEGER NOT NULL,
    parked_at   INTEGER NOT NULL,
    PRIMARY KEY (projection, position)
) WITHOUT ROWID;
