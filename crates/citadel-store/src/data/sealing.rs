//! Encrypted fields: each value sealed under the tenant's data key, bound
//! to its cell, with a blind index beside it for equality.
//!
//! A value's ciphertext authenticates the tenant, table, field and record
//! it belongs to (its AAD), so a ciphertext copied to another cell or
//! record fails to open rather than showing another cell's value. The
//! blind index is a keyed hash (the tenant's index key) of the value's
//! canonical form and the field id: equal values in one field have equal
//! indexes, so `=` and `in` find them, and nothing about order or parts
//! of a value is kept. Values in a record's history are sealed the same
//! way, bound also to the revision's version.

use std::sync::Arc;

use base64ct::{Base64, Encoding};
use chrono::{Offset, Utc};
use citadel_core::data::{Cell, FieldDef};
use citadel_core::{FieldId, TableId};
use serde_json::Value as Json;

use citadel_core::data::TableSchema;

use super::sql::Param;
use crate::StoreError;
use crate::keyring::Keyring;
use crate::tenant_db::TenantDb;

// Of equal length, so the context is a fixed-width part of the AAD too.
const FIELD_CONTEXT: &[u8] = b"citadel.field.v1";
const REVISION_CONTEXT: &[u8] = b"citadel.revis.v1";
const BLIND_CONTEXT: &[u8] = b"citadel.blind.v1";
/// The blind index keeps 128 bits of the HMAC: collisions stay out of
/// reach for any table, and the index stays small.
const BLIND_LEN: usize = 16;
/// The key under which a history entry holds a sealed value.
pub(crate) const SEALED_KEY: &str = "$sealed";

/// The column beside an encrypted field's ciphertext that holds its
/// blind index.
pub(crate) fn blind_column(column: &str) -> String {
    format!("{column}_bi")
}

/// The longest AAD: a 16-byte context, three 16-byte ids, two numbers.
const AAD_MAX: usize = 16 + 3 * 16 + 2 * 8;
// `cell_aad` fills a buffer of `AAD_MAX` bytes: a longer context would
// not fit.
const _: () = assert!(FIELD_CONTEXT.len() == 16 && REVISION_CONTEXT.len() == 16);

/// A cell's AAD (see [`Sealer::cell_aad`]).
struct CellAad {
    bytes: [u8; AAD_MAX],
    len: usize,
}

impl std::ops::Deref for CellAad {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A stored value's ciphertext and its blind index.
type SealedBytes = (Vec<u8>, Vec<u8>);

/// Seals and opens the encrypted fields of one table.
#[derive(Clone)]
pub(crate) struct Sealer {
    keyring: Arc<Keyring>,
    table: TableId,
    /// Tenant and table ids as the AAD holds them, taken once: every
    /// value a listing opens needs them.
    tenant_bytes: [u8; 16],
    table_bytes: [u8; 16],
}

impl Sealer {
    pub(crate) fn new(keyring: Arc<Keyring>, table: TableId) -> Self {
        Self {
            tenant_bytes: *keyring.tenant().as_uuid().as_bytes(),
            table_bytes: *table.as_uuid().as_bytes(),
            keyring,
            table,
        }
    }

    pub(crate) fn active_version(&self) -> u32 {
        self.keyring.active_data_version()
    }

