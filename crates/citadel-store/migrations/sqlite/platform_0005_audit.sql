-- The platform's audit keys, one per suite (Ed25519 for the international
-- suite, SM2 for the sm suite), sealed under the master key. They sign the
-- tree heads of every audit log; their public halves are exported for
-- anyone to check the heads with.
CREATE TABLE audit_keys (
    suite TEXT PRIMARY KEY,
    sealed BLOB NOT NULL,
    public_key BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

-- Signed tree heads of each audit log (a tenant's, by its id, or the
-- platform's own, by the nil id), kept here, out of the tenants' reach.
-- peaks: the roots of the tree's perfect subtrees at that size (32 bytes
-- each), from which a writer carries on without reading every leaf.
CREATE TABLE audit_heads (
    log_id TEXT NOT NULL,
    size BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    tree_hash TEXT NOT NULL,
    root BLOB NOT NULL,
    suite TEXT NOT NULL,
    signature BLOB NOT NULL,
    peaks BLOB NOT NULL,
    PRIMARY KEY (log_id, size)
);
