CREATE TABLE support_grants (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    operator_id TEXT NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
    operator_login TEXT NOT NULL,
    reason TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX support_grants_tenant ON support_grants(tenant_id, created_at);
CREATE INDEX support_grants_operator ON support_grants(operator_id, tenant_id);