    /// `context ‖ tenant ‖ table ‖ field ‖ record [‖ revision]`, the ids
    /// as their 16 bytes and the numbers as 8 big-endian bytes: fixed
    /// widths, so the parts cannot run into each other, and no text to
    /// format for each of the values a listing opens. On the stack: a page
    /// of a listing builds one for each encrypted value it opens.
    fn cell_aad(&self, field: FieldId, record: i64, revision: Option<i64>) -> CellAad {
        let context = match revision {
            None => FIELD_CONTEXT,
            Some(_) => REVISION_CONTEXT,
        };
        let mut bytes = [0u8; AAD_MAX];
        let field = *field.as_uuid().as_bytes();
        let record = record.to_be_bytes();
        let parts: [&[u8]; 5] = [
            context,
            &self.tenant_bytes,
            &self.table_bytes,
            &field,
            &record,
        ];
        let mut len = 0;
        for part in parts {
            bytes[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        }
        if let Some(version) = revision {
            bytes[len..len + 8].copy_from_slice(&version.to_be_bytes());
            len += 8;
        }
        CellAad { bytes, len }
    }

    /// The blind index of a value in its canonical form.
    pub(crate) fn blind(&self, field: FieldId, canonical: &str) -> Vec<u8> {
        let field = field.as_uuid();
        let tag =
            self.keyring
                .index_key()
                .tag(&[BLIND_CONTEXT, field.as_bytes(), canonical.as_bytes()]);
        tag[..BLIND_LEN].to_vec()
    }

    /// The ciphertext and blind index that store `cell` in `record`.
    pub(crate) fn seal(
        &self,
        field: &FieldDef,
        record: i64,
        cell: &Cell,
    ) -> Result<(Param, Param), StoreError> {
        Ok(match self.seal_bytes(field.id, record, cell)? {
            Some((sealed, blind)) => (Param::Bytes(Some(sealed)), Param::Bytes(Some(blind))),
            None => (Param::Bytes(None), Param::Bytes(None)),
        })
    }

    /// [`Sealer::seal`]'s ciphertext and blind index; none for an empty cell.
    fn seal_bytes(
        &self,
        field: FieldId,
        record: i64,
        cell: &Cell,
    ) -> Result<Option<SealedBytes>, StoreError> {
        if cell.is_empty() {
            return Ok(None);
        }
        let canonical = zeroize::Zeroizing::new(cell.canonical());
        let sealed = self
            .keyring
            .encrypt(&self.cell_aad(field, record, None), canonical.as_bytes())?;
        Ok(Some((sealed, self.blind(field, &canonical))))
    }

    /// The value `sealed` holds in `record`, or why it cannot be trusted.
    pub(crate) fn open(
        &self,
        field: &FieldDef,
        record: i64,
        sealed: &[u8],
    ) -> Result<Cell, StoreError> {
        let json = self.open_json(field.id, record, None, sealed)?;
        // It opened, so it is the value sealed here; one the field's type
        // no longer reads is a stale schema, not a broken seal.
        field.read_written(json, Utc.fix()).map_err(|e| {
            StoreError::Corrupt(format!(
                "record {record}: the value of field {} does not fit its type: {e}",
                field.id
            ))
        })
    }

    fn open_json(
        &self,
        field: FieldId,
        record: i64,
        revision: Option<i64>,
        sealed: &[u8],
    ) -> Result<Json, StoreError> {
        let plain = self
            .keyring
            .decrypt(&self.cell_aad(field, record, revision), sealed)
            .map_err(|e| broken(self.table, field, record, &e.to_string()))?;
        serde_json::from_slice(&plain)
            .map_err(|_| broken(self.table, field, record, "the plaintext is not a value"))
    }

    /// A history entry's value, sealed: `{"$sealed": "<base64>"}`. Null
    /// (no value) stays null: that a value was set or cleared is not
    /// secret, and the history shows it.
    pub(crate) fn seal_history(
        &self,
        field: FieldId,
        record: i64,
        version: i64,
        value: &Json,
    ) -> Result<Json, StoreError> {
        if value.is_null() {
            return Ok(Json::Null);
        }
        let plain = zeroize::Zeroizing::new(value.to_string());
        let sealed = self.keyring.encrypt(
            &self.cell_aad(field, record, Some(version)),
            plain.as_bytes(),
        )?;
        let mut map = serde_json::Map::new();
        map.insert(
            SEALED_KEY.into(),
            Json::String(Base64::encode_string(&sealed)),
        );
        Ok(Json::Object(map))
    }

    /// Opens a history entry's value if it is sealed; other values pass.
    pub(crate) fn open_history(
        &self,
        field: FieldId,
        record: i64,
        version: i64,
        value: &Json,
    ) -> Result<Json, StoreError> {
        let Some(encoded) = sealed_history_value(value) else {
            return Ok(value.clone());
        };
        let sealed = Base64::decode_vec(encoded)
            .map_err(|_| broken(self.table, field, record, "the ciphertext is not base64"))?;
        self.open_json(field, record, Some(version), &sealed)
    }
}

/// The base64 ciphertext of a sealed history value.
pub(crate) fn sealed_history_value(value: &Json) -> Option<&str> {
    match value {
        Json::Object(map) if map.len() == 1 => map.get(SEALED_KEY)?.as_str(),
        _ => None,
    }
}

pub(crate) fn broken(table: TableId, field: FieldId, record: i64, reason: &str) -> StoreError {
    StoreError::SealBroken {
        table,
        field,
        record,
        reason: reason.to_owned(),
    }
}

impl TenantDb {
    /// The sealer of `table`'s encrypted fields; none when it has none, so
    /// a table without them never touches the keyring.
    pub(crate) async fn sealer(&self, table: &TableSchema) -> Result<Option<Sealer>, StoreError> {
        if !table.fields.iter().any(|f| f.options.encrypted) {
            return Ok(None);
        }
        Ok(Some(Sealer::new(self.keyring().await?, table.id)))
    }

