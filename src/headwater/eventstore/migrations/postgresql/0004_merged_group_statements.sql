-- Inline handlers' statements merged by the writer, not rendered by the server.
--
-- 0003's hw_run_statements renders every statement from its texts and arguments
-- with PL/pgSQL expressions evaluated one by one: for a group commit of 32 appends
-- that each upsert one read-model row, the walk costs about twice the multi-row
-- upsert it builds (measured: ~0.65 ms of walking against ~0.3 ms for the INSERT).
-- (A set-based rendering in one query was measured too: slower still, ~1.2 ms.) And
-- the two subtransactions that guard it, and the statements' second copy in the
-- batch document, cost about as much again.
--
-- When every append of a group is 'ok', which is the common case, each append's
-- positions follow from the group's first position and its events' count, and its
-- versions from its expected version when it states one. The writer therefore sends
-- the group's statements already rendered and merged (one text per run of
-- consecutive single-row INSERTs of one text, then one per other statement, in
-- order), with the group's first position as $1 and its recorded_at as $2 (see
-- postgres_handlers.merge_group), as a JSON array of texts (a text[] parameter costs
-- the client an escaping pass over every statement), and a batch document without
-- the statements.
-- hw_append_merged appends the group and runs them as they are, with no
-- subtransaction: one statement, one transaction.
--
-- Whenever that does not hold it raises, so the transaction (its events too) is
-- rolled back, and the writer sends the group again to hw_append_handled (0003),
-- which renders the statements itself and isolates a failing one to its own append:
--   HW001  an append of the group was prepared with handlers replaced since (stale)
--   HW002  an append of the group was not 'ok' (a conflict, a replay, ...)
--   any other error: a statement failed (e.g. a merged upsert that reaches one row
--          twice, or a handler's constraint); hw_append_handled sorts it out.
-- Nothing is held across the two round trips: the first transaction has ended.
-- Every statement commits with its append's events, as before.

CREATE FUNCTION hw_append_merged(p_batch JSONB, p_channel TEXT, p_statements JSONB)
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
    v_epoch BIGINT;
    v_rows  hw_append_row[];
    v_ok    BOOLEAN;
    v_first BIGINT;
    v_now   TIMESTAMPTZ;
    v_sql   TEXT;
BEGIN
    SELECT h.handlers_epoch INTO v_epoch FROM hw_head h FOR UPDATE;
    IF EXISTS (SELECT FROM jsonb_array_elements(p_batch) AS b(a)
               WHERE (b.a->>'h')::BIGINT IS DISTINCT FROM v_epoch) THEN
        RAISE EXCEPTION 'prepared with replaced inline handlers' USING ERRCODE = 'HW001';
    END IF;
    SELECT array_agg(ROW(r.*)::hw_append_row ORDER BY r.append_index),
           bool_and(r.outcome = 'ok'), min(r.first_position), min(r.recorded_time)
    INTO v_rows, v_ok, v_first, v_now
    FROM hw_append_batch(p_batch, p_channel) AS r;
    IF v_ok IS NOT TRUE THEN
        RAISE EXCEPTION 'an append of the group was not ok' USING ERRCODE = 'HW002';
    END IF;
    FOR v_sql IN SELECT jsonb_array_elements_text(p_statements) LOOP
        EXECUTE v_sql USING v_first, v_now;
    END LOOP;
    RETURN QUERY SELECT r.*, NULL::TEXT, NULL::TEXT, v_epoch FROM unnest(v_rows) AS r;
END;
$$;
