//! Reading records: one by id, or a filtered, sorted page continued by a
//! keyset cursor (no OFFSET, so page 1,000 costs what page 1 costs).

use citadel_core::access::TableAccess;
use citadel_core::access::{ReadsRows, TableOperation};
use citadel_core::data::listing::{Cursor, SortKey};
use citadel_core::data::query::{Predicate, SqlValue};
use citadel_core::data::table::{junction_table, physical_table};
use citadel_core::data::{Cell, FieldDef, TableSchema};
use citadel_core::{CoreError, FieldId, RecordId};
use sqlx::Row;

use super::apps::dialect;
use super::rows::ReadRow;
use super::sealing::Sealer;
use super::sql::{BindParams, ColumnType, Param, Params, column, ident, render};
use super::{RecordPage, RecordRow};
use crate::StoreError;
use crate::db::{on_pool, read_inline_first};
use crate::inline::{each_row, first_row};
use crate::tenant_db::TenantDb;
use rusqlite::params_from_iter;

/// What a listing asks for.
#[derive(Clone, Debug, Default)]
pub struct ListRequest {
    pub filter: Option<Predicate>,
    pub sort: Vec<SortKey>,
    pub after: Option<Cursor>,
    pub limit: u32,
    /// The user fields to return; all when `None`.
    pub fields: Option<Vec<FieldId>>,
    pub count: bool,
}

/// The SELECT list for a table: system fields, then the chosen fields
/// that have a column. Returns the SQL and the fields in column order.
pub(crate) fn select_list<'a>(
    table: &'a TableSchema,
    fields: Option<&[FieldId]>,
) -> Result<(String, Vec<&'a FieldDef>), StoreError> {
    let chosen: Vec<&FieldDef> = table
        .fields
        .iter()
        .filter(|f| fields.is_none_or(|ids| ids.contains(&f.id)))
        .collect();
    let mut sql =
        String::from("r.id, r.version, r.created_at, r.created_by, r.updated_at, r.updated_by");
    for field in chosen.iter().filter(|f| f.kind.has_column()) {
        sql.push_str(", r.");
        sql.push_str(&ident(&field.column)?);
    }
    Ok((sql, chosen))
}

/// Decodes a row selected with [`select_list`]. Many-to-many cells are
/// left empty here and filled by [`fill_links`].
pub(crate) fn decode_row<R: ReadRow>(
    row: &R,
    chosen: &[&FieldDef],
    sealer: Option<&Sealer>,
) -> Result<RecordRow, StoreError> {
    let missing = || StoreError::Corrupt("system column is NULL".into());
    let id = row.int(0)?.ok_or_else(missing)?;
    let mut cells = Vec::with_capacity(chosen.len());
    let mut index = 6;
    for field in chosen {
        if field.kind.has_column() {
            cells.push((field.id, row.field_cell(index, field, id, sealer)?));
            index += 1;
        } else {
            cells.push((field.id, Cell::Links(Vec::new())));
        }
    }
    Ok(RecordRow {
        id: RecordId(id),
        version: row.int(1)?.ok_or_else(missing)?,
        created_at: row.date_time(2)?.ok_or_else(missing)?,
        created_by: row.text(3)?,
        updated_at: row.date_time(4)?.ok_or_else(missing)?,
        updated_by: row.text(5)?,
        cells,
    })
}

/// Whether the chosen fields are all read by the one SELECT: a
/// many-to-many link's values are read from its junction table apart.
fn in_one_query(chosen: &[&FieldDef]) -> bool {
    chosen.iter().all(|f| f.kind.has_column())
}

/// A page as its rows arrive: each decoded, and the cursor after the
/// page's last row kept for when a row beyond the page follows.
struct PageRows<'a> {
    chosen: &'a [&'a FieldDef],
    sealer: Option<&'a Sealer>,
    sort_columns: &'a [(String, ColumnType)],
    /// Where the sort columns start in a row.
    sort_start: usize,
    limit: usize,
    rows: Vec<RecordRow>,
    last: Option<Cursor>,
    more: bool,
}