    /// Passes `result` on; an encrypted value that failed to open is first
    /// recorded as a security event (the value is not in it).
    pub(crate) async fn noticed<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(StoreError::SealBroken {
            table,
            field,
            record,
            reason,
        }) = &result
        {
            let detail = serde_json::json!({
                "table": table.to_string(),
                "field": field.to_string(),
                "record": record,
                "reason": reason,
            });
            tracing::warn!(%table, %field, record, reason, "an encrypted value failed to open");
            if let Err(e) = self
                .auth()
                .security_event("encrypted_value_unreadable", None, None, &detail)
                .await
            {
                tracing::error!(error = %e, "could not record an encrypted_value_unreadable event");
            }
        }
        result
    }
}

impl Sealer {
    /// Seals a revision's values again under the active data key: those
    /// already sealed, and with `also` the values of that field (a field
    /// whose encryption was just turned on). Returns the changes as stored
    /// and whether any value in them is sealed.
    pub(crate) fn reseal_changes(
        &self,
        record: i64,
        version: i64,
        changes: &str,
        also: Option<FieldId>,
    ) -> Result<(String, bool), StoreError> {
        let mut json: Json = serde_json::from_str(changes)
            .map_err(|e| StoreError::Corrupt(format!("a revision is unreadable: {e}")))?;
        let mut sealed_any = false;
        if let Json::Object(map) = &mut json {
            for (id, pair) in map.iter_mut() {
                let field = FieldId::parse(id)?;
                let Json::Array(values) = pair else {
                    continue;
                };
                for value in values.iter_mut() {
                    let plain = if sealed_history_value(value).is_some() {
                        self.open_history(field, record, version, value)?
                    } else if also == Some(field) && !value.is_null() {
                        value.clone()
                    } else {
                        continue;
                    };
                    *value = self.seal_history(field, record, version, &plain)?;
                    sealed_any |= !value.is_null();
                }
            }
        }
        Ok((json.to_string(), sealed_any))
    }
}

/// A created record's encrypted cell as it is stored: its ciphertext and
/// blind index.
pub(crate) struct CreatedCell {
    pub(crate) sealed: Vec<u8>,
    pub(crate) blind: Vec<u8>,
}

/// Below this many records a batch is sealed on the caller's own thread:
/// starting threads would cost more than the sealing.
const PARALLEL_FROM: usize = 64;

impl Sealer {
    /// Seals the encrypted cells of records being created: for each row,
    /// the cell of each of `fields` in turn (`None` where it is empty). A
    /// large batch is spread over the machine's cores.
    pub(crate) fn seal_created(
        &self,
        fields: &[&FieldDef],
        rows: &[(i64, &[(FieldId, Cell)])],
    ) -> Result<Vec<Option<CreatedCell>>, StoreError> {
        let seal_rows = |rows: &[(i64, &[(FieldId, Cell)])]| {
            let mut out = Vec::with_capacity(rows.len() * fields.len());
            for (record, cells) in rows {
                for field in fields {
                    let cell = cells
                        .iter()
                        .find(|(id, _)| *id == field.id)
                        .map_or(&Cell::Null, |(_, c)| c);
                    let Some((sealed, blind)) = self.seal_bytes(field.id, *record, cell)? else {
                        out.push(None);
                        continue;
                    };
                    out.push(Some(CreatedCell { sealed, blind }));
                }
            }
            Ok::<_, StoreError>(out)
        };
        if fields.is_empty() || rows.len() < PARALLEL_FROM {
            return seal_rows(rows);
        }
        // Asked only for a batch: on Linux it reads the cgroup's CPU quota
        // from files, which would cost a single create more than its sealing.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if threads < 2 {
            return seal_rows(rows);
        }
        let share = rows.len().div_ceil(threads);
        let parts = std::thread::scope(|scope| {
            let workers: Vec<_> = rows
                .chunks(share)
                .map(|chunk| scope.spawn(move || seal_rows(chunk)))
                .collect();
            workers
                .into_iter()
                .map(|worker| {
                    worker
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect::<Vec<_>>()
        });
        let mut sealed = Vec::with_capacity(rows.len() * fields.len());
        for part in parts {
            sealed.extend(part?);
        }
        Ok(sealed)
    }
}
