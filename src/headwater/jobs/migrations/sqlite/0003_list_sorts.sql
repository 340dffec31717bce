-- The admin job list's sorts (created = seq, updated, attempts), each an index range
-- with seq as the tiebreak, for every job and under one tenant (a tenant admin's view).
CREATE INDEX hw_jobs_updated ON hw_jobs (updated_at, seq);
CREATE INDEX hw_jobs_attempts ON hw_jobs (attempts, seq);
CREATE INDEX hw_jobs_tenant ON hw_jobs (tenant_id, seq);
CREATE INDEX hw_jobs_tenant_updated ON hw_jobs (tenant_id, updated_at, seq);
CREATE INDEX hw_jobs_tenant_attempts ON hw_jobs (tenant_id, attempts, seq);
