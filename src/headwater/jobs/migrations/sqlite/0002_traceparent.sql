-- The W3C traceparent of the work that enqueued a job (a request, a command, another
-- job), so the worker that runs it continues the same trace. Null: no trace current.
ALTER TABLE hw_jobs ADD COLUMN traceparent TEXT;
