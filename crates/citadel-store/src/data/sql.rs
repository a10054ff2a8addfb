//! SQL for user tables, written once for both backends. Identifiers come
//! only from ids (`t_<hex>`, `f_<hex>`); every value is a bound parameter,
//! collected in order in a [`Params`] list and bound by [`BindParams`].

use chrono::{DateTime, NaiveDate, Utc};
use citadel_core::data::query::{Predicate, SqlValue};
use citadel_core::data::table::{SystemField, TableSchema, Target, junction_table};
use citadel_core::data::{FieldDef, FieldKind};
use citadel_core::filter::Comparison;
use rusqlite::types::{ToSqlOutput, Value};
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Postgres, Sqlite};

use super::sealing::{Sealer, blind_column};
use crate::StoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// The storage type of a column, which decides how its values bind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ColumnType {
    Int,
    Text,
    Bool,
    Date,
    /// Milliseconds on SQLite, `timestamptz` on PostgreSQL.
    DateTime,
    /// Ciphertext and blind indexes of encrypted fields.
    Bytes,
}

impl ColumnType {
    pub(crate) fn of_kind(kind: &FieldKind) -> Self {
        match kind {
            FieldKind::Integer
            | FieldKind::AutoNumber
            | FieldKind::Decimal { .. }
            | FieldKind::Currency { .. }
            | FieldKind::Percent { .. }
            | FieldKind::Link { .. } => Self::Int,
            FieldKind::Boolean => Self::Bool,
            FieldKind::Date => Self::Date,
            FieldKind::DateTime => Self::DateTime,
            _ => Self::Text,
        }
    }

    /// The type of a field's own column: its kind's, or bytes when its
    /// values are stored encrypted.
    pub(crate) fn of_field(field: &FieldDef) -> Self {
        if field.options.encrypted {
            Self::Bytes
        } else {
            Self::of_kind(&field.kind)
        }
    }

    pub(crate) fn of_system(field: SystemField) -> Self {
        match field {
            SystemField::Id | SystemField::Version => Self::Int,
            SystemField::CreatedAt | SystemField::UpdatedAt => Self::DateTime,
            SystemField::CreatedBy | SystemField::UpdatedBy => Self::Text,
        }
    }

    pub(crate) fn ddl(self, dialect: Dialect) -> &'static str {
        match (self, dialect) {
            (Self::Int, _) => "BIGINT",
            (Self::Text, Dialect::Sqlite) => "TEXT",
            // Byte order, as SQLite compares: sorting, ranges and cursors
            // then agree across backends whatever the database's locale.
            (Self::Text, Dialect::Postgres) => "TEXT COLLATE \"C\"",
            (Self::Bool, _) => "BOOLEAN",
            (Self::Date, _) => "DATE",
            (Self::DateTime, Dialect::Sqlite) => "BIGINT",
            (Self::DateTime, Dialect::Postgres) => "TIMESTAMPTZ",
            (Self::Bytes, Dialect::Sqlite) => "BLOB",
            (Self::Bytes, Dialect::Postgres) => "BYTEA",
        }
    }
}

/// One bound value, typed even when it is NULL: PostgreSQL checks the type
/// of every parameter, NULL included.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Param {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(Option<bool>),
    Date(Option<NaiveDate>),
    DateTime(Option<DateTime<Utc>>),
    Bytes(Option<Vec<u8>>),
}

impl Param {
    pub(crate) fn null(ty: ColumnType) -> Self {
        match ty {
            ColumnType::Int => Self::Int(None),
            ColumnType::Text => Self::Text(None),
            ColumnType::Bool => Self::Bool(None),
            ColumnType::Date => Self::Date(None),
            ColumnType::DateTime => Self::DateTime(None),
            ColumnType::Bytes => Self::Bytes(None),
        }
    }

    pub(crate) fn from_value(value: &SqlValue, ty: ColumnType) -> Self {
        match value {
            SqlValue::Null => Self::null(ty),
            SqlValue::Int(n) => Self::Int(Some(*n)),
            SqlValue::Text(t) => Self::Text(Some(t.clone())),
            SqlValue::Bool(b) => Self::Bool(Some(*b)),
            SqlValue::Date(d) => Self::Date(Some(*d)),
            SqlValue::DateTime(t) => Self::DateTime(Some(*t)),
        }
    }
}

/// Parameters in the order their placeholders were written, each used
/// once. On SQLite the placeholders are plain `?`: sqlx looks up every
/// numbered parameter's name, which SQLite finds by a linear walk, so a
/// statement with thousands of `$N` (a batch insert) spent most of its time
/// there. Numbered `$N` stay for PostgreSQL, and for `Params::default()`,
/// which both accept.
#[derive(Default, Debug)]
pub(crate) struct Params(pub(crate) Vec<Param>, bool);

/// Which placeholder style a connection's statements take.
pub(crate) trait Placeholders {
    const POSITIONAL: bool;
}

impl Placeholders for sqlx::SqliteConnection {
    const POSITIONAL: bool = true;
}

impl Placeholders for sqlx::PgConnection {
    const POSITIONAL: bool = false;
}

