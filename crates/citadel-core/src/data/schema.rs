//! Field types and options: what a user may declare about a field, and the
//! checks that turn a declaration from outside into a [`FieldKind`] and
//! [`FieldOptions`] the rest of the code can trust.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::data::decimal::Decimal;
use crate::data::names::SchemaName;
use crate::{CoreError, FieldId, TableId};

/// The largest number of digits a decimal may have: scaled decimals are
/// stored as 64-bit integers, which hold 18 digits exactly.
pub const MAX_PRECISION: u8 = 18;
/// At most this many options in a select field.
pub const MAX_SELECT_OPTIONS: usize = 500;
/// Fields per table: well under both backends' column limits.
pub const MAX_FIELDS: usize = 500;
/// Longest text a text field may hold, in characters.
pub const MAX_TEXT_CHARS: u32 = 1_000_000;
/// Longest regular expression a field may declare.
pub const MAX_PATTERN_CHARS: usize = 500;

/// What a field holds. The physical column type and the accepted input
/// follow from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    LongText,
    Integer,
    Decimal {
        precision: u8,
        scale: u8,
    },
    Currency {
        currency: String,
        scale: u8,
    },
    Percent {
        scale: u8,
    },
    Boolean,
    Date,
    DateTime,
    SingleSelect {
        choices: Vec<SelectOption>,
    },
    MultiSelect {
        choices: Vec<SelectOption>,
    },
    Email,
    Url,
    MobilePhone,
    Landline,
    User,
    Department,
    /// To records of `table`; `multiple` links go through a junction table.
    Link {
        table: TableId,
        multiple: bool,
    },
    AutoNumber,
    ResidentId,
    BankCard,
    SocialCreditCode,
}

/// One choice of a select field, with the colour it is shown in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectOption {
    pub name: String,
    #[serde(default = "default_colour")]
    pub colour: String,
}

fn default_colour() -> String {
    "grey".into()
}

/// The colours a select option may take: a fixed palette, so the UI can
/// guarantee contrast, or `#rrggbb`.
const PALETTE: &[&str] = &[
    "grey", "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "brown",
];

/// Constraints a user may put on a field. Which apply depends on the kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FieldOptions {
    pub required: bool,
    pub unique: bool,
    /// Indexed, so filters and sorts on it stay fast on large tables.
    pub filterable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Stored as ciphertext under the tenant's data key, with a blind
    /// index for equality; on by default for the sensitive kinds.
    pub encrypted: bool,
}

/// A field as declared from outside (API, import of a schema). Flat, with
/// every knob optional, and strict about unknown keys; [`FieldSpec::check`]
/// decides whether the combination makes sense.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub precision: Option<u8>,
    pub scale: Option<u8>,
    pub currency: Option<String>,
    pub choices: Option<Vec<SelectOption>>,
    pub table: Option<TableId>,
    pub multiple: Option<bool>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub unique: bool,
    #[serde(default)]
    pub filterable: bool,
    pub default: Option<Json>,
    pub min: Option<Json>,
    pub max: Option<Json>,
    pub min_length: Option<u32>,
    pub max_length: Option<u32>,
    pub pattern: Option<String>,
    pub description: Option<String>,
    /// Unset: encrypted when the kind is sensitive (resident ID, bank
    /// card, unified social credit code).
    pub encrypted: Option<bool>,
}

/// A field of a table as stored: its id names its column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDef {
    pub id: FieldId,
    pub name: SchemaName,
    pub kind: FieldKind,
    pub options: FieldOptions,
    pub position: i64,
    /// The physical column; changes when a type change rewrites the data.
    pub column: String,
}

impl FieldDef {
    /// A new field from a checked declaration: its first column is named
    /// from its id.
    pub fn new(
        id: FieldId,
        (name, kind, options): (SchemaName, FieldKind, FieldOptions),
        position: i64,
    ) -> Self {
        Self {
            id,
            name,
            kind,
            options,
            position,
            column: crate::data::table::field_column(id, 0),
        }
    }

    /// The declaration this field was made from, in the form
    /// [`FieldSpec`] reads: how it is stored, so that loading a field goes
    /// through the same checks as creating one.
    pub fn spec_json(&self) -> Json {
        let mut spec = serde_json::Map::new();
        spec.insert("name".into(), Json::String(self.name.to_string()));
        for part in [
            serde_json::to_value(&self.kind),
            serde_json::to_value(&self.options),
        ] {
            if let Ok(Json::Object(map)) = part {
                spec.extend(map);
            }
        }
        Json::Object(spec)
    }

    /// The field as the API shows it: its declaration, id and position.
    pub fn to_json(&self) -> Json {
        let mut json = self.spec_json();
        if let Json::Object(map) = &mut json {
            map.insert("id".into(), Json::String(self.id.to_string()));
            map.insert("position".into(), Json::from(self.position));
        }
        json
    }

