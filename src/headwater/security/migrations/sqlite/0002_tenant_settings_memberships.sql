-- Indexes behind the security lists' sorts (headwater.cursors.Sorts): tenants by
-- name, a tenant's accounts by email, a tenant's API keys by name.
CREATE INDEX hw_tenants_by_created ON hw_tenants (created_at, tenant_id);
CREATE INDEX hw_tenants_by_name ON hw_tenants (name, tenant_id);
CREATE INDEX hw_accounts_by_tenant_email ON hw_accounts (tenant_id, email, account_id);
CREATE INDEX hw_api_keys_by_tenant_name ON hw_api_keys (tenant_id, name, key_id);

-- A tenant's settings (plan, limits, enabled features), kept by the security inline
-- projection from hw.tenant.settings_changed; limits and features are JSON text.
CREATE TABLE hw_tenant_settings (
    tenant_id TEXT PRIMARY KEY,
    plan TEXT NOT NULL,
    limits TEXT NOT NULL,
    features TEXT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT NOT NULL,
    version INTEGER NOT NULL
);

-- Accounts that belong to further tenants than their home one, with their roles
-- there (hw.account.membership_granted / _revoked on the account's own stream).
CREATE TABLE hw_memberships (
    account_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    roles TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, tenant_id)
);
CREATE INDEX hw_memberships_by_tenant ON hw_memberships (tenant_id, created_at, account_id);
