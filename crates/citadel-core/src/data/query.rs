//! Typing a parsed filter against a table: every name resolved to a column,
//! every value converted to the column's type, every operator checked to
//! make sense for it. The store turns the result into SQL whose values are
//! all bound parameters.

use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::data::decimal::Decimal;
use crate::data::schema::{FieldDef, FieldKind};
use crate::data::table::{SystemField, TableSchema, Target};
use crate::data::value::{read_date, read_date_time};
use crate::filter::{Comparison, Condition, Filter, Literal, Operand, Test};
use crate::{CoreError, DepartmentId, FieldId, RecordId, UserId};

/// A value bound into SQL, typed for its column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

/// A filter resolved against one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Predicate {
    All(Vec<Predicate>),
    Any(Vec<Predicate>),
    Not(Box<Predicate>),
    Compare {
        target: Target,
        op: Comparison,
        value: SqlValue,
    },
    /// Empty: no value (empty text is stored as no value).
    IsNull(Target),
    In {
        target: Target,
        values: Vec<SqlValue>,
    },
    /// Case-insensitive substring or prefix match on a text column.
    Like {
        target: Target,
        needle: String,
        prefix_only: bool,
    },
    /// A multi select holds this choice.
    HasChoice {
        target: Target,
        choice: String,
    },
    /// An encrypted field holds one of these values (in their canonical
    /// form), matched through the field's blind index.
    Blind {
        field: FieldId,
        values: Vec<String>,
    },
    /// A many-to-many link points at this record.
    HasLink {
        field: FieldId,
        record: RecordId,
    },
    /// A many-to-many link points at nothing.
    NoLinks {
        field: FieldId,
    },
    /// The record was created by a member of one of these departments
    /// (a row scope; the filter language has no way to say it).
    CreatorInDepartments(Vec<DepartmentId>),
}

/// What relative values mean for the one asking.
#[derive(Clone, Copy, Debug)]
pub struct FilterContext {
    pub today: NaiveDate,
    pub offset: FixedOffset,
    pub me: Option<UserId>,
    pub my_department: Option<DepartmentId>,
}

impl FilterContext {
    pub fn at(now: DateTime<Utc>, offset: FixedOffset) -> Self {
        Self {
            today: now.with_timezone(&offset).date_naive(),
            offset,
            me: None,
            my_department: None,
        }
    }
}