impl PageRows<'_> {
    /// Takes the next row; `false` once the page is full and a row beyond
    /// it has been seen.
    fn take(&mut self, row: &impl ReadRow) -> Result<bool, StoreError> {
        if self.rows.len() == self.limit {
            self.more = true;
            return Ok(false);
        }
        self.rows.push(decode_row(row, self.chosen, self.sealer)?);
        if self.rows.len() == self.limit {
            let values = self
                .sort_columns
                .iter()
                .enumerate()
                .map(|(k, (_, ty))| row.sql_value(self.sort_start + k, *ty))
                .collect::<Result<_, _>>()?;
            self.last = Some(Cursor {
                values,
                id: row.int(0)?.unwrap_or_default(),
            });
        }
        Ok(true)
    }

    fn finish(self, total: Option<i64>) -> RecordPage {
        RecordPage {
            records: self.rows,
            next: if self.more { self.last } else { None },
            total,
        }
    }
}

/// Loads many-to-many links for the records in `rows`, in link order.
macro_rules! fill_links {
    ($conn:expr, $rows:expr, $chosen:expr) => {{
        let rows: &mut Vec<RecordRow> = $rows;
        let chosen: &[&FieldDef] = $chosen;
        let ids: Vec<i64> = rows.iter().map(|r| r.id.0).collect();
        for (slot, field) in chosen.iter().enumerate() {
            if field.kind.has_column() || ids.is_empty() {
                continue;
            }
            let junction = ident(&junction_table(field.id))?;
            for chunk in ids.chunks(500) {
                let mut params = Params::on(&*$conn);
                let list: Vec<String> = chunk
                    .iter()
                    .map(|id| params.push(Param::Int(Some(*id))))
                    .collect();
                let links = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT src, dst FROM {junction} WHERE src IN ({}) ORDER BY src, position",
                    list.join(", ")
                )))
                .bind_params(params.0)
                .fetch_all(&mut *$conn)
                .await?;
                for link in &links {
                    let src: i64 = link.try_get(0)?;
                    let dst: i64 = link.try_get(1)?;
                    if let Some(row) = rows.iter_mut().find(|r| r.id.0 == src)
                        && let Some((_, Cell::Links(targets))) = row.cells.get_mut(slot)
                    {
                        targets.push(RecordId(dst));
                    }
                }
            }
        }
    }};
}
pub(crate) use fill_links;

/// The keyset condition "comes after `cursor`" for `sort` then id. NULLs
/// sort first ascending and last descending, on both backends.
fn after_cursor(
    sort: &[SortKey],
    cursor: &Cursor,
    table: &TableSchema,
    params: &mut Params,
) -> Result<String, StoreError> {
    let mut alternatives = Vec::new();
    for i in 0..=sort.len() {
        let mut terms = Vec::new();
        for (key, value) in sort.iter().zip(&cursor.values).take(i) {
            let (col, ty) = column(key.target, table)?;
            terms.push(match value {
                SqlValue::Null => format!("{col} IS NULL"),
                v => format!("{col} = {}", params.push(Param::from_value(v, ty))),
            });
        }
        let last = match sort.get(i) {
            None => format!("r.id > {}", params.push(Param::Int(Some(cursor.id)))),
            Some(key) => {
                let (col, ty) = column(key.target, table)?;
                match (&cursor.values[i], key.descending) {
                    (SqlValue::Null, false) => format!("{col} IS NOT NULL"),
                    (SqlValue::Null, true) => continue,
                    (v, false) => format!("{col} > {}", params.push(Param::from_value(v, ty))),
                    (v, true) => format!(
                        "({col} < {} OR {col} IS NULL)",
                        params.push(Param::from_value(v, ty))
                    ),
                }
            }
        };
        terms.push(last);
        alternatives.push(format!("({})", terms.join(" AND ")));
    }
    Ok(format!("({})", alternatives.join(" OR ")))
}

fn fits(value: &SqlValue, ty: ColumnType) -> bool {
    matches!(
        (value, ty),
        (SqlValue::Null, _)
            | (SqlValue::Int(_), ColumnType::Int)
            | (SqlValue::Text(_), ColumnType::Text)
            | (SqlValue::Bool(_), ColumnType::Bool)
            | (SqlValue::Date(_), ColumnType::Date)
            | (SqlValue::DateTime(_), ColumnType::DateTime)
    )
}

