-- Each tenant's keys, sealed under the master key (through the KMS) and
-- bound by the seal's context to tenant, purpose and version. Kept in the
-- registry, not in the tenant's own database, so that destroying them
-- leaves the tenant's stored ciphertexts unreadable (crypto-shredding).
CREATE TABLE tenant_keys (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    version BIGINT NOT NULL,
    sealed BLOB NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, purpose, version)
);
