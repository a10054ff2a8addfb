//! Embedded migrations, applied in order at start and never edited once
//! released. Each runs in the caller's transaction with its bookkeeping row.

use sqlx::{Postgres, Sqlite, Transaction};

use crate::StoreError;

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub(crate) const SQLITE_PLATFORM: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/sqlite/platform_0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "support_grants",
        sql: include_str!("../migrations/sqlite/platform_0002_support_grants.sql"),
    },
    Migration {
        version: 3,
        name: "tenant_keys",
        sql: include_str!("../migrations/sqlite/platform_0003_tenant_keys.sql"),
    },
    Migration {
        version: 4,
        name: "access_sealed",
        sql: include_str!("../migrations/sqlite/platform_0004_access_sealed.sql"),
    },
    Migration {
        version: 5,
        name: "audit",
        sql: include_str!("../migrations/sqlite/platform_0005_audit.sql"),
    },
];
pub(crate) const SQLITE_TENANT: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/sqlite/tenant_0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "identity",
        sql: include_str!("../migrations/sqlite/tenant_0002_identity.sql"),
    },
    Migration {
        version: 3,
        name: "data_model",
        sql: include_str!("../migrations/sqlite/tenant_0003_data_model.sql"),
    },
    Migration {
        version: 4,
        name: "permission_groups",
        sql: include_str!("../migrations/sqlite/tenant_0004_permission_groups.sql"),
    },
    Migration {
        version: 5,
        name: "duties",
        sql: include_str!("../migrations/sqlite/tenant_0005_duties.sql"),
    },
    Migration {
        version: 6,
        name: "access_seals",
        sql: include_str!("../migrations/sqlite/tenant_0006_access_seals.sql"),
    },
    Migration {
        version: 7,
        name: "sealed_revisions",
        sql: include_str!("../migrations/sqlite/tenant_0007_sealed_revisions.sql"),
    },
    Migration {
        version: 8,
        name: "schema_versions",
        sql: include_str!("../migrations/sqlite/tenant_0008_schema_versions.sql"),
    },
];
pub(crate) const POSTGRES_PLATFORM: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/postgres/platform_0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "support_grants",
        sql: include_str!("../migrations/postgres/platform_0002_support_grants.sql"),
    },
    Migration {
        version: 3,
        name: "tenant_keys",
        sql: include_str!("../migrations/postgres/platform_0003_tenant_keys.sql"),
    },
    Migration {
        version: 4,
        name: "access_sealed",
        sql: include_str!("../migrations/postgres/platform_0004_access_sealed.sql"),
    },
    Migration {
        version: 5,
        name: "audit",
        sql: include_str!("../migrations/postgres/platform_0005_audit.sql"),
    },
];
pub(crate) const POSTGRES_TENANT: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/postgres/tenant_0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "identity",
        sql: include_str!("../migrations/postgres/tenant_0002_identity.sql"),
    },
    Migration {
        version: 3,
        name: "data_model",
        sql: include_str!("../migrations/postgres/tenant_0003_data_model.sql"),
    },
    Migration {
        version: 4,
        name: "permission_groups",
        sql: include_str!("../migrations/postgres/tenant_0004_permission_groups.sql"),
    },
    Migration {
        version: 5,
        name: "duties",
        sql: include_str!("../migrations/postgres/tenant_0005_duties.sql"),
    },
    Migration {
        version: 6,
        name: "access_seals",
        sql: include_str!("../migrations/postgres/tenant_0006_access_seals.sql"),
    },
    Migration {
        version: 7,
        name: "sealed_revisions",
        sql: include_str!("../migrations/postgres/tenant_0007_sealed_revisions.sql"),
    },
    Migration {
        version: 8,
        name: "schema_versions",
        sql: include_str!("../migrations/postgres/tenant_0008_schema_versions.sql"),
    },
];

const BOOKKEEPING: &str = "CREATE TABLE IF NOT EXISTS citadel_migrations \
     (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

macro_rules! apply_all {
    ($tx:expr, $migrations:expr) => {{
        sqlx::raw_sql(BOOKKEEPING).execute(&mut **$tx).await?;
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM citadel_migrations")
                .fetch_one(&mut **$tx)
                .await?;
        let applied = applied.unwrap_or(0);
        for m in $migrations.iter().filter(|m| m.version > applied) {
            sqlx::raw_sql(m.sql).execute(&mut **$tx).await?;
            sqlx::query(
                "INSERT INTO citadel_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(m.version)
            .bind(m.name)
            .bind(crate::db::now_millis())
            .execute(&mut **$tx)
            .await?;
        }
        Ok(())
    }};
}

pub(crate) async fn apply_sqlite(
    tx: &mut Transaction<'_, Sqlite>,
    migrations: &[Migration],
) -> Result<(), StoreError> {
    apply_all!(tx, migrations)
}

pub(crate) async fn apply_postgres(
    tx: &mut Transaction<'_, Postgres>,
    migrations: &[Migration],
) -> Result<(), StoreError> {
    apply_all!(tx, migrations)
}