fn bad_cursor() -> StoreError {
    StoreError::Invalid(CoreError::InvalidField {
        field: "cursor".into(),
        reason: "the cursor is not valid for this listing".into(),
    })
}

impl TenantDb {
    /// One record the decision lets its holder read: its visible fields,
    /// and only if it lies in the operation's rows (otherwise not found).
    pub async fn get_record<Op: ReadsRows>(
        &self,
        access: &TableAccess<Op>,
        id: RecordId,
    ) -> Result<RecordRow, StoreError> {
        let table = access.full_schema();
        let sealer = self.sealer(table).await?;
        let sealer = sealer.as_ref();
        let (select, chosen) = select_list(access.schema(), None)?;
        let physical = ident(&physical_table(table.id))?;
        let mut params = Params::new(dialect(&self.pool));
        let id_param = params.push(Param::Int(Some(id.0)));
        let scope = match access.rows() {
            Some(rows) => format!(
                " AND {}",
                render(rows, table, dialect(&self.pool), sealer, &mut params)?
            ),
            None => String::new(),
        };
        let sql = format!("SELECT {select} FROM {physical} r WHERE r.id = {id_param}{scope}");
        // Links kept in a junction table take queries of their own: those
        // reads go the usual way.
        let found: Result<RecordRow, StoreError> = async {
            read_inline_first!(
                &self.pool,
                when in_one_query(&chosen),
                inline | conn | {
                    first_row(conn, &sql, params_from_iter(&params.0), |row| {
                        decode_row(row, &chosen, sealer)
                    })?
                    .ok_or(StoreError::NotFound("record"))
                },
                pooled | conn | {
                    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind_params(params.0)
                        .fetch_optional(&mut *conn)
                        .await?
                        .ok_or(StoreError::NotFound("record"))?;
                    let mut rows = vec![decode_row(&row, &chosen, sealer)?];
                    fill_links!(conn, &mut rows, &chosen);
                    rows.pop().ok_or(StoreError::NotFound("record"))
                }
            )
        }
        .await;
        self.noticed(found).await
    }