    /// Reads a stored declaration back.
    pub fn from_spec_json(
        id: FieldId,
        spec: &Json,
        position: i64,
        column: String,
    ) -> Result<Self, CoreError> {
        let mut spec = spec.clone();
        // Declarations stored before fields could be encrypted say nothing
        // about it, and their values are plaintext: keep them so.
        if let Json::Object(map) = &mut spec {
            map.entry("encrypted").or_insert(Json::Bool(false));
        }
        let spec: FieldSpec = serde_json::from_value(spec)
            .map_err(|e| schema_error(format!("stored field {id} is unreadable: {e}")))?;
        let (name, kind, options) = spec.check()?;
        Ok(Self {
            id,
            name,
            kind,
            options,
            position,
            column,
        })
    }
}

fn schema_error(reason: impl Into<String>) -> CoreError {
    CoreError::InvalidSchema(reason.into())
}

impl FieldSpec {
    /// Turns a declaration into a trusted kind and options, or says which
    /// part of it is wrong.
    pub fn check(&self) -> Result<(SchemaName, FieldKind, FieldOptions), CoreError> {
        let name = SchemaName::parse_field(&self.name)?;
        let kind = self.kind()?;
        self.refuse_foreign_knobs(&kind)?;
        let options = self.options(&kind)?;
        Ok((name, kind, options))
    }

    fn kind(&self) -> Result<FieldKind, CoreError> {
        let scale = |default: u8| -> Result<u8, CoreError> {
            let scale = self.scale.unwrap_or(default);
            if scale > 8 {
                return Err(schema_error("scale must be between 0 and 8"));
            }
            Ok(scale)
        };
        Ok(match self.kind.as_str() {
            "text" => FieldKind::Text,
            "long_text" => FieldKind::LongText,
            "integer" => FieldKind::Integer,
            "decimal" => {
                let precision = self.precision.unwrap_or(MAX_PRECISION);
                let scale = scale(2)?;
                if precision == 0 || precision > MAX_PRECISION || scale > precision {
                    return Err(schema_error(
                        "precision must be between 1 and 18 and at least the scale",
                    ));
                }
                FieldKind::Decimal { precision, scale }
            }
            "currency" => {
                let currency = self.currency.clone().unwrap_or_else(|| "CNY".into());
                if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(schema_error(
                        "currency must be an ISO 4217 code such as CNY",
                    ));
                }
                FieldKind::Currency {
                    currency,
                    scale: scale(2)?,
                }
            }
            "percent" => FieldKind::Percent { scale: scale(2)? },
            "boolean" => FieldKind::Boolean,
            "date" => FieldKind::Date,
            "date_time" => FieldKind::DateTime,
            "single_select" => FieldKind::SingleSelect {
                choices: self.checked_choices()?,
            },
            "multi_select" => FieldKind::MultiSelect {
                choices: self.checked_choices()?,
            },
            "email" => FieldKind::Email,
            "url" => FieldKind::Url,
            "mobile_phone" => FieldKind::MobilePhone,
            "landline" => FieldKind::Landline,
            "user" => FieldKind::User,
            "department" => FieldKind::Department,
            "link" => FieldKind::Link {
                table: self
                    .table
                    .ok_or_else(|| schema_error("a link field needs the `table` it links to"))?,
                multiple: self.multiple.unwrap_or(false),
            },
            "auto_number" => FieldKind::AutoNumber,
            "resident_id" => FieldKind::ResidentId,
            "bank_card" => FieldKind::BankCard,
            "social_credit_code" => FieldKind::SocialCreditCode,
            other => {
                return Err(schema_error(format!(
                    "unknown field type `{}`",
                    other.chars().take(40).collect::<String>()
                )));
            }
        })
    }

    fn checked_choices(&self) -> Result<Vec<SelectOption>, CoreError> {
        let choices = self
            .choices
            .clone()
            .ok_or_else(|| schema_error("a select field needs `choices`"))?;
        check_choices(&choices)?;
        Ok(choices)
    }

    /// Knobs that mean nothing for the kind are refused rather than
    /// silently dropped, so a typo in a declaration is noticed.
    fn refuse_foreign_knobs(&self, kind: &FieldKind) -> Result<(), CoreError> {
        let decimal = matches!(kind, FieldKind::Decimal { .. });
        let scaled = kind.scale().is_some();
        let select = kind.choices().is_some();
        let link = matches!(kind, FieldKind::Link { .. });
        let lengthy = kind.is_textual() && !select;
        let ranged = kind.is_numeric() && !matches!(kind, FieldKind::AutoNumber);
        let knobs = [
            ("precision", self.precision.is_some(), decimal),
            ("scale", self.scale.is_some(), scaled),
            (
                "currency",
                self.currency.is_some(),
                matches!(kind, FieldKind::Currency { .. }),
            ),
            ("choices", self.choices.is_some(), select),
            ("table", self.table.is_some(), link),
            ("multiple", self.multiple.is_some(), link),
            ("min", self.min.is_some(), ranged),
            ("max", self.max.is_some(), ranged),
            ("min_length", self.min_length.is_some(), lengthy),
            ("max_length", self.max_length.is_some(), lengthy),
            ("pattern", self.pattern.is_some(), lengthy),
        ];
        for (knob, given, applies) in knobs {
            if given && !applies {
                return Err(schema_error(format!(
                    "`{knob}` does not apply to a {} field",
                    kind.type_name()
                )));
            }
        }
        let auto = matches!(kind, FieldKind::AutoNumber);
        if auto && (self.required || self.default.is_some()) {
            return Err(schema_error(
                "an auto number is assigned by the server: it takes no `required` or `default`",
            ));
        }
        if matches!(kind, FieldKind::Link { multiple: true, .. }) && self.unique {
            return Err(schema_error("a many-to-many link cannot be unique"));
        }
        if matches!(kind, FieldKind::MultiSelect { .. } | FieldKind::LongText) && self.unique {
            return Err(schema_error(format!(
                "a {} field cannot be unique",
                kind.type_name()
            )));
        }
        Ok(())
    }

    fn options(&self, kind: &FieldKind) -> Result<FieldOptions, CoreError> {
        let bound = |value: &Option<Json>, which: &str| -> Result<Option<Decimal>, CoreError> {
            value
                .as_ref()
                .map(|v| {
                    Decimal::from_json(v, kind.scale().unwrap_or(0)).map_err(|reason| {
                        schema_error(format!("`{which}` is not a valid bound: {reason}"))
                    })
                })
                .transpose()
        };
        let min = bound(&self.min, "min")?;
        let max = bound(&self.max, "max")?;
        if let (Some(min), Some(max)) = (&min, &max)
            && min > max
        {
            return Err(schema_error("`min` is greater than `max`"));
        }
        for length in [self.min_length, self.max_length].into_iter().flatten() {
            if length > MAX_TEXT_CHARS {
                return Err(schema_error("length limits may not exceed 1000000"));
            }
        }
        if let (Some(min), Some(max)) = (self.min_length, self.max_length)
            && min > max
        {
            return Err(schema_error("`min_length` is greater than `max_length`"));
        }
        if let Some(pattern) = &self.pattern {
            check_pattern(pattern)?;
        }
        let description = self
            .description
            .as_ref()
            .map(|d| {
                if d.chars().count() > 1000 {
                    Err(schema_error(
                        "a description may have at most 1000 characters",
                    ))
                } else {
                    Ok(d.trim().to_owned())
                }
            })
            .transpose()?;
        let encrypted = self.encrypted.unwrap_or_else(|| kind.is_sensitive());
        if encrypted && !kind.can_encrypt() {
            return Err(schema_error(format!(
                "a {} field cannot be encrypted",
                kind.type_name()
            )));
        }
        Ok(FieldOptions {
            required: self.required,
            unique: self.unique,
            // Unique and link columns are indexed anyway; say so.
            filterable: self.filterable || self.unique || matches!(kind, FieldKind::Link { .. }),
            default: self.default.clone(),
            min,
            max,
            min_length: self.min_length,
            max_length: self.max_length,
            pattern: self.pattern.clone(),
            description,
            encrypted,
        })
    }
}

