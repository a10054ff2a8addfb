CREATE TABLE permission_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    description TEXT,
    builtin TEXT UNIQUE,
    policy TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES permission_groups(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    member_id TEXT NOT NULL,
    include_subdepartments BOOLEAN NOT NULL,
    PRIMARY KEY (group_id, kind, member_id)
);
CREATE INDEX group_members_member ON group_members(member_id);
INSERT INTO permission_groups (id, name, name_key, description, builtin, policy, version, created_at, updated_at)
VALUES
    ('00000000-0000-7000-8000-000000000001', '管理员', '管理员', 'Tenant administrators: every operation on every table.', 'tenant_admin', '{}', 1, 0, 0),
    ('00000000-0000-7000-8000-000000000002', '成员', '成员', 'Every user of the tenant.', 'member',
     '{"all_apps":["read","create","update","delete","export","import"]}', 1, 0, 0);
