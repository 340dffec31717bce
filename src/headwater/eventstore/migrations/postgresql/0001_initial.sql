-- The PostgreSQL event store. Every object lives in the store's own schema; the
-- connection's search_path names it, and functions pin it (SET search_path FROM
-- CURRENT) so they never resolve a table in some other schema.

-- The event log. There is no streams table: a stream's version and tenant are
-- those of its last event, found through the unique (stream_id, version) index.
CREATE TABLE hw_events (
    position    BIGINT      PRIMARY KEY,
    id          UUID        NOT NULL UNIQUE,
    stream_id   TEXT        NOT NULL,
    version     BIGINT      NOT NULL,
    type        TEXT        NOT NULL,
    data        JSONB       NOT NULL,
    metadata    JSONB       NOT NULL,
    tenant_id   TEXT,
    recorded_at TIMESTAMPTZ NOT NULL,
    UNIQUE (stream_id, version)
);

CREATE INDEX hw_events_by_type ON hw_events (type, position);
CREATE INDEX hw_events_by_tenant ON hw_events (tenant_id, position) WHERE tenant_id IS NOT NULL;

-- The newest position, in exactly one row. Its row lock is the append lock: see
-- hw_append_batch for why that makes position order equal commit order.
CREATE TABLE hw_head (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    position  BIGINT  NOT NULL
);
INSERT INTO hw_head (position) VALUES (0);

CREATE TABLE hw_snapshots (
    stream_id   TEXT        NOT NULL,
    version     BIGINT      NOT NULL,
    schema      TEXT        NOT NULL,
    state       JSONB       NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (stream_id, version)
);

