//! A record's history: its revisions, oldest first, with sealed values
//! opened and the values it was created with filled in.
//!
//! A create's revision is stored without its values (`{}`): they are the
//! record's current values taken back through each later revision's old
//! values, so writing them again beside the row would only double what a
//! create writes to disk (a revision keyed by field ids is larger than the
//! row). Revisions record every change a person or a deletion makes to a
//! record, and every one of them bumps its version, so the walk back is
//! exact for them. What no revision records is a schema change: a field
//! added later (with a default written into existing records) is left
//! out: a create's revision records the table's schema version and each
//! field the version it was added in; a field whose type changed shows
//! its created value converted, as the record now holds it.
//! Revisions written before this change hold their values, and are shown
//! as stored.

use std::collections::HashMap;

use citadel_core::access::{ReadsRows, TableAccess};
use citadel_core::{FieldId, RecordId, TableId};
use serde_json::{Map, Value as Json};
use sqlx::Row;

use super::sealing::{Sealer, sealed_history_value};
use super::{RecordRow, Revision};
use crate::StoreError;
use crate::db::on_pool;
use crate::tenant_db::TenantDb;

/// A revision's action when it made the record.
pub(crate) const CREATE: &str = "create";

impl TenantDb {
    /// A record's changes, oldest first. Readable after the record is
    /// deleted, for as long as its table exists.
    ///
    /// A holder whose reads are limited to some rows sees the history of a
    /// record only while it exists within them; changes to fields hidden
    /// from them are left out.
    pub async fn record_history<Op: ReadsRows>(
        &self,
        access: &TableAccess<Op>,
        record: RecordId,
    ) -> Result<Vec<Revision>, StoreError> {
        // The row before the revisions: any revision newer than the row
        // read is shown, but the walk back starts from the row's version.
        // A row whose encrypted value does not open (already recorded as a
        // security event by the read) leaves the created values unknown,
        // not the rest of the history unreadable: that is where such a
        // record is looked into.
        let current = match self.get_record(access, record).await {
            Ok(row) => Current::Row(row),
            Err(StoreError::NotFound(_)) if access.rows().is_none() => Current::Gone,
            Err(StoreError::SealBroken { .. }) => Current::Unreadable,
            Err(e) => return Err(e),
        };
        let table = access.full_schema().id;
        let (mut revisions, made_under, added_in) = on_pool!(&self.pool, |p| {
            let rows = sqlx::query(
                "SELECT version, action, actor, at, changes, schema_version FROM record_revisions \
                 WHERE table_id = $1 AND record_id = $2 ORDER BY version",
            )
            .bind(table.to_string())
            .bind(record.0)
            .fetch_all(p)
            .await?;
            let mut made_under = None;
            let mut revisions = Vec::with_capacity(rows.len());
            for row in &rows {
                let changes: String = row.try_get("changes")?;
                let revision = Revision {
                    version: row.try_get("version")?,
                    action: row.try_get("action")?,
                    actor: row
                        .try_get::<Option<String>, _>("actor")?
                        .map(|a| citadel_core::UserId::parse(&a))
                        .transpose()?,
                    at: row.try_get("at")?,
                    changes: serde_json::from_str(&changes)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                };
                if stored_without_values(&revision) {
                    made_under = row.try_get::<Option<i64>, _>("schema_version")?;
                }
                revisions.push(revision);
            }
            let added = sqlx::query(
                "SELECT id, added_in FROM data_fields WHERE table_id = $1 AND added_in IS NOT NULL",
            )
            .bind(table.to_string())
            .fetch_all(p)
            .await?;
            let added_in = added
                .iter()
                .map(|row| {
                    Ok((
                        row.try_get::<String, _>("id")?,
                        row.try_get::<i64, _>("added_in")?,
                    ))
                })
                .collect::<Result<HashMap<String, i64>, StoreError>>()?;
            Ok::<_, StoreError>((revisions, made_under, added_in))
        })?;
        // A field added in a later schema version than the record was
        // created under was not among its fields.
        let made_later = |field: &str| {
            made_under.is_some_and(|made| added_in.get(field).is_some_and(|added| *added > made))
        };
        // Hidden fields go first, so that nothing of theirs is opened; the
        // row holds only visible fields, so the walk needs no more.
        for revision in &mut revisions {
            if let Json::Object(changes) = &mut revision.changes {
                changes.retain(|id, _| FieldId::parse(id).is_ok_and(|id| !access.is_hidden(id)));
            }
        }
        let opened = self.open_history(table, record, &mut revisions).await;
        self.noticed(opened).await?;
        match &current {
            Current::Row(row) => fill_created(&mut revisions, Some(row), made_later),
            Current::Gone => fill_created(&mut revisions, None, made_later),
            Current::Unreadable => {}
        }
        Ok(revisions)
    }

