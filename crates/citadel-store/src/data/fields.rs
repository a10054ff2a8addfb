//! Online schema changes: adding, changing, reordering and deleting fields,
//! with the physical column, junction table and indexes kept in step.

use citadel_core::data::schema::MAX_FIELDS;
use citadel_core::data::table::{junction_table, physical_table};
use citadel_core::data::{Cell, FieldDef, FieldKind, TableSchema};
use citadel_core::{CoreError, FieldId, TableId};

use super::apps::dialect;
use super::rows::{stored_columns, stored_params};
use super::sealing::{Sealer, blind_column};
use super::sql::{BindParams, ColumnType, Dialect, Param, ident, index_key};
use crate::StoreError;
use crate::db::{BeginWrite, now_millis, write_on_pool};
use crate::tenant_db::TenantDb;

macro_rules! bump_schema {
    ($tx:expr, $table:expr) => {
        sqlx::query(
            "UPDATE data_tables SET schema_version = schema_version + 1, updated_at = $1 \
             WHERE id = $2",
        )
        .bind(now_millis())
        .bind($table.to_string())
        .execute(&mut *$tx)
        .await?;
    };
}

/// A field to add: checked by the core, with its default already read.
pub struct NewField {
    pub def: FieldDef,
    pub default: Option<Cell>,
}

fn index_name(prefix: &str, field: FieldId) -> Result<String, StoreError> {
    ident(&format!("{prefix}_{}", field.simple()))
}

/// The statements that build a field's storage on an existing table.
fn field_ddl(table: TableId, def: &FieldDef, dialect: Dialect) -> Result<Vec<String>, StoreError> {
    let physical = ident(&physical_table(table))?;
    let mut ddl = Vec::new();
    if let FieldKind::Link {
        table: target,
        multiple: true,
    } = def.kind
    {
        let junction = ident(&junction_table(def.id))?;
        let target = ident(&physical_table(target))?;
        ddl.push(format!(
            "CREATE TABLE {junction} (src BIGINT NOT NULL REFERENCES {physical}(id) ON DELETE CASCADE, \
             dst BIGINT NOT NULL REFERENCES {target}(id) ON DELETE CASCADE, \
             position BIGINT NOT NULL, PRIMARY KEY (src, dst))"
        ));
        ddl.push(format!(
            "CREATE INDEX {} ON {junction} (dst)",
            index_name("j", def.id)?
        ));
        return Ok(ddl);
    }
    let column = ident(&def.column)?;
    ddl.push(format!(
        "ALTER TABLE {physical} ADD COLUMN {column} {}",
        ColumnType::of_field(def).ddl(dialect)
    ));
    if def.options.encrypted {
        ddl.push(format!(
            "ALTER TABLE {physical} ADD COLUMN {} {}",
            ident(&blind_column(&def.column))?,
            ColumnType::Bytes.ddl(dialect)
        ));
    }
    ddl.extend(index_ddl(table, def, None, dialect)?);
    Ok(ddl)
}

/// Index statements that take a field from `old` options to `new`.
fn index_ddl(
    table: TableId,
    new: &FieldDef,
    old: Option<&FieldDef>,
    dialect: Dialect,
) -> Result<Vec<String>, StoreError> {
    if !new.kind.has_column() {
        return Ok(Vec::new());
    }
    let physical = ident(&physical_table(table))?;
    // An encrypted field is found, and kept unique, by its blind index.
    let indexed = match new.options.encrypted {
        true => blind_column(&new.column),
        false => new.column.clone(),
    };
    let column = index_key(&ident(&indexed)?, dialect);
    let (had_unique, had_index) = old.map_or((false, false), |o| {
        (o.options.unique, o.options.filterable && !o.options.unique)
    });
    let wants_unique = new.options.unique;
    let wants_index = new.options.filterable && !wants_unique;
    let unique = index_name("u", new.id)?;
    let plain = index_name("i", new.id)?;
    let mut ddl = Vec::new();
    if had_unique && !wants_unique {
        ddl.push(format!("DROP INDEX {unique}"));
    }
    if had_index && !wants_index {
        ddl.push(format!("DROP INDEX {plain}"));
    }
    if wants_unique && !had_unique {
        ddl.push(format!(
            "CREATE UNIQUE INDEX {unique} ON {physical} ({column})"
        ));
    }
    if wants_index && !had_index {
        ddl.push(format!("CREATE INDEX {plain} ON {physical} ({column})"));
    }
    Ok(ddl)
}

/// A unique index that cannot be built because values repeat.
fn duplicates_refused(field: &FieldDef) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Invalid(CoreError::InvalidField {
                field: field.name.to_string(),
                reason: "cannot be unique: some records share a value".into(),
            })
        }
        _ => StoreError::Database(e),
    }
}