CREATE TABLE hw_checkpoints (
    name        TEXT        PRIMARY KEY,
    position    BIGINT      NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- Append a whole group commit in one call, one round trip, no savepoints. The common
-- case runs as one set-based statement; repeated streams and reused ids take a loop.
--
-- p_batch is a JSON array of appends, in arrival order:
--   {"s": stream_id, "t": tenant_id or null,
--    "e": expected version: null = ANY, -1 = STREAM_EXISTS, n >= 0 = exactly n (0 = NO_STREAM),
--    "ev": [{"id": uuid, "type": text, "data": {...}, "m": {...}}, ...]}
-- It returns one row per append; each append succeeds or fails on its own, and a
-- failed one writes nothing:
--   ok        version = new stream version; its events are at first_position onwards
--             (one append's events always get consecutive positions)
--   replay    the same events are stored already: the original version and positions
--             (an array: a replay may span appends that others came between)
--   conflict  version = the stream's actual version (NULL when it does not exist)
--   tenant    the stream belongs to another tenant
--   id_elsewhere  event_id is stored already, in another stream
--   id_taken      event_id is stored already, in this stream, by another append
--   id_differs    event_id is stored already, in this stream, with other content
--
-- Ordering invariant (DESIGN.md §5.1): the first statement takes the row lock on
-- hw_head and the transaction holds it until it ends. Appending transactions on all
-- nodes therefore run one at a time, each numbering its events from the head the
-- previous one committed. PostgreSQL makes a commit visible before it releases the
-- committing transaction's locks, so whoever gets the lock next (and numbers above
-- it) commits strictly later: a reader can never see position N without every
-- position below N. No gaps, no timeouts, and subscribers may simply read
-- "position > last seen". Group commit keeps the lock cheap: one holder per batch.
CREATE FUNCTION hw_append_batch(p_batch JSONB, p_channel TEXT)
RETURNS TABLE (
    append_index INTEGER,
    outcome TEXT,
    stream_version BIGINT,
    first_position BIGINT,
    event_positions BIGINT[],
    event_id UUID,
    recorded_time TIMESTAMPTZ
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_head     BIGINT;
    v_start    BIGINT;
    v_now      TIMESTAMPTZ;
    v_append   JSONB;
    v_index    BIGINT;
    v_stream   TEXT;
    v_tenant   TEXT;
    v_expected BIGINT;
    v_events   JSONB;
    v_count    INTEGER;
    v_ids      UUID[];
    v_hit_id   UUID;
    v_hit_stream TEXT;
    v_hit_version BIGINT;
    v_bad_id   UUID;
    v_current  BIGINT;
    v_owner    TEXT;
    v_base     BIGINT;
    v_rows     BIGINT;
BEGIN
    SELECT h.position INTO v_head FROM hw_head h FOR UPDATE;
    v_start := v_head;
    -- Taken after the lock, so recorded_at never runs backwards along positions.
    v_now := clock_timestamp();

    -- The common case, in one set-based statement instead of several statements per
    -- append. Batches that need the loop below make it insert and return nothing:
    -- a stream twice in the batch (an append's version would depend on a
    -- neighbour's outcome) or an event id already stored (a replay or a duplicate).
    -- (An id sent twice in one batch fails the statement on the unique index; the
    -- writer then redoes the batch append by append, through the loop.)
    RETURN QUERY
    WITH appends AS (
        SELECT (b.i - 1)::INTEGER AS idx, b.a->>'s' AS stream, b.a->>'t' AS tenant,
               (b.a->>'e')::BIGINT AS expected, b.a->'ev' AS events,
               jsonb_array_length(b.a->'ev') AS n,
               count(*) OVER (PARTITION BY b.a->>'s') > 1
               -- A correlated EXISTS in a select list is one index probe per id; a
               -- join could be planned (and cached) as a hash join over the table.
               OR (SELECT bool_or(EXISTS (
                       SELECT 1 FROM hw_events e WHERE e.id = (x.ev->>'id')::UUID))
                   FROM jsonb_array_elements(b.a->'ev') AS x(ev)) AS needs_loop
        FROM jsonb_array_elements(p_batch) WITH ORDINALITY AS b(a, i)
    ), decided AS (
        -- Each append against its stream's last event (tenant first, then version,
        -- like the loop); the accepted ones numbered in batch order.
        SELECT d.*,
               v_head + 1 + COALESCE(SUM(d.n) FILTER (WHERE d.outcome = 'ok') OVER (
                   ORDER BY d.idx ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
               ), 0) AS first_position
        FROM (
            SELECT a.*, last.version AS cur,
                   CASE
                       WHEN last.version IS NOT NULL AND last.tenant_id IS DISTINCT FROM a.tenant
                           THEN 'tenant'
                       WHEN (a.expected = -1 AND last.version IS NULL)
                         OR (a.expected >= 0 AND COALESCE(last.version, 0) <> a.expected)
                           THEN 'conflict'
                       ELSE 'ok'
                   END AS outcome
            FROM appends a
            LEFT JOIN LATERAL (
                SELECT e.version, e.tenant_id FROM hw_events e
                WHERE e.stream_id = a.stream ORDER BY e.version DESC LIMIT 1
            ) last ON TRUE
            WHERE NOT (SELECT bool_or(x.needs_loop) FROM appends x)
        ) d
    ), inserted AS (
        -- A data-modifying CTE runs exactly once; "decided", used twice, is computed once.
        INSERT INTO hw_events
            (position, id, stream_id, version, type, data, metadata, tenant_id, recorded_at)
        SELECT d.first_position + x.i - 1, (x.ev->>'id')::UUID, d.stream,
               COALESCE(d.cur, 0) + x.i, x.ev->>'type', x.ev->'data',
               COALESCE(x.ev->'m', '{}'::JSONB), d.tenant, v_now
        FROM decided d, jsonb_array_elements(d.events) WITH ORDINALITY AS x(ev, i)
        WHERE d.outcome = 'ok'
    )
    SELECT d.idx, d.outcome,
           CASE WHEN d.outcome = 'ok' THEN COALESCE(d.cur, 0) + d.n ELSE d.cur END,
           CASE WHEN d.outcome = 'ok' THEN d.first_position END,
           NULL::BIGINT[],
           NULL::UUID,
           CASE WHEN d.outcome = 'ok' THEN v_now END
    FROM decided d ORDER BY d.idx;
    GET DIAGNOSTICS v_rows = ROW_COUNT;

    IF v_rows > 0 THEN
        SELECT COALESCE(MAX(e.position), v_head) INTO v_head
        FROM hw_events e WHERE e.position > v_head;
    ELSE
    FOR v_append, v_index IN
        SELECT b.a, b.i FROM jsonb_array_elements(p_batch) WITH ORDINALITY AS b(a, i)
    LOOP
        append_index := v_index - 1;
        outcome := NULL;
        stream_version := NULL;
        first_position := NULL;
        event_positions := NULL;
        event_id := NULL;
        recorded_time := NULL;
        v_stream := v_append->>'s';
        v_tenant := v_append->>'t';
        v_expected := (v_append->>'e')::BIGINT;
        v_events := v_append->'ev';
        v_count := jsonb_array_length(v_events);
        v_ids := ARRAY(
            SELECT (x.ev->>'id')::UUID
            FROM jsonb_array_elements(v_events) WITH ORDINALITY AS x(ev, i) ORDER BY x.i
        );

        -- Idempotency comes before the version check, so that a retry still returns
        -- the original result after the stream has moved on. Earlier appends of this
        -- same batch are visible here too.
        SELECT e.id, e.stream_id, e.version INTO v_hit_id, v_hit_stream, v_hit_version
        FROM hw_events e WHERE e.id = ANY (v_ids)
        ORDER BY array_position(v_ids, e.id) LIMIT 1;
        IF FOUND THEN
            IF v_hit_id <> v_ids[1] OR v_hit_stream <> v_stream THEN
                outcome := CASE WHEN v_hit_stream <> v_stream THEN 'id_elsewhere'
                                ELSE 'id_taken' END;
                event_id := v_hit_id;
                RETURN NEXT;
                CONTINUE;
            END IF;
            -- A replay: every event stored in this stream, in order, at consecutive
            -- versions, with the same type and data. The first that is not, is named.
            SELECT (x.ev->>'id')::UUID INTO v_bad_id
            FROM jsonb_array_elements(v_events) WITH ORDINALITY AS x(ev, i)
            LEFT JOIN LATERAL (
                SELECT * FROM hw_events h WHERE h.id = (x.ev->>'id')::UUID
            ) e ON TRUE
            WHERE e.id IS NULL
               OR e.stream_id <> v_stream
               OR e.version <> v_hit_version + x.i - 1
               OR e.type <> x.ev->>'type'
               OR e.data <> x.ev->'data'
            ORDER BY x.i LIMIT 1;
            IF FOUND THEN
                outcome := 'id_differs';
                event_id := v_bad_id;
            ELSE
                outcome := 'replay';
                stream_version := v_hit_version + v_count - 1;
                event_positions := ARRAY(
                    SELECT e.position FROM hw_events e
                    WHERE e.stream_id = v_stream
                      AND e.version BETWEEN v_hit_version AND v_hit_version + v_count - 1
                    ORDER BY e.version
                );
            END IF;
            RETURN NEXT;
            CONTINUE;
        END IF;

        SELECT e.version, e.tenant_id INTO v_current, v_owner
        FROM hw_events e WHERE e.stream_id = v_stream
        ORDER BY e.version DESC LIMIT 1;
        IF NOT FOUND THEN
            v_current := NULL;
        END IF;

        -- A stream belongs to the tenant of its first event, for good. Checked before
        -- the version, which would otherwise tell another tenant this stream's version.
        IF v_current IS NOT NULL AND v_owner IS DISTINCT FROM v_tenant THEN
            outcome := 'tenant';
            RETURN NEXT;
            CONTINUE;
        END IF;

        IF (v_expected = -1 AND v_current IS NULL)
           OR (v_expected >= 0 AND COALESCE(v_current, 0) <> v_expected) THEN
            outcome := 'conflict';
            stream_version := v_current;
            RETURN NEXT;
            CONTINUE;
        END IF;

        v_base := COALESCE(v_current, 0);
        INSERT INTO hw_events
            (position, id, stream_id, version, type, data, metadata, tenant_id, recorded_at)
        SELECT v_head + x.i, (x.ev->>'id')::UUID, v_stream, v_base + x.i, x.ev->>'type',
               x.ev->'data', COALESCE(x.ev->'m', '{}'::JSONB), v_tenant, v_now
        FROM jsonb_array_elements(v_events) WITH ORDINALITY AS x(ev, i);

        outcome := 'ok';
        stream_version := v_base + v_count;
        first_position := v_head + 1;
        recorded_time := v_now;
        v_head := v_head + v_count;
        RETURN NEXT;
    END LOOP;
    END IF;

    IF v_head > v_start THEN
        UPDATE hw_head SET position = v_head;
        -- Delivered to listeners only when (and if) this transaction commits.
        PERFORM pg_notify(p_channel, v_head::TEXT);
    END IF;
END;
$$;