/// The type a column compares as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape<'a> {
    Integer,
    Scaled(u8),
    Text { ordered: bool },
    Choice(&'a FieldKind),
    Choices(&'a FieldKind),
    Bool,
    Date,
    DateTime,
    UserRef,
    DepartmentRef,
    Link,
    Links,
}

fn bad(field: &str, reason: impl Into<String>) -> CoreError {
    CoreError::InvalidField {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// Resolves `filter` against `table`. Names must exist; values must fit.
pub fn resolve(
    filter: &Filter,
    table: &TableSchema,
    context: &FilterContext,
) -> Result<Predicate, CoreError> {
    match filter {
        Filter::And(parts) => parts
            .iter()
            .map(|p| resolve(p, table, context))
            .collect::<Result<_, _>>()
            .map(Predicate::All),
        Filter::Or(parts) => parts
            .iter()
            .map(|p| resolve(p, table, context))
            .collect::<Result<_, _>>()
            .map(Predicate::Any),
        Filter::Not(inner) => Ok(Predicate::Not(Box::new(resolve(inner, table, context)?))),
        Filter::Condition(condition) => condition_predicate(condition, table, context),
    }
}

fn shape_of(target: Target, table: &TableSchema) -> Option<Shape<'_>> {
    Some(match target {
        Target::System(SystemField::Id | SystemField::Version) => Shape::Integer,
        Target::System(SystemField::CreatedAt | SystemField::UpdatedAt) => Shape::DateTime,
        Target::System(SystemField::CreatedBy | SystemField::UpdatedBy) => Shape::UserRef,
        Target::Field(id) => field_shape(table.field(id)?),
    })
}

fn field_shape(field: &FieldDef) -> Shape<'_> {
    match &field.kind {
        FieldKind::Integer | FieldKind::AutoNumber => Shape::Integer,
        FieldKind::Decimal { scale, .. }
        | FieldKind::Currency { scale, .. }
        | FieldKind::Percent { scale } => Shape::Scaled(*scale),
        FieldKind::Boolean => Shape::Bool,
        FieldKind::Date => Shape::Date,
        FieldKind::DateTime => Shape::DateTime,
        kind @ FieldKind::SingleSelect { .. } => Shape::Choice(kind),
        kind @ FieldKind::MultiSelect { .. } => Shape::Choices(kind),
        FieldKind::User => Shape::UserRef,
        FieldKind::Department => Shape::DepartmentRef,
        FieldKind::Link {
            multiple: false, ..
        } => Shape::Link,
        FieldKind::Link { multiple: true, .. } => Shape::Links,
        FieldKind::LongText => Shape::Text { ordered: false },
        _ => Shape::Text { ordered: true },
    }
}

fn condition_predicate(
    condition: &Condition,
    table: &TableSchema,
    context: &FilterContext,
) -> Result<Predicate, CoreError> {
    let name = condition.field.as_str();
    let target = table
        .target(name)
        .ok_or_else(|| bad(name, "no such field in this table"))?;
    if let Target::Field(id) = target
        && let Some(field) = table.field(id)
        && field.options.encrypted
    {
        return sealed_test(field, name, &condition.test, context);
    }
    let shape = shape_of(target, table).ok_or_else(|| bad(name, "no such field"))?;
    let typed = Typing {
        name,
        target,
        shape,
        context,
    };
    typed.test(&condition.test)
}

/// A test on an encrypted field: only whole-value equality, through the
/// blind index, and emptiness. Order and substrings are not in a keyed
/// hash, and comparing them would need the plaintext in the database.
fn sealed_test(
    field: &FieldDef,
    name: &str,
    test: &Test,
    context: &FilterContext,
) -> Result<Predicate, CoreError> {
    let target = Target::Field(field.id);
    let blind = |operands: &[Operand]| -> Result<Predicate, CoreError> {
        let values = operands
            .iter()
            .map(|o| sealed_value(field, name, o, context))
            .collect::<Result<_, _>>()?;
        Ok(Predicate::Blind {
            field: field.id,
            values,
        })
    };
    match test {
        Test::IsEmpty => Ok(Predicate::IsNull(target)),
        Test::IsNotEmpty => Ok(Predicate::Not(Box::new(Predicate::IsNull(target)))),
        Test::Compare(Comparison::Eq, operand) => blind(std::slice::from_ref(operand)),
        Test::Compare(Comparison::Ne, operand) => Ok(Predicate::Not(Box::new(blind(
            std::slice::from_ref(operand),
        )?))),
        Test::In(operands) => blind(operands),
        Test::NotIn(operands) => Ok(Predicate::Not(Box::new(blind(operands)?))),
        _ => Err(bad(
            name,
            "is encrypted: only =, !=, in, not in and is empty apply to it \
             (its blind index matches whole values, not ranges or parts)",
        )),
    }
}

fn sealed_value(
    field: &FieldDef,
    name: &str,
    operand: &Operand,
    context: &FilterContext,
) -> Result<String, CoreError> {
    let Operand::Literal(literal) = operand else {
        return Err(bad(name, "expects a value"));
    };
    let input = match literal {
        Literal::Text(t) | Literal::Number(t) => serde_json::Value::String(t.clone()),
        Literal::Bool(b) => serde_json::Value::Bool(*b),
    };
    let cell = field.read_value(&input, context.offset)?;
    if cell.is_empty() {
        return Err(bad(name, "use `is empty` to find records without a value"));
    }
    Ok(cell.canonical())
}

struct Typing<'a> {
    name: &'a str,
    target: Target,
    shape: Shape<'a>,
    context: &'a FilterContext,
}