impl Dialect {
    /// The dialect of the statements run on `connection`.
    pub(crate) fn of<C: Placeholders>(_connection: &C) -> Self {
        if C::POSITIONAL {
            Self::Sqlite
        } else {
            Self::Postgres
        }
    }
}

impl Params {
    /// Parameters for statements run on `connection`.
    pub(crate) fn on<C: Placeholders>(connection: &C) -> Self {
        Self::new(Dialect::of(connection))
    }

    pub(crate) fn new(dialect: Dialect) -> Self {
        Self(Vec::new(), dialect == Dialect::Sqlite)
    }

    /// Adds a value and returns its placeholder.
    pub(crate) fn push(&mut self, param: Param) -> String {
        self.0.push(param);
        if self.1 {
            "?".to_owned()
        } else {
            format!("${}", self.0.len())
        }
    }

    /// Adds a value and writes its placeholder to `sql`: for statements of
    /// thousands of parameters, without a string for each.
    pub(crate) fn place(&mut self, param: Param, sql: &mut String) {
        self.0.push(param);
        if self.1 {
            sql.push('?');
        } else {
            use std::fmt::Write as _;
            // Writing to a String cannot fail.
            let _ = write!(sql, "${}", self.0.len());
        }
    }

    /// [`Params::place`] for each of `values`, the placeholders separated
    /// by commas.
    pub(crate) fn place_all(&mut self, values: impl IntoIterator<Item = Param>, sql: &mut String) {
        for (k, value) in values.into_iter().enumerate() {
            if k > 0 {
                sql.push_str(", ");
            }
            self.place(value, sql);
        }
    }
}

/// A statement built ahead of the transaction that runs it: its SQL and
/// its parameters in order.
#[derive(Debug)]
pub(crate) struct Statement {
    pub(crate) sql: String,
    pub(crate) params: Vec<Param>,
}

pub(crate) trait BindParams: Sized {
    fn bind_params(self, params: Vec<Param>) -> Self;
}

impl<'q> BindParams for Query<'q, Sqlite, SqliteArguments> {
    fn bind_params(self, params: Vec<Param>) -> Self {
        params.into_iter().fold(self, |q, p| match p {
            Param::Int(v) => q.bind(v),
            Param::Text(v) => q.bind(v),
            Param::Bool(v) => q.bind(v),
            Param::Date(v) => q.bind(v),
            Param::DateTime(v) => q.bind(v.map(|t| t.timestamp_millis())),
            Param::Bytes(v) => q.bind(v),
        })
    }
}

impl<'q> BindParams for Query<'q, Postgres, PgArguments> {
    fn bind_params(self, params: Vec<Param>) -> Self {
        params.into_iter().fold(self, |q, p| match p {
            Param::Int(v) => q.bind(v),
            Param::Text(v) => q.bind(v),
            Param::Bool(v) => q.bind(v),
            Param::Date(v) => q.bind(v),
            Param::DateTime(v) => q.bind(v),
            Param::Bytes(v) => q.bind(v),
        })
    }
}

/// A parameter of a statement run on the calling thread (`inline.rs`),
/// stored as [`BindParams`] binds it for sqlx on SQLite.
impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Param::Int(v) => v.to_sql(),
            Param::Text(v) => v.to_sql(),
            Param::Bool(v) => v.to_sql(),
            Param::Date(v) => {
                Ok(ToSqlOutput::Owned(v.map_or(Value::Null, |d| {
                    Value::Text(d.format("%F").to_string())
                })))
            }
            Param::DateTime(v) => {
                Ok(ToSqlOutput::Owned(v.map_or(Value::Null, |t| {
                    Value::Integer(t.timestamp_millis())
                })))
            }
            Param::Bytes(v) => v.to_sql(),
        }
    }
}

/// How an index on a field's column is keyed. Listings order ascending
/// with NULLs first (and descending with NULLs last), SQLite's own order;
/// PostgreSQL indexes put NULLs last unless told, and then cannot serve
/// those sorts (a filtered page of 50 on a million rows sorted them all).
pub(crate) fn index_key(column: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite => column.to_owned(),
        Dialect::Postgres => format!("{column} NULLS FIRST"),
    }
}

/// Double-quotes an identifier the store generated. Generated names are
/// `[a-z0-9_]` only; anything else is a bug, refused rather than quoted.
pub(crate) fn ident(name: &str) -> Result<String, StoreError> {
    if name.is_empty()
        || name.len() > 63
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(StoreError::Corrupt(format!("unsafe identifier {name:?}")));
    }
    Ok(format!("\"{name}\""))
}

/// The column a target reads, qualified by the alias `r`.
pub(crate) fn column(
    target: Target,
    table: &TableSchema,
) -> Result<(String, ColumnType), StoreError> {
    match target {
        Target::System(s) => Ok((format!("r.{}", ident(s.name())?), ColumnType::of_system(s))),
        Target::Field(id) => {
            let field = table
                .field(id)
                .ok_or_else(|| StoreError::Corrupt("filter names a missing field".into()))?;
            Ok((
                format!("r.{}", ident(&field.column)?),
                ColumnType::of_field(field),
            ))
        }
    }
}

