//! An import too large to hold in memory, written all or nothing: chunks
//! of records arrive on a channel and each goes through the same insert
//! as [`TenantDb::create_records`], all inside one transaction (on SQLite,
//! one job of the group-commit writer).
//!
//! The import commits only on an explicit end marker. A sender that stops
//! for any reason (bad row found, client gone, request timed out, panic)
//! drops the channel without it, and everything is rolled back; so does a
//! sender that falls silent for [`IMPORT_IDLE`], which would otherwise hold
//! the tenant's writer.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::Row;
use tokio::sync::mpsc;

// The write bodies are macros: they need the names the writes use.
use super::*;
use crate::data::new_records::OwnIds;
use crate::data::records::invalid;
use crate::data::rows::{ReadRow, cell_param};
use crate::data::sealing::blind_column;
use crate::db::on_pool;

/// Longest wait for the next chunk before the import is given up.
pub const IMPORT_IDLE: Duration = Duration::from_secs(60);

fn abandoned(why: &str) -> StoreError {
    StoreError::Conflict(format!("the import was {why}; nothing was written"))
}

macro_rules! import_body {
    ($tx:ident, $table:expr, $input:expr, $actor:expr, $dialect:expr) => {{
        let (mut chunks, db): (mpsc::Receiver<Option<Vec<RecordWrite>>>, TenantDb) = $input;
        let mut imported: u64 = 0;
        loop {
            let next = tokio::time::timeout(IMPORT_IDLE, chunks.recv())
                .await
                .map_err(|_| abandoned("given up: no rows arrived for a minute"))?;
            match next {
                Some(Some(writes)) if writes.is_empty() => {}
                Some(Some(writes)) => {
                    imported += writes.len() as u64;
                    // From the import's own connection: waiting for a
                    // second one while holding this could wait forever.
                    let ids = db
                        .record_ids_from((&mut *$tx).own_ids(), $table.id, writes.len())
                        .await?;
                    let new = db.prepare_with_ids(&$table, writes, ids, $actor).await?;
                    create_body!($tx, $table, new, $actor, $dialect)?;
                }
                Some(None) => break,
                None => return Err(abandoned("abandoned")),
            }
        }
        Ok::<_, StoreError>(imported)
    }};
}

/// The values `cells` give to link, user and department references, as
/// bound parameters, without repeats.
fn reference_params(cells: &[Cell]) -> Vec<Param> {
    let mut seen = HashSet::new();
    let mut params = Vec::new();
    let mut add = |p: Param| {
        if seen.insert(format!("{p:?}")) {
            params.push(p);
        }
    };
    for cell in cells {
        match cell {
            Cell::Link(r) => add(Param::Int(Some(r.0))),
            Cell::Links(rs) => rs.iter().for_each(|r| add(Param::Int(Some(r.0)))),
            Cell::Ref(r) => add(Param::Text(Some(r.clone()))),
            _ => {}
        }
    }
    params
}

fn param_text(p: &Param) -> String {
    match p {
        Param::Int(Some(n)) => n.to_string(),
        Param::Text(Some(t)) => t.clone(),
        _ => String::new(),
    }
}

impl TenantDb {
    /// Imports the records sent on `chunks` in one transaction. Send
    /// `Some(records)` for each chunk (any size; the store splits
    /// statements itself) and `None` to commit. If the channel closes
    /// without `None`, or a chunk fails any check of `create_records`,
    /// nothing is written. Returns the number of records imported.
    pub async fn import_records(
        &self,
        access: &TableAccess<ops::Import>,
        chunks: mpsc::Receiver<Option<Vec<RecordWrite>>>,
        actor: Actor,
    ) -> Result<u64, StoreError> {
        let table = access.full_schema();
        let input = (chunks, self.clone());
        write_through!(self, table, input, actor, import_body)
    }

