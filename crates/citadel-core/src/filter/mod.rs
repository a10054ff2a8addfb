//! The filter language users type to filter the records of their own tables
//! (`?filter=...` in list queries, saved views, row scopes), e.g.
//! `客户名称 contains '华' and (金额 >= 1000 or 状态 in ('新', '跟进'))`.
//!
//! [`parse`] turns the text into a [`Filter`], whose `Display` prints the
//! canonical text of it, which parses back to an equal `Filter`. Field names
//! are not checked against a table here: callers check [`Filter::fields`].
//! The user documentation is `docs/filter-language.md`.
//!
//! Groups are not flattened: `a and b and c` is one `And` of three, while
//! `a and (b and c)` is an `And` holding an `And`, printed back with its
//! parentheses. Both mean the same.

use std::fmt;
use std::str::FromStr;

use crate::CoreError;

mod lexer;
mod parser;
mod period;

#[cfg(test)]
mod tests;

pub use period::MAX_PERIOD_DAYS;

/// The longest filter text, in characters; checked before anything else.
pub const MAX_FILTER_CHARS: usize = 4096;
/// How many parentheses and `not`s may enclose a condition.
pub const MAX_DEPTH: usize = 10;
/// The most conditions one filter may hold.
pub const MAX_CONDITIONS: usize = 100;
/// The most values one `in (...)` list may hold.
pub const MAX_IN_VALUES: usize = 500;
/// The longest field or variable name, in characters (as for table fields).
pub const MAX_NAME_CHARS: usize = 64;

/// A parsed filter. `And` and `Or` produced by [`parse`] hold at least two
/// members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Condition(Condition),
}

/// One test of one field, e.g. `金额 >= 1000`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub field: String,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    Compare(Comparison, Operand),
    Contains(Literal),
    NotContains(Literal),
    StartsWith(Literal),
    In(Vec<Operand>),
    NotIn(Vec<Operand>),
    Between(Operand, Operand),
    NotBetween(Operand, Operand),
    IsEmpty,
    IsNotEmpty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparison {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    Literal(Literal),
    Period(Period),
    /// `$name`, kept by name; what it stands for is decided elsewhere.
    Variable(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    Text(String),
    /// The number exactly as written, e.g. `-12.50`.
    Number(String),
    Bool(bool),
}

/// A relative date; see [`Period::range`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Today,
    Yesterday,
    Tomorrow,
    ThisWeek,
    LastWeek,
    NextWeek,
    ThisMonth,
    LastMonth,
    NextMonth,
    ThisYear,
    LastYear,
    LastDays(u32),
    NextDays(u32),
}

/// Parses filter text. Errors are [`CoreError::Filter`] with the character
/// offset of the problem and a reason safe to show the user.
pub fn parse(input: &str) -> Result<Filter, CoreError> {
    parser::parse(input)
}

impl FromStr for Filter {
    type Err = CoreError;

    fn from_str(input: &str) -> Result<Self, CoreError> {
        parse(input)
    }
}

impl Filter {
    /// The field names referenced, in order of first use, without repeats
    /// (exactly as written: matching them to a table's fields, e.g. without
    /// regard to case, is the caller's business).
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Filter::And(items) | Filter::Or(items) => {
                items.iter().for_each(|f| f.collect_fields(out));
            }
            Filter::Not(inner) => inner.collect_fields(out),
            Filter::Condition(c) => {
                if !out.contains(&c.field.as_str()) {
                    out.push(&c.field);
                }
            }
        }
    }

    /// How many conditions the filter holds.
    pub fn conditions(&self) -> usize {
        match self {
            Filter::And(items) | Filter::Or(items) => items.iter().map(Filter::conditions).sum(),
            Filter::Not(inner) => inner.conditions(),
            Filter::Condition(_) => 1,
        }
    }
}

/// Words with a meaning in the language. In field position a bare word is
/// always a field name (only `not` needs care), but `Display` backticks all
/// of them so the printed text never reads ambiguously.
const KEYWORDS: [&str; 15] = [
    "and", "or", "not", "contains", "starts", "with", "in", "between", "is", "empty", "true",
    "false", "last", "next", "days",
];

fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word)) || Period::from_word(word).is_some()
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// A name that can be written without backticks.
fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_ident_start) && chars.all(is_ident_char)
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Condition(c) => write!(f, "{c}"),
            Filter::Not(inner) => match **inner {
                Filter::And(_) | Filter::Or(_) => write!(f, "not ({inner})"),
                _ => write!(f, "not {inner}"),
            },
            // `and` binds tighter than `or`; a nested group of the same kind
            // keeps its parentheses so the text parses back to the same tree.
            Filter::And(items) => write_group(f, items, "and", |child| {
                matches!(child, Filter::And(_) | Filter::Or(_))
            }),
            Filter::Or(items) => {
                write_group(f, items, "or", |child| matches!(child, Filter::Or(_)))
            }
        }
    }
}

/// Writes `items` joined by `joiner`. A group of one prints just its member;
/// an empty group prints `()`, which does not parse (it has no text).
fn write_group(
    f: &mut fmt::Formatter<'_>,
    items: &[Filter],
    joiner: &str,
    needs_parentheses: impl Fn(&Filter) -> bool,
) -> fmt::Result {
    if items.is_empty() {
        return f.write_str("()");
    }
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            write!(f, " {joiner} ")?;
        }
        if needs_parentheses(item) {
            write!(f, "({item})")?;
        } else {
            write!(f, "{item}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_field(f, &self.field)?;
        match &self.test {
            Test::Compare(op, value) => write!(f, " {op} {value}"),
            Test::Contains(value) => write!(f, " contains {value}"),
            Test::NotContains(value) => write!(f, " not contains {value}"),
            Test::StartsWith(value) => write!(f, " starts with {value}"),
            Test::In(values) => write_list(f, " in (", values),
            Test::NotIn(values) => write_list(f, " not in (", values),
            Test::Between(low, high) => write!(f, " between {low} and {high}"),
            Test::NotBetween(low, high) => write!(f, " not between {low} and {high}"),
            Test::IsEmpty => f.write_str(" is empty"),
            Test::IsNotEmpty => f.write_str(" is not empty"),
        }
    }
}

fn write_field(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    if is_plain_identifier(name) && !is_keyword(name) {
        f.write_str(name)
    } else {
        write!(f, "`{}`", name.replace('`', "``"))
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, open: &str, values: &[Operand]) -> fmt::Result {
    f.write_str(open)?;
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{value}")?;
    }
    f.write_str(")")
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Comparison::Eq => "=",
            Comparison::Ne => "!=",
            Comparison::Lt => "<",
            Comparison::Le => "<=",
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
        })
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Literal(l) => write!(f, "{l}"),
            Operand::Period(p) => write!(f, "{p}"),
            Operand::Variable(name) => write!(f, "${name}"),
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Text(text) => {
                f.write_str("'")?;
                for c in text.chars() {
                    match c {
                        '\\' => f.write_str(r"\\")?,
                        '\'' => f.write_str(r"\'")?,
                        '\n' => f.write_str(r"\n")?,
                        '\t' => f.write_str(r"\t")?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("'")
            }
            Literal::Number(n) => f.write_str(n),
            Literal::Bool(b) => write!(f, "{b}"),
        }
    }
}
