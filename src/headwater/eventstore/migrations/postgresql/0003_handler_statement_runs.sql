-- Inline handlers' statements at group-commit speed.
--
-- 0002 sent each statement as SQL text with slots and ran it with its own EXECUTE:
-- every one parsed and planned apart, about 40 microseconds each, which for a
-- projection that writes one row per append cost more than the append itself. Two
-- changes here:
--
-- * A statement now travels as [mergeable, texts, arguments]: the SQL text around
--   each placeholder, and one argument per placeholder (an SQL literal, or a slot as
--   in 0002: [kind, k]). Consecutive statements of one single-row
--   "INSERT ... VALUES (...)" form (the writer says which are: mergeable = 1) run as
--   one multi-row INSERT, so a group commit of 32 appends that each upsert a read
--   model row runs one statement, not 32. Consecutive only, so the order in which
--   the statements take effect is the order they were written in. A multi-row
--   statement can fail where its rows one at a time would not (an upsert that
--   reaches the same row twice): the group's statements are then run again, one at
--   a time, before anything is blamed on one append.
-- * hw_append_handled keeps the result rows in an array of hw_append_row, not in a
--   JSONB value rebuilt for every append.
--
-- Same outcomes, same atomicity: every statement commits with its append's events;
-- if one fails, its append alone fails ('handler'), as in 0002.

DROP FUNCTION hw_render(JSONB, BIGINT, BIGINT, TIMESTAMPTZ);

-- hw_append_batch's result row, as a type that arrays can hold.
CREATE TYPE hw_append_row AS (
    append_index INTEGER,
    outcome TEXT,
    stream_version BIGINT,
    first_position BIGINT,
    event_positions BIGINT[],
    event_id UUID,
    recorded_time TIMESTAMPTZ
);

-- Runs the statements of the appends in p_rows that are 'ok', in order; with
-- p_merge, consecutive mergeable statements with the same texts as one INSERT.
-- Slots as in 0002: 'p' the position of the append's k-th event, 'v' its version,
-- 't' recorded_at as timestamptz, 'u' recorded_at in microseconds since the epoch,
-- as Python's int(recorded_at.timestamp() * 1_000_000) computes it. One function,
-- walked by index with simple expressions only: a call per statement or per
-- argument would cost more than the rendering.
CREATE FUNCTION hw_run_statements(p_batch JSONB, p_rows hw_append_row[], p_merge BOOLEAN)
RETURNS VOID
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_row     hw_append_row;
    v_append  JSONB;
    v_stmts   JSONB;
    v_stmt    JSONB;
    v_texts   JSONB;
    v_args    JSONB;
    v_arg     JSONB;
    v_kind    TEXT;
    v_text    TEXT;
    v_version BIGINT;
    v_row_sql TEXT;
    v_sql     TEXT;
    v_last    INTEGER;
    -- The multi-row INSERT being built: its text so far (up to its last row's
    -- closing parenthesis), the texts it was built from, and what follows its rows.
    v_run       TEXT;
    v_run_texts JSONB;
    v_run_tail  TEXT;