    /// Which of `values` a record of `table` already holds in `field`: for
    /// a dry run to report unique values that are taken.
    pub async fn existing_values(
        &self,
        access: &TableAccess<ops::Import>,
        field: FieldId,
        values: &[Cell],
    ) -> Result<Vec<Cell>, StoreError> {
        let table = access.full_schema();
        let field = table.field(field).ok_or(StoreError::NotFound("field"))?;
        if !field.kind.has_column() {
            return Ok(Vec::new());
        }
        let physical = ident(&physical_table(table.id))?;
        let wanted: Vec<&Cell> = values.iter().filter(|c| !c.is_empty()).collect();
        // An encrypted field is looked up by its blind index: the values
        // found are those whose index is there.
        let sealer = self.sealer(table).await?;
        let (column, keys): (String, Vec<Param>) = match (&sealer, field.options.encrypted) {
            (Some(sealer), true) => (
                ident(&blind_column(&field.column))?,
                wanted
                    .iter()
                    .map(|c| Param::Bytes(Some(sealer.blind(field.id, &c.canonical()))))
                    .collect(),
            ),
            _ => (
                ident(&field.column)?,
                wanted.iter().map(|c| cell_param(c, &field.kind)).collect(),
            ),
        };
        let mut found = Vec::new();
        for (cells, chunk) in wanted.chunks(500).zip(keys.chunks(500)) {
            let mut params = Params::default();
            let list: Vec<String> = chunk.iter().map(|p| params.push(p.clone())).collect();
            let sql = format!(
                "SELECT DISTINCT {column} FROM {physical} WHERE {column} IN ({})",
                list.join(", ")
            );
            let present: Vec<Param> = on_pool!(&self.pool, |p| {
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind_params(params.0)
                    .fetch_all(p)
                    .await?;
                let mut present = Vec::with_capacity(rows.len());
                for row in &rows {
                    present.push(match field.options.encrypted {
                        true => Param::Bytes(row.bytes(0)?.map(<[u8]>::to_vec)),
                        false => cell_param(&row.cell(0, &field.kind)?, &field.kind),
                    });
                }
                present
            });
            for (cell, key) in cells.iter().zip(chunk) {
                if present.contains(key) && !found.contains(*cell) {
                    found.push((*cell).clone());
                }
            }
        }
        Ok(found)
    }

    /// The targets named in `cells` (the values of a link, user or
    /// department `field`) that do not exist, as text: record ids in
    /// decimal, user and department ids as they are written. The same
    /// look-up the writes make, for a dry run to name the missing ones.
    pub async fn missing_references(
        &self,
        _access: &TableAccess<ops::Import>,
        field: &FieldDef,
        cells: &[Cell],
    ) -> Result<Vec<String>, StoreError> {
        let (source, numeric) = match &field.kind {
            FieldKind::Link { table, .. } => (ident(&physical_table(*table))?, true),
            FieldKind::User => ("users".to_owned(), false),
            FieldKind::Department => ("departments".to_owned(), false),
            _ => return Ok(Vec::new()),
        };
        let wanted = reference_params(cells);
        let mut missing = Vec::new();
        for chunk in wanted.chunks(500) {
            let mut params = Params::default();
            let list: Vec<String> = chunk.iter().map(|p| params.push(p.clone())).collect();
            let sql = format!("SELECT id FROM {source} WHERE id IN ({})", list.join(", "));
            let found: HashSet<String> = on_pool!(&self.pool, |p| {
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind_params(params.0)
                    .fetch_all(p)
                    .await?;
                let mut found = HashSet::new();
                for row in &rows {
                    found.insert(if numeric {
                        row.int(0)?.unwrap_or_default().to_string()
                    } else {
                        row.text(0)?.unwrap_or_default()
                    });
                }
                found
            });
            missing.extend(
                chunk
                    .iter()
                    .map(param_text)
                    .filter(|id| !found.contains(id)),
            );
        }
        Ok(missing)
    }
}
