-- The event log. ``position`` is the rowid: appends run one transaction at a time
-- under SQLite's single write lock, so position order is commit order and a reader
-- never sees position N without every position below it.
CREATE TABLE hw_events (
    position    INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    stream_id   TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    data        TEXT    NOT NULL,
    metadata    TEXT    NOT NULL,
    tenant_id   TEXT,
    recorded_at INTEGER NOT NULL,  -- microseconds since the Unix epoch, UTC
    UNIQUE (stream_id, version)
);

CREATE INDEX hw_events_by_type ON hw_events (type, position);
CREATE INDEX hw_events_by_tenant ON hw_events (tenant_id, position) WHERE tenant_id IS NOT NULL;

CREATE TABLE hw_snapshots (
    stream_id   TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    schema      TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (stream_id, version)
) WITHOUT ROWID;

CREATE TABLE hw_checkpoints (
    name        TEXT    PRIMARY KEY,
    position    INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
