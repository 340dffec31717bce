-- Group commit with inline handlers in one round trip.
--
-- An inline handler turns an append's recorded events into SQL. Its statements used
-- to run after the append's insert, one client round trip each, while the append
-- lock (hw_head) was held, so one slow connection stalled every node. Now the writer
-- runs the handlers before it sends anything, and hands the statements to
-- hw_append_handled with the batch: the lock is held for server-side work only.
--
-- What the server assigns (an event's position, version and recorded_at) is not
-- known when the handlers run, so the writer sends each statement as parts: SQL text
-- with every other value already a literal, and slots that this function fills in
-- once the append has its place in the log (see postgres_handlers.py for how the
-- writer finds them). A slot is [kind, k]: 'p' the position of the append's k-th
-- event, 'v' its version, 't' recorded_at as timestamptz, 'u' recorded_at in
-- microseconds since the epoch, computed as Python's
-- int(recorded_at.timestamp() * 1_000_000) (double precision, truncated).

-- Which set of inline handlers an append was prepared with. A projection rebuild
-- bumps it in the transaction that pauses appends and attaches the new handler: an
-- append prepared before that commit carries an older epoch and is sent back to be
-- prepared again, so no event committed after the swap misses the new handler.
ALTER TABLE hw_head ADD COLUMN handlers_epoch BIGINT NOT NULL DEFAULT 0;

-- PL/pgSQL, walking the parts by index: every step is a simple expression, where a
-- LANGUAGE sql body would be planned again on every call from PL/pgSQL.
CREATE FUNCTION hw_render(p_parts JSONB, p_first BIGINT, p_version BIGINT, p_now TIMESTAMPTZ)
RETURNS TEXT
LANGUAGE plpgsql
STABLE
AS $$
DECLARE
    v_sql  TEXT := '';
    v_part JSONB;
    v_kind TEXT;
BEGIN
    FOR i IN 0 .. jsonb_array_length(p_parts) - 1 LOOP
        v_part := p_parts->i;
        IF jsonb_typeof(v_part) = 'string' THEN
            v_sql := v_sql || (v_part #>> '{}');
            CONTINUE;
        END IF;
        v_kind := v_part->>0;
        IF v_kind = 'p' THEN
            v_sql := v_sql || (p_first + (v_part->>1)::BIGINT)::TEXT;
        ELSIF v_kind = 'v' THEN
            v_sql := v_sql || (p_version + (v_part->>1)::BIGINT)::TEXT;
        ELSIF v_kind = 't' THEN
            -- Spelled out, so neither DateStyle nor TimeZone can change the text.
            v_sql := v_sql || quote_literal(to_char(p_now AT TIME ZONE 'UTC',
                                                    'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'))
                           || '::timestamptz';
        ELSIF v_kind = 'u' THEN
            v_sql := v_sql || trunc(((extract(epoch FROM p_now) * 1000000)::BIGINT::FLOAT8
                                     / 1000000) * 1000000)::BIGINT::TEXT;
        ELSE
            RAISE EXCEPTION 'unknown slot %', v_part;
        END IF;
    END LOOP;
    RETURN v_sql;
END;
$$;

-- p_batch is hw_append_batch's, and each append may also carry
--   "q": [statement parts, ...]   its handlers' statements, run only if it is 'ok'
--   "h": handlers epoch            the epoch it was prepared with
-- It returns hw_append_batch's rows and three more columns. New outcomes:
--   stale    prepared with an older set of handlers: nothing written, prepare again
--   handler  one of its statements failed (error_state, error_message): nothing written
-- handlers_epoch is the current epoch, for the writer's next preparations.
--
-- Ordering: hw_append_batch takes the hw_head lock first and this transaction holds
-- it until it commits (see 0001 for why that makes position order commit order).
CREATE FUNCTION hw_append_handled(p_batch JSONB, p_channel TEXT)
RETURNS TABLE (
    append_index INTEGER,
    outcome TEXT,
    stream_version BIGINT,
    first_position BIGINT,
    event_positions BIGINT[],
    event_id UUID,
    recorded_time TIMESTAMPTZ,
    error_state TEXT,
    error_message TEXT,
    handlers_epoch BIGINT
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_epoch   BIGINT;
    v_rows    JSONB := '[]'::JSONB;
    v_row     RECORD;
    v_append  JSONB;
    v_index   BIGINT;
    v_stmts   JSONB;
    v_state   TEXT;
    v_message TEXT;
BEGIN
    SELECT h.handlers_epoch INTO v_epoch FROM hw_head h FOR UPDATE;

    IF NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements(p_batch) AS b(a)
        WHERE (b.a->>'h')::BIGINT IS DISTINCT FROM v_epoch OR jsonb_array_length(b.a->'q') > 0
    ) THEN
        -- No statements to run (no inline handler had any): exactly hw_append_batch.
        RETURN QUERY SELECT r.*, NULL::TEXT, NULL::TEXT, v_epoch
                     FROM hw_append_batch(p_batch, p_channel) AS r;
        RETURN;
    END IF;

    -- The common case: every append prepared with the current handlers. The whole
    -- batch and every statement run in one subtransaction; if any statement fails,
    -- it is undone and the loop below redoes the batch append by append.
    IF NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements(p_batch) AS b(a)
        WHERE (b.a->>'h')::BIGINT IS DISTINCT FROM v_epoch
    ) THEN
        BEGIN
            FOR v_row IN SELECT * FROM hw_append_batch(p_batch, p_channel) LOOP
                IF v_row.outcome = 'ok' THEN
                    v_append := p_batch->v_row.append_index;
                    v_stmts := COALESCE(v_append->'q', '[]'::JSONB);
                    FOR j IN 0 .. jsonb_array_length(v_stmts) - 1 LOOP
                        EXECUTE hw_render(
                            v_stmts->j, v_row.first_position,
                            v_row.stream_version - jsonb_array_length(v_append->'ev') + 1,
                            v_row.recorded_time);
                    END LOOP;
                END IF;
                v_rows := v_rows || jsonb_build_array(to_jsonb(v_row));
            END LOOP;
        EXCEPTION WHEN OTHERS THEN
            v_rows := NULL;
        END;
        IF v_rows IS NOT NULL THEN
            RETURN QUERY
            SELECT (r->>'append_index')::INTEGER, r->>'outcome',
                   (r->>'stream_version')::BIGINT, (r->>'first_position')::BIGINT,
                   ARRAY(SELECT jsonb_array_elements_text(
                       CASE jsonb_typeof(r->'event_positions') WHEN 'array'
                            THEN r->'event_positions' ELSE '[]'::JSONB END)::BIGINT),
                   (r->>'event_id')::UUID, (r->>'recorded_time')::TIMESTAMPTZ,
                   NULL::TEXT, NULL::TEXT, v_epoch
            FROM jsonb_array_elements(v_rows) AS x(r);
            RETURN;
        END IF;
    END IF;

    -- Append by append, each with its statements in its own subtransaction, so that
    -- one failing statement fails its own append only.
    FOR v_append, v_index IN
        SELECT b.a, b.i FROM jsonb_array_elements(p_batch) WITH ORDINALITY AS b(a, i)
    LOOP
        IF (v_append->>'h')::BIGINT IS DISTINCT FROM v_epoch THEN
            RETURN QUERY SELECT (v_index - 1)::INTEGER, 'stale'::TEXT, NULL::BIGINT,
                NULL::BIGINT, NULL::BIGINT[], NULL::UUID, NULL::TIMESTAMPTZ, NULL::TEXT,
                NULL::TEXT, v_epoch;
            CONTINUE;
        END IF;
        BEGIN
            SELECT * INTO v_row FROM hw_append_batch(jsonb_build_array(v_append), p_channel);
            IF v_row.outcome = 'ok' THEN
                v_stmts := COALESCE(v_append->'q', '[]'::JSONB);
                FOR j IN 0 .. jsonb_array_length(v_stmts) - 1 LOOP
                    EXECUTE hw_render(
                        v_stmts->j, v_row.first_position,
                        v_row.stream_version - jsonb_array_length(v_append->'ev') + 1,
                        v_row.recorded_time);
                END LOOP;
            END IF;
            RETURN QUERY SELECT (v_index - 1)::INTEGER, v_row.outcome, v_row.stream_version,
                v_row.first_position, v_row.event_positions, v_row.event_id,
                v_row.recorded_time, NULL::TEXT, NULL::TEXT, v_epoch;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
            RETURN QUERY SELECT (v_index - 1)::INTEGER, 'handler'::TEXT, NULL::BIGINT,
                NULL::BIGINT, NULL::BIGINT[], NULL::UUID, NULL::TIMESTAMPTZ, v_state,
                v_message, v_epoch;
        END;
    END LOOP;
END;
$$;
