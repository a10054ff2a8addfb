//! Table schemas kept in memory for a moment. Every record request needs
//! its table's fields; reading and checking them costs two queries and a
//! parse, more than the record itself. A change made through this process
//! forgets the entry at once; a change made by another node is seen within
//! [`FRESH_FOR`], and a write prepared against an older schema is refused
//! in its transaction (the schema version is checked there), so a stale
//! entry can delay a new field but never write through a wrong one.

use std::time::Duration;

use citadel_core::data::TableSchema;
use citadel_core::{TableId, TenantId};

use crate::fresh::{FreshMap, Reading};

/// Longer than registry rows: a stale schema is harmless (see above).
const FRESH_FOR: Duration = Duration::from_secs(2);

pub struct SchemaCache(FreshMap<(TenantId, TableId), TableSchema>);

impl Default for SchemaCache {
    fn default() -> Self {
        Self(FreshMap::new(FRESH_FOR))
    }
}

impl std::fmt::Debug for SchemaCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaCache").finish_non_exhaustive()
    }
}

impl SchemaCache {
    pub(crate) fn get(&self, tenant: TenantId, table: TableId) -> Option<TableSchema> {
        self.0.get(&(tenant, table))
    }

    pub(crate) fn reading(&self) -> Reading {
        self.0.reading()
    }

    pub(crate) fn put(&self, tenant: TenantId, schema: &TableSchema, reading: Reading) {
        self.0.put((tenant, schema.id), schema.clone(), reading);
    }

    /// Forgets every table of a tenant: schema changes call this, so the
    /// next request reads the new fields.
    pub(crate) fn forget_tenant(&self, tenant: TenantId) {
        self.0.forget_where(|(t, _)| *t == tenant);
    }
}