fn op_sql(op: Comparison) -> &'static str {
    match op {
        Comparison::Eq => "=",
        Comparison::Ne => "<>",
        Comparison::Lt => "<",
        Comparison::Le => "<=",
        Comparison::Gt => ">",
        Comparison::Ge => ">=",
    }
}

fn escape_like(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Renders a predicate. Every leaf is two-valued (never NULL), so `not`
/// means what people expect: `not (status = 'done')` includes rows with
/// no status.
pub(crate) fn render(
    predicate: &Predicate,
    table: &TableSchema,
    dialect: Dialect,
    sealer: Option<&Sealer>,
    params: &mut Params,
) -> Result<String, StoreError> {
    let join =
        |parts: &[Predicate], glue: &str, params: &mut Params| -> Result<String, StoreError> {
            if parts.is_empty() {
                return Ok(if glue == " AND " { "1=1" } else { "1=0" }.into());
            }
            let rendered = parts
                .iter()
                .map(|p| render(p, table, dialect, sealer, params))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(format!("({})", rendered.join(glue)))
        };
    Ok(match predicate {
        Predicate::All(parts) => join(parts, " AND ", params)?,
        Predicate::Any(parts) => join(parts, " OR ", params)?,
        Predicate::Not(inner) => {
            format!("(NOT {})", render(inner, table, dialect, sealer, params)?)
        }
        Predicate::Compare { target, op, value } => {
            let (col, ty) = column(*target, table)?;
            let p = params.push(Param::from_value(value, ty));
            if *op == Comparison::Ne {
                format!("({col} IS NULL OR {col} <> {p})")
            } else {
                format!("({col} IS NOT NULL AND {col} {} {p})", op_sql(*op))
            }
        }
        Predicate::IsNull(target) => format!("({} IS NULL)", column(*target, table)?.0),
        Predicate::In { target, values } => {
            let (col, ty) = column(*target, table)?;
            let list: Vec<String> = values
                .iter()
                .map(|v| params.push(Param::from_value(v, ty)))
                .collect();
            format!("({col} IS NOT NULL AND {col} IN ({}))", list.join(", "))
        }
        Predicate::Like {
            target,
            needle,
            prefix_only,
        } => {
            let (col, _) = column(*target, table)?;
            // Case is ignored for ASCII letters only, on both backends:
            // SQLite's LIKE folds exactly those, and PostgreSQL's lower()
            // folds exactly those under the columns' "C" collation.
            let pattern = format!(
                "{}{}%",
                if *prefix_only { "" } else { "%" },
                escape_like(&needle.to_ascii_lowercase())
            );
            let p = params.push(Param::Text(Some(pattern)));
            let folded = match dialect {
                Dialect::Sqlite => col.clone(),
                Dialect::Postgres => format!("lower({col})"),
            };
            format!("({col} IS NOT NULL AND {folded} LIKE {p} ESCAPE '\\')")
        }
        Predicate::HasChoice { target, choice } => {
            let (col, _) = column(*target, table)?;
            let p = params.push(Param::Text(Some(choice.clone())));
            match dialect {
                Dialect::Sqlite => format!(
                    "({col} IS NOT NULL AND EXISTS (SELECT 1 FROM json_each({col}) WHERE value = {p}))"
                ),
                Dialect::Postgres => {
                    format!("({col} IS NOT NULL AND jsonb_exists({col}::jsonb, {p}))")
                }
            }
        }
        Predicate::Blind { field, values } => {
            let def = table
                .field(*field)
                .ok_or_else(|| StoreError::Corrupt("filter names a missing field".into()))?;
            let sealer = sealer.ok_or_else(|| {
                StoreError::Corrupt("an encrypted field was filtered without its keys".into())
            })?;
            let col = format!("r.{}", ident(&blind_column(&def.column))?);
            let list: Vec<String> = values
                .iter()
                .map(|v| params.push(Param::Bytes(Some(sealer.blind(*field, v)))))
                .collect();
            format!("({col} IS NOT NULL AND {col} IN ({}))", list.join(", "))
        }
        Predicate::HasLink { field, record } => {
            let junction = ident(&junction_table(*field))?;
            let p = params.push(Param::Int(Some(record.0)));
            format!("EXISTS (SELECT 1 FROM {junction} j WHERE j.src = r.id AND j.dst = {p})")
        }
        Predicate::NoLinks { field } => {
            let junction = ident(&junction_table(*field))?;
            format!("NOT EXISTS (SELECT 1 FROM {junction} j WHERE j.src = r.id)")
        }
        Predicate::CreatorInDepartments(departments) => {
            if departments.is_empty() {
                return Ok("1=0".into());
            }
            let list: Vec<String> = departments
                .iter()
                .map(|d| params.push(Param::Text(Some(d.to_string()))))
                .collect();
            format!(
                "(r.created_by IS NOT NULL AND r.created_by IN \
                 (SELECT u.id FROM users u WHERE u.department_id IN ({})))",
                list.join(", ")
            )
        }
    })
}