/// Select choices: named, distinct, coloured from the palette or `#rrggbb`.
pub fn check_choices(choices: &[SelectOption]) -> Result<(), CoreError> {
    if choices.is_empty() || choices.len() > MAX_SELECT_OPTIONS {
        return Err(schema_error(
            "a select field needs between 1 and 500 choices",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for choice in choices {
        let name = choice.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(schema_error(
                "a choice needs a name of 1 to 100 characters without control characters",
            ));
        }
        if name != choice.name {
            return Err(schema_error(
                "a choice name may not start or end with spaces",
            ));
        }
        if !seen.insert(name) {
            return Err(schema_error(format!("the choice `{name}` appears twice")));
        }
        let colour = choice.colour.as_str();
        let hex = colour.len() == 7
            && colour.starts_with('#')
            && colour[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if !hex && !PALETTE.contains(&colour) {
            return Err(schema_error(format!(
                "colour must be one of {} or #rrggbb",
                PALETTE.join(", ")
            )));
        }
    }
    Ok(())
}

/// The `regex` crate runs in linear time, so a user's pattern cannot be
/// made to take exponential time on a crafted value; its size is bounded
/// too, so compiling it stays cheap.
fn check_pattern(pattern: &str) -> Result<(), CoreError> {
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(schema_error("a pattern may have at most 500 characters"));
    }
    compile_pattern(pattern).map(|_| ())
}

/// A field's pattern, compiled once per process: every value written to the
/// field (an import: every cell) is checked against it.
pub(crate) fn compile_pattern(pattern: &str) -> Result<regex::Regex, CoreError> {
    static COMPILED: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<String, regex::Regex>>,
    > = std::sync::LazyLock::new(Default::default);
    let mut compiled = COMPILED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(regex) = compiled.get(pattern) {
        return Ok(regex.clone());
    }
    let regex = regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
        .map_err(|_| schema_error("`pattern` is not a valid regular expression"))?;
    // Patterns are few; a flood of distinct ones only costs recompiling.
    if compiled.len() >= 1024 {
        compiled.clear();
    }
    compiled.insert(pattern.to_owned(), regex.clone());
    Ok(regex)
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