impl Typing<'_> {
    fn refuse(&self, what: &str) -> CoreError {
        bad(
            self.name,
            format!("{what} does not apply to this field's type"),
        )
    }

    fn test(&self, test: &Test) -> Result<Predicate, CoreError> {
        let target = self.target;
        match test {
            Test::IsEmpty => Ok(self.empty()),
            Test::IsNotEmpty => Ok(Predicate::Not(Box::new(self.empty()))),
            Test::Compare(op, operand) => self.compare(*op, operand),
            Test::Contains(literal) | Test::NotContains(literal) => {
                let positive = match self.shape {
                    Shape::Text { .. } => Predicate::Like {
                        target,
                        needle: self.text_literal(literal)?,
                        prefix_only: false,
                    },
                    Shape::Choices(_) | Shape::Links => {
                        self.membership(&Operand::Literal(literal.clone()))?
                    }
                    _ => return Err(self.refuse("`contains`")),
                };
                Ok(negate_if(matches!(test, Test::NotContains(_)), positive))
            }
            Test::StartsWith(literal) => match self.shape {
                Shape::Text { .. } => Ok(Predicate::Like {
                    target,
                    needle: self.text_literal(literal)?,
                    prefix_only: true,
                }),
                _ => Err(self.refuse("`starts with`")),
            },
            Test::In(operands) | Test::NotIn(operands) => {
                let positive = self.any_of(operands)?;
                Ok(negate_if(matches!(test, Test::NotIn(_)), positive))
            }
            Test::Between(low, high) | Test::NotBetween(low, high) => {
                let positive = Predicate::All(vec![
                    self.compare(Comparison::Ge, low)?,
                    self.compare(Comparison::Le, high)?,
                ]);
                Ok(negate_if(matches!(test, Test::NotBetween(..)), positive))
            }
        }
    }

    fn empty(&self) -> Predicate {
        match (self.shape, self.target) {
            (Shape::Links, Target::Field(field)) => Predicate::NoLinks { field },
            // An empty multi select is stored as no value too.
            _ => Predicate::IsNull(self.target),
        }
    }

    fn any_of(&self, operands: &[Operand]) -> Result<Predicate, CoreError> {
        if matches!(self.shape, Shape::Choices(_) | Shape::Links) {
            let parts = operands
                .iter()
                .map(|o| self.membership(o))
                .collect::<Result<_, _>>()?;
            return Ok(Predicate::Any(parts));
        }
        if matches!(self.shape, Shape::Date | Shape::DateTime) {
            let parts = operands
                .iter()
                .map(|o| self.compare(Comparison::Eq, o))
                .collect::<Result<_, _>>()?;
            return Ok(Predicate::Any(parts));
        }
        let values = operands
            .iter()
            .map(|o| self.point(o))
            .collect::<Result<_, _>>()?;
        Ok(Predicate::In {
            target: self.target,
            values,
        })
    }

    /// `contains x` / `= x` on a multi-valued field.
    fn membership(&self, operand: &Operand) -> Result<Predicate, CoreError> {
        match (self.shape, self.target) {
            (Shape::Choices(kind), _) => {
                let SqlValue::Text(choice) = self.choice(kind, operand)? else {
                    return Err(bad(self.name, "expects a choice name"));
                };
                Ok(Predicate::HasChoice {
                    target: self.target,
                    choice,
                })
            }
            (Shape::Links, Target::Field(field)) => Ok(Predicate::HasLink {
                field,
                record: self.record_id(operand)?,
            }),
            _ => Err(self.refuse("membership")),
        }
    }

    fn compare(&self, op: Comparison, operand: &Operand) -> Result<Predicate, CoreError> {
        if matches!(self.shape, Shape::Choices(_) | Shape::Links) {
            return match op {
                Comparison::Eq => self.membership(operand),
                Comparison::Ne => Ok(Predicate::Not(Box::new(self.membership(operand)?))),
                _ => Err(self.refuse("ordering")),
            };
        }
        if let Some((start, end)) = self.span(operand)? {
            return Ok(self.compare_span(op, start, end));
        }
        let ordered = matches!(
            self.shape,
            Shape::Integer | Shape::Scaled(_) | Shape::Text { ordered: true }
        );
        if !matches!(op, Comparison::Eq | Comparison::Ne) && !ordered {
            return Err(self.refuse("`<`, `>` and `between`"));
        }
        Ok(Predicate::Compare {
            target: self.target,
            op,
            value: self.point(operand)?,
        })
    }

    /// Dates and date-times compare with spans: a day, a period, and for a
    /// date-time, the whole local day a bare date names.
    fn span(&self, operand: &Operand) -> Result<Option<(SqlValue, SqlValue)>, CoreError> {
        let days = match (self.shape, operand) {
            (Shape::Date | Shape::DateTime, Operand::Period(period)) => {
                period.range(self.context.today)
            }
            (Shape::Date, Operand::Literal(Literal::Text(text))) => {
                let day = read_date(text).map_err(|r| bad(self.name, r))?;
                (day, next_day(day)?)
            }
            (Shape::DateTime, Operand::Literal(Literal::Text(text))) => {
                if let Ok(day) = read_date(text) {
                    (day, next_day(day)?)
                } else {
                    let at =
                        read_date_time(text, self.context.offset).map_err(|r| bad(self.name, r))?;
                    return Ok(Some((
                        SqlValue::DateTime(at),
                        SqlValue::DateTime(at + chrono::Duration::milliseconds(1)),
                    )));
                }
            }
            (Shape::Date | Shape::DateTime, _) => {
                return Err(bad(
                    self.name,
                    "expects a date such as '2026-11-22' or a period such as today",
                ));
            }
            _ => return Ok(None),
        };
        Ok(Some(match self.shape {
            Shape::DateTime => (
                SqlValue::DateTime(self.local_midnight(days.0)?),
                SqlValue::DateTime(self.local_midnight(days.1)?),
            ),
            _ => (SqlValue::Date(days.0), SqlValue::Date(days.1)),
        }))
    }

    fn local_midnight(&self, day: NaiveDate) -> Result<DateTime<Utc>, CoreError> {
        self.context
            .offset
            .from_local_datetime(&day.and_time(NaiveTime::MIN))
            .single()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| bad(self.name, "date out of range"))
    }

    /// A span is half-open: [start, end).
    fn compare_span(&self, op: Comparison, start: SqlValue, end: SqlValue) -> Predicate {
        let target = self.target;
        let cmp = |op, value| Predicate::Compare { target, op, value };
        match op {
            Comparison::Eq => {
                Predicate::All(vec![cmp(Comparison::Ge, start), cmp(Comparison::Lt, end)])
            }
            Comparison::Ne => Predicate::Not(Box::new(Predicate::All(vec![
                cmp(Comparison::Ge, start),
                cmp(Comparison::Lt, end),
            ]))),
            Comparison::Lt => cmp(Comparison::Lt, start),
            Comparison::Le => cmp(Comparison::Lt, end),
            Comparison::Gt => cmp(Comparison::Ge, end),
            Comparison::Ge => cmp(Comparison::Ge, start),
        }
    }

    /// One value of the column's type.
    fn point(&self, operand: &Operand) -> Result<SqlValue, CoreError> {
        let name = self.name;
        match (self.shape, operand) {
            (Shape::UserRef, Operand::Variable(v)) if v == "me" => self
                .context
                .me
                .map(|id| SqlValue::Text(id.to_string()))
                .ok_or_else(|| bad(name, "$me has no value here")),
            (Shape::DepartmentRef, Operand::Variable(v)) if v == "my_department" => Ok(self
                .context
                .my_department
                .map_or(SqlValue::Null, |id| SqlValue::Text(id.to_string()))),
            (_, Operand::Variable(v)) => Err(bad(name, format!("`${v}` cannot be used here"))),
            (_, Operand::Period(_)) => Err(bad(name, "a period applies only to dates")),
            (Shape::Integer, Operand::Literal(Literal::Number(n))) => n
                .parse::<i64>()
                .map(SqlValue::Int)
                .map_err(|_| bad(name, "expects a whole number")),
            (Shape::Scaled(scale), Operand::Literal(Literal::Number(n))) => {
                Decimal::parse(n, scale)
                    .map(|d| SqlValue::Int(d.units()))
                    .map_err(|r| bad(name, r))
            }
            (Shape::Bool, Operand::Literal(Literal::Bool(b))) => Ok(SqlValue::Bool(*b)),
            (Shape::Text { .. }, Operand::Literal(literal)) => {
                self.text_literal(literal).map(SqlValue::Text)
            }
            (Shape::Choice(kind), operand) => self.choice(kind, operand),
            (Shape::UserRef, Operand::Literal(Literal::Text(t))) => UserId::parse(t)
                .map(|id| SqlValue::Text(id.to_string()))
                .map_err(|_| bad(name, "expects a user id or $me")),
            (Shape::DepartmentRef, Operand::Literal(Literal::Text(t))) => DepartmentId::parse(t)
                .map(|id| SqlValue::Text(id.to_string()))
                .map_err(|_| bad(name, "expects a department id or $my_department")),
            (Shape::Link, operand) => self.record_id(operand).map(|id| SqlValue::Int(id.0)),
            (Shape::Integer | Shape::Scaled(_), _) => Err(bad(name, "expects a number")),
            (Shape::Bool, _) => Err(bad(name, "expects true or false")),
            _ => Err(bad(name, "this value does not fit the field's type")),
        }
    }

    fn text_literal(&self, literal: &Literal) -> Result<String, CoreError> {
        match literal {
            Literal::Text(t) | Literal::Number(t) => Ok(t.clone()),
            Literal::Bool(_) => Err(bad(self.name, "expects text")),
        }
    }

    /// A typo in a choice would silently match nothing; say so instead.
    fn choice(&self, kind: &FieldKind, operand: &Operand) -> Result<SqlValue, CoreError> {
        let Operand::Literal(Literal::Text(name)) = operand else {
            return Err(bad(self.name, "expects a choice name in quotes"));
        };
        let known = kind
            .choices()
            .is_some_and(|c| c.iter().any(|c| &c.name == name));
        if !known {
            return Err(bad(
                self.name,
                format!("`{name}` is not one of the field's choices"),
            ));
        }
        Ok(SqlValue::Text(name.clone()))
    }

    fn record_id(&self, operand: &Operand) -> Result<RecordId, CoreError> {
        match operand {
            Operand::Literal(Literal::Number(n)) | Operand::Literal(Literal::Text(n)) => {
                RecordId::parse(n).map_err(|_| bad(self.name, "expects a record id"))
            }
            _ => Err(bad(self.name, "expects a record id")),
        }
    }
}

fn negate_if(negate: bool, predicate: Predicate) -> Predicate {
    if negate {
        Predicate::Not(Box::new(predicate))
    } else {
        predicate
    }
}

fn next_day(day: NaiveDate) -> Result<NaiveDate, CoreError> {
    day.checked_add_days(Days::new(1))
        .ok_or_else(|| bad("date", "out of range"))
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
