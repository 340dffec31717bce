-- One AES-256-GCM key per tenant and data subject: the only way to read the personal
-- fields sealed in the log. Erasure sets ``key`` to NULL and stamps ``erased_at``; the
-- row stays as a tombstone so that later writes about the subject are stored with
-- replacement values only and no new key is ever minted for an erased person.
--
-- ``tenant_id`` is '' for events without a tenant (NOT NULL keeps the primary key
-- honest: NULLs would never collide). Times are microseconds since the Unix epoch.
CREATE TABLE hw_subject_keys (
    tenant_id  TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    key        BLOB,
    created_at INTEGER NOT NULL,
    erased_at  INTEGER,
    PRIMARY KEY (tenant_id, subject)
);