    /// A page of the records the decision lets its holder read, with
    /// their visible fields. The rows the operation reaches are a
    /// condition of the query itself.
    pub async fn list_records<Op: ReadsRows>(
        &self,
        access: &TableAccess<Op>,
        request: &ListRequest,
    ) -> Result<RecordPage, StoreError> {
        let dialect = dialect(&self.pool);
        let table = access.full_schema();
        let sealer = self.sealer(table).await?;
        let sealer = sealer.as_ref();
        // Chosen from the visible fields only, whatever the request names.
        let (select, chosen) = select_list(access.schema(), request.fields.as_deref())?;
        let physical = ident(&physical_table(table.id))?;
        let mut params = Params::new(dialect);
        let mut conditions = Vec::new();
        if let Some(rows) = access.rows() {
            conditions.push(render(rows, table, dialect, sealer, &mut params)?);
        }
        if let Some(filter) = &request.filter {
            conditions.push(render(filter, table, dialect, sealer, &mut params)?);
        }
        let count_sql = request.count.then(|| {
            format!(
                "SELECT COUNT(*) FROM {physical} r{}",
                if conditions.is_empty() {
                    String::new()
                } else {
                    format!(" WHERE {}", conditions.join(" AND "))
                }
            )
        });
        let count_params = params.0.clone();
        let mut sort_columns = Vec::new();
        for key in &request.sort {
            sort_columns.push(column(key.target, table)?);
        }
        if let Some(cursor) = &request.after {
            let valid = cursor.values.len() == request.sort.len()
                && cursor
                    .values
                    .iter()
                    .zip(&sort_columns)
                    .all(|(v, (_, ty))| fits(v, *ty));
            if !valid {
                return Err(bad_cursor());
            }
            conditions.push(after_cursor(&request.sort, cursor, table, &mut params)?);
        }
        let mut order: Vec<String> = request
            .sort
            .iter()
            .zip(&sort_columns)
            .map(|(key, (col, _))| {
                if key.descending {
                    format!("{col} DESC NULLS LAST")
                } else {
                    format!("{col} ASC NULLS FIRST")
                }
            })
            .collect();
        order.push("r.id ASC".into());
        // The page size is written into the statement, not bound: SQLite
        // (3.51) reads a bound LIMIT while planning, and then plans the
        // statement afresh at every step after a new binding, which cost a
        // tenth of a list's CPU. It is a number the server computed, and the
        // few sizes clients ask for each keep their cached statement.
        let limit = u64::from(request.limit) + 1;
        let sql = format!(
            "SELECT {select}{extra} FROM {physical} r{where_clause} ORDER BY {} LIMIT {limit}",
            order.join(", "),
            extra = sort_columns
                .iter()
                .map(|(col, _)| format!(", {col}"))
                .collect::<String>(),
            where_clause = if conditions.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", conditions.join(" AND "))
            },
        );
        let limit = request.limit as usize;
        let page = || PageRows {
            chosen: &chosen,
            sealer,
            sort_columns: &sort_columns,
            sort_start: 6 + chosen.iter().filter(|f| f.kind.has_column()).count(),
            limit,
            // A page asks for up to 1,000 rows; most pages are far shorter.
            rows: Vec::with_capacity(limit.min(100)),
            last: None,
            more: false,
        };
        let listed: Result<RecordPage, StoreError> = async {
            read_inline_first!(
                &self.pool,
                when in_one_query(&chosen),
                inline | conn | {
                    let mut page = page();
                    each_row(conn, &sql, params_from_iter(&params.0), |row| page.take(row))?;
                    let total = match &count_sql {
                        Some(sql) => {
                            first_row(conn, sql, params_from_iter(&count_params), |row| {
                                row.int(0)
                            })?
                            .flatten()
                        }
                        None => None,
                    };
                    Ok(page.finish(total))
                },
                pooled | conn | {
                    let found = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind_params(params.0)
                        .fetch_all(&mut *conn)
                        .await?;
                    let mut page = page();
                    for row in &found {
                        if !page.take(row)? {
                            break;
                        }
                    }
                    fill_links!(conn, &mut page.rows, &chosen);
                    let total = match count_sql {
                        Some(sql) => Some(
                            sqlx::query(sqlx::AssertSqlSafe(sql))
                                .bind_params(count_params)
                                .fetch_one(&mut *conn)
                                .await?
                                .try_get::<i64, _>(0)?,
                        ),
                        None => None,
                    };
                    Ok(page.finish(total))
                }
            )
        }
        .await;
        self.noticed(listed).await
    }
}

impl TenantDb {
    /// How many records the decision's operation reaches, and whether
    /// `record` (if given) is among them: for explanations and previews of
    /// permission changes, which count rows and never read them.
    pub async fn reach<Op: TableOperation>(
        &self,
        access: &TableAccess<Op>,
        record: Option<RecordId>,
    ) -> Result<(i64, Option<bool>), StoreError> {
        let dialect = dialect(&self.pool);
        let table = access.full_schema();
        let sealer = self.sealer(table).await?;
        let physical = ident(&physical_table(table.id))?;
        let mut params = Params::new(dialect);
        let scope = match access.rows() {
            Some(rows) => render(rows, table, dialect, sealer.as_ref(), &mut params)?,
            None => "1=1".to_owned(),
        };
        let count_sql = format!("SELECT COUNT(*) FROM {physical} r WHERE {scope}");
        let count_params = params.0.clone();
        let id = params.push(Param::Int(Some(record.map_or(0, |r| r.0))));
        // Placeholders are positional on SQLite: the id comes after the scope.
        let one_sql = format!("SELECT COUNT(*) FROM {physical} r WHERE {scope} AND r.id = {id}");
        on_pool!(&self.pool, |p| {
            let mut conn = p.acquire().await?;
            let count: i64 = sqlx::query(sqlx::AssertSqlSafe(count_sql))
                .bind_params(count_params)
                .fetch_one(&mut *conn)
                .await?
                .try_get(0)?;
            let within = match record {
                Some(_) => {
                    let found: i64 = sqlx::query(sqlx::AssertSqlSafe(one_sql))
                        .bind_params(params.0)
                        .fetch_one(&mut *conn)
                        .await?
                        .try_get(0)?;
                    Some(found > 0)
                }
                None => None,
            };
            Ok((count, within))
        })
    }
}