    /// Opens the sealed values in `revisions` (those of encrypted fields,
    /// and of fields encrypted once), in place.
    async fn open_history(
        &self,
        table: TableId,
        record: RecordId,
        revisions: &mut [Revision],
    ) -> Result<(), StoreError> {
        let mut sealer = None;
        for revision in revisions {
            let Json::Object(changes) = &mut revision.changes else {
                continue;
            };
            for (id, pair) in changes.iter_mut() {
                let Json::Array(values) = pair else {
                    continue;
                };
                for value in values.iter_mut() {
                    if sealed_history_value(value).is_none() {
                        continue;
                    }
                    if sealer.is_none() {
                        sealer = Some(Sealer::new(self.keyring().await?, table));
                    }
                    if let Some(sealer) = &sealer {
                        let field = FieldId::parse(id)?;
                        *value = sealer.open_history(field, record.0, revision.version, value)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The record as history found it.
enum Current {
    Row(RecordRow),
    /// Deleted.
    Gone,
    /// Present, but a value of it does not open.
    Unreadable,
}

/// Whether `revision` made its record and was stored without its values.
fn stored_without_values(revision: &Revision) -> bool {
    revision.action == CREATE && revision.changes.as_object().is_some_and(Map::is_empty)
}

/// Gives a create revision stored without values the values the record
/// was created with (see the module's notes): `current` (the record as it
/// is, none once deleted) taken back through the old values of each later
/// revision, leaving out the fields `made_later` says were added after it.
fn fill_created(
    revisions: &mut [Revision],
    current: Option<&RecordRow>,
    made_later: impl Fn(&str) -> bool,
) {
    if !revisions.iter().any(stored_without_values) {
        return;
    }
    let mut values: HashMap<String, Json> = current
        .map(|row| {
            row.cells
                .iter()
                .filter(|(_, cell)| !cell.is_empty())
                .map(|(field, cell)| (field.to_string(), cell.to_json()))
                .collect()
        })
        .unwrap_or_default();
    let read_at = current.map_or(i64::MAX, |row| row.version);
    for revision in revisions.iter_mut().rev() {
        if revision.version > read_at {
            continue;
        }
        if stored_without_values(revision) {
            let mut changes = Map::new();
            for (field, value) in values.drain() {
                if made_later(&field) {
                    continue;
                }
                changes.insert(field, Json::Array(vec![Json::Null, value]));
            }
            revision.changes = Json::Object(changes);
            return;
        }
        let Json::Object(changes) = &revision.changes else {
            continue;
        };
        for (field, pair) in changes {
            match pair.get(0) {
                Some(old) if !is_empty(old) => values.insert(field.clone(), old.clone()),
                _ => values.remove(field),
            };
        }
    }
}

/// An old value that stands for no value: as a created record's empty
/// cells, it is left out.
fn is_empty(value: &Json) -> bool {
    match value {
        Json::Null => true,
        Json::String(text) => text.is_empty(),
        Json::Array(items) => items.is_empty(),
        _ => false,
    }
}
