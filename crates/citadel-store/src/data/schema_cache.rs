//! Table schemas kept in memory for a moment. Every record request needs
//! its table's fields; reading and checking them costs two queries and a
//! parse, more than the record itself. A change made through this process
//! forgets the entry at once; a change made by another node is seen within
//! [`FRESH_FOR`], and a write prepared against an older schema is refused
//! in its transaction (the schema version is checked there), so a stale
//! entry can delay a new field but never write through a wrong one.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use citadel_core::data::TableSchema;
use citadel_core::{TableId, TenantId};

pub(crate) const FRESH_FOR: Duration = Duration::from_secs(2);
/// Entries beyond this trigger a sweep of the stale ones.
const SWEEP_ABOVE: usize = 4096;

#[derive(Default, Debug)]
pub struct SchemaCache {
    tables: Mutex<HashMap<(TenantId, TableId), (TableSchema, Instant)>>,
}

impl SchemaCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<(TenantId, TableId), (TableSchema, Instant)>> {
        // Each critical section is one map operation: a panic elsewhere
        // cannot leave the map half-changed.
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn get(&self, tenant: TenantId, table: TableId) -> Option<TableSchema> {
        let tables = self.lock();
        tables
            .get(&(tenant, table))
            .filter(|(_, at)| at.elapsed() < FRESH_FOR)
            .map(|(schema, _)| schema.clone())
    }

    pub(crate) fn put(&self, tenant: TenantId, schema: &TableSchema) {
        let mut tables = self.lock();
        if tables.len() >= SWEEP_ABOVE {
            tables.retain(|_, (_, at)| at.elapsed() < FRESH_FOR);
        }
        tables.insert((tenant, schema.id), (schema.clone(), Instant::now()));
    }

    /// Forgets every table of a tenant: schema changes call this, so the
    /// next request reads the new fields.
    pub(crate) fn forget_tenant(&self, tenant: TenantId) {
        self.lock().retain(|(t, _), _| *t != tenant);
    }
}
