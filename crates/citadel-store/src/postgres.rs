//! The PostgreSQL backend: the registry in schema `citadel_platform`, and per
//! tenant one schema `t_<id>` owned by one login role `citadel_t_<id>` that
//! has privileges on nothing else. A tenant's queries run as its role.
//!
//! Identifiers are made from tenant ids (32 hex digits), never from input.

use std::str::FromStr;
use std::time::Duration;

use citadel_core::TenantId;
use citadel_crypto::{SecretString, scram};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Transaction};

use crate::StoreError;
use crate::audit_schema::{archive_table, create_postgres_table, postgres_table};
use crate::identity::insert_user;
use crate::migrate::{POSTGRES_PLATFORM, POSTGRES_TENANT, apply_postgres};
use crate::records::NewUser;

pub(crate) const PLATFORM_SCHEMA: &str = "citadel_platform";
/// First key of the two-key advisory lock that queues a tenant schema's
/// migrations (the second is a hash of the schema name).
const TENANT_MIGRATION_LOCK: i32 = 7478093;

/// Grants on the database's own row (CONNECT) cannot be changed by two
/// transactions at once ("tuple concurrently updated"): whatever changes
/// them (platform start, tenant creation, tenant destruction) takes this
/// lock first, for the rest of its transaction. Platform start takes its
/// migration lock before this one; nothing takes them the other way round.
async fn lock_database_grants(tx: &mut Transaction<'_, Postgres>) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(7478092)")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(crate) fn role_name(id: TenantId) -> String {
    format!("citadel_t_{}", id.simple())
}

pub(crate) fn schema_name(id: TenantId) -> String {
    format!("t_{}", id.simple())
}

pub(crate) fn admin_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    Ok(PgConnectOptions::from_str(url)?)
}

pub(crate) async fn open_platform(admin: &PgConnectOptions) -> Result<PgPool, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(admin.clone().options([("search_path", PLATFORM_SCHEMA)]))
        .await?;
    let mut tx = pool.begin().await?;
    // Serialises concurrent first starts against one database.
    sqlx::query("SELECT pg_advisory_xact_lock(7478091)")
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql("CREATE SCHEMA IF NOT EXISTS citadel_platform")
        .execute(&mut *tx)
        .await?;
    lock_database_grants(&mut tx).await?;
    // Nobody gets to connect to Citadel's database, or to create objects
    // in its public schema (if it has one), by default: each tenant role is
    // granted CONNECT by name.
    sqlx::raw_sql(
        "DO $$ BEGIN \
           EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()); \
           IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public') THEN \
             REVOKE CREATE ON SCHEMA public FROM PUBLIC; \
           END IF; \
         END $$",
    )
    .execute(&mut *tx)
    .await?;
    // Run by a user that does not own the database or the public schema
    // (a database upgraded from PostgreSQL 14 keeps `public` owned by
    // `postgres`), those REVOKEs only warn: check what PUBLIC still has.
    let public_keeps: Option<String> = sqlx::query_scalar(
        "SELECT string_agg(what, ', ') FROM ( \
           SELECT 'CONNECT or TEMPORARY on the database' AS what FROM pg_database d, \
             aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a \
             WHERE d.datname = current_database() AND a.grantee = 0 \
               AND a.privilege_type IN ('CONNECT', 'TEMPORARY') \
           UNION \
           SELECT 'CREATE on schema public' FROM pg_namespace n, \
             aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a \
             WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE' \
         ) kept",
    )
    .fetch_one(&mut *tx)
    .await?;
    if let Some(kept) = public_keeps {
        return Err(StoreError::UnsafeDatabase(format!(
            "every role may still use {kept}; run Citadel as the owner of the database and of schema public, \
             or revoke these from PUBLIC yourself"
        )));
    }
    apply_postgres(&mut tx, POSTGRES_PLATFORM).await?;
    create_postgres_table(&mut tx, &postgres_table(None), None).await?;
    // Tenants made before their audit logs existed get theirs.
    let tenants: Vec<String> = sqlx::query_scalar("SELECT id FROM citadel_platform.tenants")
        .fetch_all(&mut *tx)
        .await?;
    for tenant in tenants {
        let id = TenantId::parse(&tenant)
            .map_err(|_| StoreError::Corrupt(format!("tenant id {tenant}")))?;
        create_postgres_table(&mut tx, &postgres_table(Some(id)), Some(&role_name(id))).await?;
    }
    // Tenant roles made before CONNECT was granted by name keep working.
    sqlx::raw_sql(
        "DO $$ DECLARE r text; BEGIN \
           FOR r IN SELECT db_role FROM citadel_platform.tenants WHERE db_role IS NOT NULL LOOP \
             EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), r); \
           END LOOP; \
         END $$",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(pool)
}

