//! When records are deleted, the records that link to them change too:
//! their single links are cleared and their many-to-many links lose the
//! deleted ids. Those records get a new version and a history entry like
//! any other change, so an ETag never stands for two contents.

/// Link fields of any table (live or in the recycle bin) that point at
/// `target`: `(source table, field, quoted column or junction, multiple)`.
macro_rules! inbound_links {
    ($tx:expr, $target:expr) => {{
        let target: TableId = $target;
        let rows =
            sqlx::query("SELECT table_id, id, definition, column_generation FROM data_fields")
                .fetch_all(&mut *$tx)
                .await?;
        let mut found: Vec<(TableId, FieldId, String, bool)> = Vec::new();
        for row in &rows {
            let spec: Json = serde_json::from_str(&row.try_get::<String, _>("definition")?)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let here = spec["type"] == "link"
                && spec["table"].as_str() == Some(target.to_string().as_str());
            if !here {
                continue;
            }
            let table = TableId::parse(&row.try_get::<String, _>("table_id")?)?;
            let field = FieldId::parse(&row.try_get::<String, _>("id")?)?;
            let generation: i64 = row.try_get("column_generation")?;
            let multiple = spec["multiple"] == true;
            let storage = if multiple {
                junction_table(field)
            } else {
                field_column(field, u32::try_from(generation).unwrap_or(0))
            };
            found.push((table, field, ident(&storage)?, multiple));
        }
        found
    }};
}

/// Clears links into the records `gone` of `$table` (ids in one chunk),
/// bumping each linking record's version once, with one history entry
/// naming every link field of it that changed. Records of `$table` in
/// `$deleting` (the whole batch, not only this chunk) are left to their
/// delete: their own revision takes the next version.
macro_rules! unlink_inbound {
    ($tx:expr, $table:expr, $inbound:expr, $gone:expr, $deleting:expr, $actor:expr, $at:expr) => {{
        let table: &TableSchema = $table;
        let gone: &[i64] = $gone;
        let deleting: &std::collections::HashSet<i64> = $deleting;
        let actor: Actor = $actor;
        let at: chrono::DateTime<chrono::Utc> = $at;
        let mut params = Params::on(&*$tx);
        let list = gone
            .iter()
            .map(|id| params.push(Param::Int(Some(*id))))
            .collect::<Vec<_>>()
            .join(", ");
        // (source table, record) → (version before, [(field, old, new)])
        let mut changed: std::collections::BTreeMap<
            (TableId, i64),
            (i64, Vec<(FieldId, Json, Json)>),
        > = std::collections::BTreeMap::new();
        for (source, field, storage, multiple) in $inbound {
            let source: TableId = *source;
            let physical = ident(&physical_table(source))?;
            if *multiple {
                let hit = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT DISTINCT j.src, r.version FROM {storage} j JOIN {physical} r \
                     ON r.id = j.src WHERE j.dst IN ({list})"
                )))
                .bind_params(params.0.clone())
                .fetch_all(&mut *$tx)
                .await?;
                for row in &hit {
                    let src: i64 = row.try_get(0)?;
                    if source == table.id && deleting.contains(&src) {
                        continue;
                    }
                    let old: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT dst FROM {storage} WHERE src = $1 ORDER BY position"
                    )))
                    .bind(src)
                    .fetch_all(&mut *$tx)
                    .await?;
                    let new: Vec<i64> = old.iter().copied().filter(|d| !gone.contains(d)).collect();
                    let version: i64 = row.try_get(1)?;
                    let entry = changed
                        .entry((source, src))
                        .or_insert_with(|| (version, Vec::new()));
                    entry.0 = version;
                    entry.1.push((*field, Json::from(old), Json::from(new)));
                }
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {storage} WHERE dst IN ({list})"
                )))
                .bind_params(params.0.clone())
                .execute(&mut *$tx)
                .await?;
            } else {
                let hit = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT id, version, {storage} FROM {physical} WHERE {storage} IN ({list})"
                )))
                .bind_params(params.0.clone())
                .fetch_all(&mut *$tx)
                .await?;
                for row in &hit {
                    let id: i64 = row.try_get(0)?;
                    if source == table.id && deleting.contains(&id) {
                        continue;
                    }
                    let old: i64 = row.try_get(2)?;
                    let version: i64 = row.try_get(1)?;
                    let entry = changed
                        .entry((source, id))
                        .or_insert_with(|| (version, Vec::new()));
                    entry.0 = version;
                    entry.1.push((*field, Json::from(old), Json::Null));
                }
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE {physical} SET {storage} = NULL WHERE {storage} IN ({list})"
                )))
                .bind_params(params.0.clone())
                .execute(&mut *$tx)
                .await?;
            }
        }
        let mut by_table: std::collections::BTreeMap<
            TableId,
            Vec<(i64, i64, &str, Option<String>, i64, String, Option<i64>)>,
        > = std::collections::BTreeMap::new();
        for ((source, id), (version, fields)) in &changed {
            let physical = ident(&physical_table(*source))?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {physical} SET version = $1, updated_at = $2, updated_by = $3 WHERE id = $4"
            )))
            .bind_params(vec![
                Param::Int(Some(version + 1)),
                Param::DateTime(Some(at)),
                Param::Text(actor.text()),
                Param::Int(Some(*id)),
            ])
            .execute(&mut *$tx)
            .await?;
            by_table.entry(*source).or_default().push((
                *id,
                version + 1,
                "update",
                actor.text(),
                at.timestamp_millis(),
                changes_json(fields),
                None,
            ));
        }
        for (source, revisions) in by_table {
            insert_revisions!($tx, source, revisions);
        }
    }};
}
