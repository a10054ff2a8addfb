//! Test support shared by the crates' integration tests.
//!
//! PostgreSQL tests run against the real server on this machine
//! (`CITADEL_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`).
//! If it is down, [`postgres_admin_url`] starts the Debian cluster with
//! `pg_ctlcluster`, so a fresh machine needs no manual step.

use std::process::Command;
use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tokio::sync::OnceCell;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

static STARTED: OnceCell<String> = OnceCell::const_new();

/// The maintenance URL of a running PostgreSQL, starting it if needed.
/// Panics with instructions if there is none to start.
pub async fn postgres_admin_url() -> String {
    STARTED
        .get_or_init(|| async {
            let url = std::env::var("CITADEL_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
            if PgConnection::connect(&url).await.is_ok() {
                return url;
            }
            start_cluster();
            for _ in 0..60 {
                if PgConnection::connect(&url).await.is_ok() {
                    return url;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            panic!("PostgreSQL at {url} is not reachable and could not be started; install the Debian postgresql package or set CITADEL_TEST_PG_URL");
        })
        .await
        .clone()
}

fn start_cluster() {
    let Ok(versions) = std::fs::read_dir("/etc/postgresql") else {
        return;
    };
    for version in versions.flatten() {
        let version = version.file_name().to_string_lossy().into_owned();
        // A concurrent test may have started it already; the retry loop of
        // the caller decides.
        let _ = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &version, "main", "start"])
            .status();
    }
}

/// A database made for one test and dropped by [`TestDatabase::drop_now`].
pub struct TestDatabase {
    pub url: String,
    name: String,
    admin_url: String,
    /// A non-superuser role that owns the database, if made with
    /// [`TestDatabase::create_owned_by_unprivileged_role`].
    owner: Option<String>,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let admin_url = postgres_admin_url().await;
        let name = format!("citadel_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = PgConnection::connect(&admin_url)
            .await
            .expect("connect to PostgreSQL");
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        Self {
            url: format!("{base}/{name}"),
            name,
            admin_url,
            owner: None,
        }
    }

    /// A database owned by a fresh role with only `LOGIN CREATEROLE`: the
    /// least a Citadel platform user needs. The URL logs in as that role.
    pub async fn create_owned_by_unprivileged_role() -> Self {
        let admin_url = postgres_admin_url().await;
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        let (name, owner) = (
            format!("citadel_test_{suffix}"),
            format!("citadel_owner_{suffix}"),
        );
        let mut conn = PgConnection::connect(&admin_url)
            .await
            .expect("connect to PostgreSQL");
        for statement in [
            format!("CREATE ROLE \"{owner}\" LOGIN CREATEROLE NOSUPERUSER NOCREATEDB"),
            format!("CREATE DATABASE \"{name}\" OWNER \"{owner}\""),
        ] {
            sqlx::raw_sql(AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .expect("create owner and database");
        }
        let (scheme, rest) = admin_url.split_once("://").expect("url scheme");
        let host_and_db = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        let host = host_and_db.split_once('/').map_or(host_and_db, |(h, _)| h);
        Self {
            url: format!("{scheme}://{owner}@{host}/{name}"),
            name,
            admin_url,
            owner: Some(owner),
        }
    }

    /// Runs `sql` in this database as the superuser the tests connect with.
    pub async fn as_superuser(&self, sql: &str) {
        let base = self
            .admin_url
            .rsplit_once('/')
            .map_or(self.admin_url.as_str(), |(b, _)| b);
        let mut conn = PgConnection::connect(&format!("{base}/{}", self.name))
            .await
            .expect("connect as superuser");
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .expect("superuser statement");
    }

    /// Simulates a database outage (`false`): new connections are refused
    /// and every open one is ended. `true` ends the outage.
    pub async fn allow_connections(&self, allowed: bool) {
        let mut conn = PgConnection::connect(&self.admin_url)
            .await
            .expect("connect to PostgreSQL");
        sqlx::raw_sql(AssertSqlSafe(format!(
            "ALTER DATABASE \"{}\" ALLOW_CONNECTIONS {allowed}",
            self.name
        )))
        .execute(&mut conn)
        .await
        .expect("alter database");
        if !allowed {
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            )
            .bind(&self.name)
            .execute(&mut conn)
            .await
            .expect("terminate");
        }
    }

    /// How many of a tenant's schema, role and audit table still exist (0
    /// after a destroy). `tenant_hex` is the tenant id's 32 hex digits.
    pub async fn tenant_storage_left(&self, tenant_hex: &str) -> i64 {
        let mut conn = PgConnection::connect(&self.url)
            .await
            .expect("connect to the test database");
        sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = $1) \
                  + (SELECT count(*) FROM pg_roles WHERE rolname = $2) \
                  + (SELECT count(*) FROM pg_tables \
                     WHERE schemaname = 'citadel_audit' AND tablename = $1)",
        )
        .bind(format!("t_{tenant_hex}"))
        .bind(format!("citadel_t_{tenant_hex}"))
        .fetch_one(&mut conn)
        .await
        .expect("query the catalog")
    }

    /// Drops the database and the tenant roles no other database still
    /// uses (roles are cluster-wide; ones still owning objects elsewhere
    /// refuse to drop, which is what keeps parallel tests safe).
    pub async fn drop_now(self) {
        let Ok(mut conn) = PgConnection::connect(&self.admin_url).await else {
            return;
        };
        let _ = sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await;
        if let Some(owner) = &self.owner {
            let _ = sqlx::raw_sql(AssertSqlSafe(format!("DROP ROLE IF EXISTS \"{owner}\"")))
                .execute(&mut conn)
                .await;
        }
        let roles: Vec<String> = sqlx::query_scalar(
            "SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'citadel\\_t\\_%'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap_or_default();
        for role in roles {
            let _ = sqlx::raw_sql(AssertSqlSafe(format!("DROP ROLE IF EXISTS \"{role}\"")))
                .execute(&mut conn)
                .await;
        }
    }
}

/// Runs `sql` on a SQLite database file, beside a server that has it open
/// (tests use it to age timestamps instead of waiting for hours).
pub async fn sqlite_exec(path: &std::path::Path, sql: &str) {
    use sqlx::ConnectOptions;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(std::time::Duration::from_secs(10))
        .connect()
        .await
        .expect("open sqlite file");
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .expect("sqlite statement");
}
