-- Lookup tables kept by the security inline projection (hw_tenants, hw_accounts,
-- hw_api_keys: rebuilt from hw.* events) and the session tables (hw_sessions,
-- hw_refresh_tokens: short-lived state, not events). Instants are microseconds
-- since the epoch, the same integer on every backend.

CREATE TABLE hw_tenants (
    tenant_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- email is stored lower-cased; UNIQUE makes a second registration's append fail
-- inside its own transaction, so two racing sign-ups can never both succeed.
CREATE TABLE hw_accounts (
    account_id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    tenant_id TEXT,
    display_name TEXT,
    password_hash TEXT NOT NULL,
    roles TEXT NOT NULL,
    tier TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    tokens_revoked_at BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX hw_accounts_by_tenant ON hw_accounts (tenant_id, created_at, account_id);

CREATE TABLE hw_api_keys (
    key_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    tier TEXT NOT NULL,
    secret_digest TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX hw_api_keys_by_tenant ON hw_api_keys (tenant_id, created_at, key_id);

CREATE TABLE hw_sessions (
    session_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX hw_sessions_by_account ON hw_sessions (account_id);

CREATE TABLE hw_refresh_tokens (
    token_digest TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX hw_refresh_tokens_by_session ON hw_refresh_tokens (session_id);