/// Creates the tenant's role and schema, its tables (owned by its role) and
/// its first admin, inside `tx`; the caller adds the registry row to the
/// same transaction, so a failure anywhere leaves nothing behind.
pub(crate) async fn provision(
    tx: &mut Transaction<'_, Postgres>,
    id: TenantId,
    credential: &SecretString,
    admin: &NewUser,
) -> Result<(), StoreError> {
    let role = role_name(id);
    let schema = schema_name(id);
    // DDL takes no bind parameters. The role and schema names are hex
    // digits of a UUID and the verifier is base64 and `$:` only, so nothing
    // here can carry a quote. Only the SCRAM verifier is sent, never the
    // password, so no statement log on either side holds it.
    lock_database_grants(tx).await?;
    let ddl = [
        format!(
            "CREATE ROLE \"{role}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION \
             CONNECTION LIMIT 8 PASSWORD '{}'",
            scram::verifier(credential)
        ),
        format!("GRANT \"{role}\" TO CURRENT_USER"),
        format!(
            "DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), '{role}'); END $$"
        ),
        format!("CREATE SCHEMA \"{schema}\" AUTHORIZATION \"{role}\""),
        format!("ALTER ROLE \"{role}\" SET search_path = \"{schema}\""),
        format!("SET LOCAL ROLE \"{role}\""),
        format!("SET LOCAL search_path = \"{schema}\""),
    ];
    for statement in ddl {
        sqlx::raw_sql(AssertSqlSafe(statement))
            .execute(&mut **tx)
            .await?;
    }
    apply_postgres(tx, POSTGRES_TENANT).await?;
    insert_user!(&mut **tx, admin)?;
    sqlx::raw_sql("RESET ROLE").execute(&mut **tx).await?;
    // The audit log is the platform user's, outside the tenant's schema:
    // the tenant's role may read it and append to it, nothing more.
    create_postgres_table(tx, &postgres_table(Some(id)), Some(&role)).await?;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "SET LOCAL search_path = {PLATFORM_SCHEMA}"
    )))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A pool that logs in as the tenant's own role.
pub(crate) async fn open_tenant(
    admin: &PgConnectOptions,
    id: TenantId,
    credential: &SecretString,
) -> Result<PgPool, StoreError> {
    let options = admin
        .clone()
        .username(&role_name(id))
        .password(credential.expose())
        .options([("search_path", schema_name(id))]);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .min_connections(0)
        .idle_timeout(Duration::from_secs(120))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    // A tenant made by an older version gets the newer migrations on its
    // first open, as its own role (the owner of its schema); the lock
    // queues two servers opening it at once.
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))")
        .bind(TENANT_MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    apply_postgres(&mut tx, POSTGRES_TENANT).await?;
    tx.commit().await?;
    Ok(pool)
}

/// Takes the role's right to log in away, committed at once.
pub(crate) async fn revoke_login(pool: &PgPool, id: TenantId) -> Result<(), StoreError> {
    let role = role_name(id);
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(&role)
            .fetch_one(pool)
            .await?;
    if exists {
        sqlx::raw_sql(AssertSqlSafe(format!("ALTER ROLE \"{role}\" NOLOGIN")))
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Gives the role its login back, after a destroy that failed.
pub(crate) async fn restore_login(pool: &PgPool, id: TenantId) -> Result<(), StoreError> {
    let role = role_name(id);
    sqlx::raw_sql(AssertSqlSafe(format!("ALTER ROLE \"{role}\" LOGIN")))
        .execute(pool)
        .await?;
    Ok(())
}

/// Ends the role's sessions, then drops its schema (with every table) and
/// the role, inside `tx`.
pub(crate) async fn destroy(
    tx: &mut Transaction<'_, Postgres>,
    id: TenantId,
) -> Result<(), StoreError> {
    let role = role_name(id);
    let schema = schema_name(id);
    lock_database_grants(tx).await?;
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1")
        .bind(&role)
        .execute(&mut **tx)
        .await?;
    let role_exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(&role)
            .fetch_one(&mut **tx)
            .await?;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
    )))
    .execute(&mut **tx)
    .await?;
    let audit = postgres_table(Some(id));
    sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP TABLE IF EXISTS {audit}, {}",
        archive_table(&audit)
    )))
    .execute(&mut **tx)
    .await?;
    if role_exists {
        // Revokes what was granted to the role in this database (CONNECT).
        sqlx::raw_sql(AssertSqlSafe(format!("DROP OWNED BY \"{role}\"")))
            .execute(&mut **tx)
            .await?;
        sqlx::raw_sql(AssertSqlSafe(format!("DROP ROLE \"{role}\"")))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