impl TenantDb {
    pub async fn add_field(
        &self,
        table: TableId,
        new: NewField,
    ) -> Result<TableSchema, StoreError> {
        let schema = self.fresh_schema(table).await?;
        let def = new.def;
        if schema.fields.len() >= MAX_FIELDS {
            return Err(StoreError::Conflict(format!(
                "a table may have at most {MAX_FIELDS} fields"
            )));
        }
        if schema
            .fields
            .iter()
            .any(|f| f.name.same_as(def.name.as_str()))
        {
            return Err(StoreError::Conflict(format!(
                "this table already has a field named `{}`",
                def.name
            )));
        }
        if let FieldKind::Link { table: target, .. } = def.kind
            && target != table
        {
            self.fresh_schema(target).await.map_err(|e| match e {
                StoreError::NotFound(_) => StoreError::Invalid(CoreError::InvalidField {
                    field: def.name.to_string(),
                    reason: "links to a table that does not exist".into(),
                }),
                other => other,
            })?;
        }
        let dialect = dialect(&self.pool);
        let ddl = field_ddl(table, &def, dialect)?;
        let physical = ident(&physical_table(table))?;
        let position = schema.fields.iter().map(|f| f.position).max().unwrap_or(0) + 1;
        let auto = matches!(def.kind, FieldKind::AutoNumber);
        let sealer = match def.options.encrypted {
            true => Some(Sealer::new(self.keyring().await?, table)),
            false => None,
        };
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            for statement in ddl {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await
                    .map_err(duplicates_refused(&def))?;
            }
            let column = ident(&def.column)?;
            if let Some(default) = new.default.as_ref().filter(|d| !d.is_empty())
                && def.kind.has_column()
            {
                // Each record's ciphertext is its own (bound to its id), so
                // an encrypted default is written record by record.
                let ids: Vec<i64> = match def.options.encrypted {
                    true => {
                        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                            "SELECT id FROM {physical}"
                        )))
                        .fetch_all(&mut *tx)
                        .await?
                    }
                    false => vec![0],
                };
                let columns = stored_columns(&def)?;
                let sets: Vec<String> = columns
                    .iter()
                    .enumerate()
                    .map(|(n, c)| format!("{c} = ${}", n + 1))
                    .collect();
                for id in ids {
                    let mut values = stored_params(&def, id, default, sealer.as_ref())?;
                    let only = match def.options.encrypted {
                        true => {
                            values.push(Param::Int(Some(id)));
                            format!(" WHERE id = ${}", columns.len() + 1)
                        }
                        false => String::new(),
                    };
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE {physical} SET {}{only}",
                        sets.join(", ")
                    )))
                    .bind_params(values)
                    .execute(&mut *tx)
                    .await
                    .map_err(duplicates_refused(&def))?;
                }
            }
            let mut next_number = 1i64;
            if auto {
                // Existing records are numbered in the order they were made.
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE {physical} SET {column} = (SELECT n FROM (SELECT id, \
                     ROW_NUMBER() OVER (ORDER BY id) AS n FROM {physical}) s \
                     WHERE s.id = {physical}.id)"
                )))
                .execute(&mut *tx)
                .await?;
                next_number += sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM {physical}"
                )))
                .fetch_one(&mut *tx)
                .await?;
            }
            let now = now_millis();
            sqlx::query(
                "INSERT INTO data_fields (id, table_id, definition, position, \
                 column_generation, next_number, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 0, $5, $6, $6)",
            )
            .bind(def.id.to_string())
            .bind(table.to_string())
            .bind(def.spec_json().to_string())
            .bind(position)
            .bind(next_number)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            bump_schema!(tx, table);
            // Records created under an older version were made without it.
            sqlx::query(
                "UPDATE data_fields SET added_in = \
                 (SELECT schema_version FROM data_tables WHERE id = $1) WHERE id = $2",
            )
            .bind(table.to_string())
            .bind(def.id.to_string())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.fresh_schema(table).await
    }

    /// Replaces a field's declaration by `changed` (same id and type):
    /// renames, constraints, choices, indexes. Removing a choice that
    /// records still use is refused.
    pub async fn update_field(
        &self,
        table: TableId,
        changed: FieldDef,
    ) -> Result<TableSchema, StoreError> {
        let schema = self.fresh_schema(table).await?;
        let old = schema
            .field(changed.id)
            .ok_or(StoreError::NotFound("field"))?
            .clone();
        if old.kind.type_name() != changed.kind.type_name()
            || matches!(
                (&old.kind, &changed.kind),
                (FieldKind::Link { table: a, multiple: m }, FieldKind::Link { table: b, multiple: n })
                    if a != b || m != n
            )
        {
            return Err(StoreError::Conflict(
                "the type of a field is changed with the type-change operation".into(),
            ));
        }
        if schema
            .fields
            .iter()
            .any(|f| f.id != old.id && f.name.same_as(changed.name.as_str()))
        {
            return Err(StoreError::Conflict(format!(
                "this table already has a field named `{}`",
                changed.name
            )));
        }
        let reparameterised = old.kind != changed.kind && old.kind.choices().is_none();
        if changed.options.encrypted != old.options.encrypted || reparameterised {
            // Every stored value moves between plaintext and ciphertext,
            // or is read again under a new scale or precision (stored
            // scaled, or canonical in a ciphertext and its blind index):
            // the conversion a type change makes, to the same type.
            let utc = chrono::Offset::fix(&chrono::Utc);
            let (report, schema) = self.change_field_type(table, changed, false, utc).await?;
            if !report.applied {
                let first = report
                    .failures
                    .first()
                    .map(|(id, why)| format!(" (first: record {id}: {why})"))
                    .unwrap_or_default();
                return Err(StoreError::Conflict(format!(
                    "{} of {} records do not fit the field's constraints{first}; nothing changed",
                    report.failed, report.records
                )));
            }
            return Ok(schema);
        }
        let changed = FieldDef {
            column: old.column.clone(),
            position: old.position,
            ..changed
        };
        let ddl = index_ddl(table, &changed, Some(&old), dialect(&self.pool))?;
        let removed: Vec<String> = match (old.kind.choices(), changed.kind.choices()) {
            (Some(before), Some(after)) => before
                .iter()
                .filter(|c| !after.iter().any(|a| a.name == c.name))
                .map(|c| c.name.clone())
                .collect(),
            _ => Vec::new(),
        };
        let physical = ident(&physical_table(table))?;
        let column = ident(&old.column)?;
        let dialect = dialect(&self.pool);
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            for choice in &removed {
                let in_use = match (&old.kind, dialect) {
                    (FieldKind::SingleSelect { .. }, _) => {
                        format!("SELECT COUNT(*) FROM {physical} WHERE {column} = $1")
                    }
                    (_, Dialect::Sqlite) => format!(
                        "SELECT COUNT(*) FROM {physical} r WHERE EXISTS \
                         (SELECT 1 FROM json_each(r.{column}) WHERE value = $1)"
                    ),
                    (_, Dialect::Postgres) => format!(
                        "SELECT COUNT(*) FROM {physical} WHERE jsonb_exists({column}::jsonb, $1)"
                    ),
                };
                let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(in_use))
                    .bind(choice)
                    .fetch_one(&mut *tx)
                    .await?;
                if count > 0 {
                    return Err(StoreError::Conflict(format!(
                        "{count} records use the choice `{choice}`: change them before removing it"
                    )));
                }
            }
            for statement in ddl {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await
                    .map_err(duplicates_refused(&changed))?;
            }
            sqlx::query("UPDATE data_fields SET definition = $1, updated_at = $2 WHERE id = $3")
                .bind(changed.spec_json().to_string())
                .bind(now_millis())
                .bind(changed.id.to_string())
                .execute(&mut *tx)
                .await?;
            bump_schema!(tx, table);
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.fresh_schema(table).await
    }

    /// Sets the display order: `order` must list every field once.
    pub async fn reorder_fields(
        &self,
        table: TableId,
        order: &[FieldId],
    ) -> Result<TableSchema, StoreError> {
        let schema = self.fresh_schema(table).await?;
        let complete = order.len() == schema.fields.len()
            && schema.fields.iter().all(|f| order.contains(&f.id));
        if !complete {
            return Err(StoreError::Invalid(CoreError::InvalidField {
                field: "order".into(),
                reason: "must list every field of the table exactly once".into(),
            }));
        }
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            for (position, id) in order.iter().enumerate() {
                sqlx::query("UPDATE data_fields SET position = $1 WHERE id = $2")
                    .bind(position as i64 + 1)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            bump_schema!(tx, table);
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.fresh_schema(table).await
    }

    /// Deletes a field and its data. Views that named it forget it when
    /// they are next read.
    pub async fn delete_field(&self, table: TableId, field: FieldId) -> Result<(), StoreError> {
        let schema = self.fresh_schema(table).await?;
        let def = schema.field(field).ok_or(StoreError::NotFound("field"))?;
        let physical = ident(&physical_table(table))?;
        let mut ddl = Vec::new();
        if def.kind.has_column() {
            for prefix in ["u", "i"] {
                ddl.push(format!(
                    "DROP INDEX IF EXISTS {}",
                    index_name(prefix, field)?
                ));
            }
            for column in stored_columns(def)? {
                ddl.push(format!("ALTER TABLE {physical} DROP COLUMN {column}"));
            }
        } else {
            ddl.push(format!("DROP TABLE {}", ident(&junction_table(field))?));
        }
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            for statement in ddl {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM data_fields WHERE id = $1")
                .bind(field.to_string())
                .execute(&mut *tx)
                .await?;
            bump_schema!(tx, table);
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.schema_changed();
        Ok(())
    }
}