BEGIN
    FOREACH v_row IN ARRAY p_rows LOOP
        CONTINUE WHEN v_row.outcome IS DISTINCT FROM 'ok';
        v_append := p_batch->v_row.append_index;
        v_stmts := v_append->'q';
        CONTINUE WHEN v_stmts IS NULL;
        v_version := v_row.stream_version - jsonb_array_length(v_append->'ev') + 1;
        FOR j IN 0 .. jsonb_array_length(v_stmts) - 1 LOOP
            v_stmt := v_stmts->j;
            v_texts := v_stmt->1;
            v_args := v_stmt->2;
            v_last := jsonb_array_length(v_texts) - 1;
            -- The row (texts and arguments but the first and last text), then the
            -- whole statement but its last text: the next rows of a run go there.
            v_row_sql := '';
            FOR k IN 0 .. v_last - 1 LOOP
                v_arg := v_args->k;
                IF jsonb_typeof(v_arg) = 'string' THEN
                    v_text := v_arg #>> '{}';
                ELSE
                    v_kind := v_arg->>0;
                    IF v_kind = 'p' THEN
                        v_text := (v_row.first_position + (v_arg->>1)::BIGINT)::TEXT;
                    ELSIF v_kind = 'v' THEN
                        v_text := (v_version + (v_arg->>1)::BIGINT)::TEXT;
                    ELSIF v_kind = 't' THEN
                        -- Spelled out, so neither DateStyle nor TimeZone can change it.
                        v_text := quote_literal(to_char(v_row.recorded_time AT TIME ZONE 'UTC',
                                                'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'))
                                  || '::timestamptz';
                    ELSIF v_kind = 'u' THEN
                        v_text := trunc(((extract(epoch FROM v_row.recorded_time) * 1000000)
                                         ::BIGINT::FLOAT8 / 1000000) * 1000000)::BIGINT::TEXT;
                    ELSE
                        RAISE EXCEPTION 'unknown slot %', v_arg;
                    END IF;
                END IF;
                IF k > 0 THEN
                    v_row_sql := v_row_sql || (v_texts->>k);
                END IF;
                v_row_sql := v_row_sql || v_text;
            END LOOP;
            IF v_run IS NOT NULL AND v_texts = v_run_texts THEN
                v_run := v_run || '), (' || v_row_sql;
                CONTINUE;
            END IF;
            IF v_run IS NOT NULL THEN
                EXECUTE v_run || v_run_tail;
                v_run := NULL;
            END IF;
            -- (A statement without arguments is its first text, which is also its last.)
            v_sql := CASE WHEN v_last > 0 THEN v_texts->>0 ELSE '' END || v_row_sql;
            IF p_merge AND (v_stmt->>0) = '1' THEN
                v_run := v_sql;
                v_run_texts := v_texts;
                v_run_tail := v_texts->>v_last;
            ELSE
                EXECUTE v_sql || (v_texts->>v_last);
            END IF;
        END LOOP;
    END LOOP;
    IF v_run IS NOT NULL THEN
        EXECUTE v_run || v_run_tail;
    END IF;
END;
$$;

-- As in 0002 (same arguments, same rows); each append's "q" holds statements in the
-- form above.
CREATE OR REPLACE FUNCTION hw_append_handled(p_batch JSONB, p_channel TEXT)
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
    v_stale   BOOLEAN;
    v_statements BOOLEAN;
    v_rows    hw_append_row[];
    v_row     hw_append_row;
    v_append  JSONB;
    v_index   BIGINT;
    v_state   TEXT;
    v_message TEXT;
BEGIN
    SELECT h.handlers_epoch INTO v_epoch FROM hw_head h FOR UPDATE;
    -- One pass over the batch for both questions.
    SELECT COALESCE(bool_or((b.a->>'h')::BIGINT IS DISTINCT FROM v_epoch), FALSE),
           COALESCE(bool_or(jsonb_array_length(b.a->'q') > 0), FALSE)
    INTO v_stale, v_statements
    FROM jsonb_array_elements(p_batch) AS b(a);

    IF NOT v_stale AND NOT v_statements THEN
        -- No statements to run (no inline handler had any): exactly hw_append_batch.
        RETURN QUERY SELECT r.*, NULL::TEXT, NULL::TEXT, v_epoch
                     FROM hw_append_batch(p_batch, p_channel) AS r;
        RETURN;
    END IF;

    -- The common case: every append prepared with the current handlers. The whole
    -- batch and every statement run in one subtransaction; if a statement fails even
    -- when they run one at a time, it is all undone and the loop below redoes the
    -- batch append by append.
    IF NOT v_stale THEN
        BEGIN
            SELECT array_agg(ROW(r.*)::hw_append_row ORDER BY r.append_index) INTO v_rows
            FROM hw_append_batch(p_batch, p_channel) AS r;
            BEGIN
                PERFORM hw_run_statements(p_batch, v_rows, TRUE);
            EXCEPTION WHEN OTHERS THEN
                PERFORM hw_run_statements(p_batch, v_rows, FALSE);
            END;
        EXCEPTION WHEN OTHERS THEN
            v_rows := NULL;
        END;
        IF v_rows IS NOT NULL THEN
            RETURN QUERY SELECT r.*, NULL::TEXT, NULL::TEXT, v_epoch FROM unnest(v_rows) AS r;
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
            SELECT r.* INTO v_row
            FROM hw_append_batch(jsonb_build_array(v_append), p_channel) AS r;
            v_row.append_index := v_index - 1;
            PERFORM hw_run_statements(p_batch, ARRAY[v_row], FALSE);
            RETURN QUERY SELECT v_row.append_index, v_row.outcome, v_row.stream_version,
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
