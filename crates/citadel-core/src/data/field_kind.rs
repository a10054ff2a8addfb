//! What each field kind is: its name in declarations, and the questions
//! storage, filters and encryption ask of it.

use crate::data::schema::{FieldKind, SelectOption};

impl FieldKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::LongText => "long_text",
            Self::Integer => "integer",
            Self::Decimal { .. } => "decimal",
            Self::Currency { .. } => "currency",
            Self::Percent { .. } => "percent",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::DateTime => "date_time",
            Self::SingleSelect { .. } => "single_select",
            Self::MultiSelect { .. } => "multi_select",
            Self::Email => "email",
            Self::Url => "url",
            Self::MobilePhone => "mobile_phone",
            Self::Landline => "landline",
            Self::User => "user",
            Self::Department => "department",
            Self::Link { .. } => "link",
            Self::AutoNumber => "auto_number",
            Self::ResidentId => "resident_id",
            Self::BankCard => "bank_card",
            Self::SocialCreditCode => "social_credit_code",
        }
    }

    /// The decimal places of a scaled decimal kind.
    pub fn scale(&self) -> Option<u8> {
        match self {
            Self::Decimal { scale, .. }
            | Self::Currency { scale, .. }
            | Self::Percent { scale } => Some(*scale),
            _ => None,
        }
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Self::Integer | Self::AutoNumber) || self.scale().is_some()
    }

    /// Kinds held as one string value in a text column.
    pub fn is_textual(&self) -> bool {
        matches!(
            self,
            Self::Text
                | Self::LongText
                | Self::Email
                | Self::Url
                | Self::MobilePhone
                | Self::Landline
                | Self::ResidentId
                | Self::BankCard
                | Self::SocialCreditCode
                | Self::SingleSelect { .. }
        )
    }

    /// Identifiers of people and organisations that are personal or
    /// regulated data (resident ID, bank card, unified social credit code).
    pub fn is_sensitive(&self) -> bool {
        matches!(
            self,
            Self::ResidentId | Self::BankCard | Self::SocialCreditCode
        )
    }

    /// Kinds whose values may be stored encrypted: those with many
    /// possible values held in one column. A boolean or a select has too
    /// few values for a ciphertext to hide them from their blind index,
    /// and references and numbering are the server's own.
    pub fn can_encrypt(&self) -> bool {
        matches!(
            self,
            Self::Text
                | Self::LongText
                | Self::Integer
                | Self::Decimal { .. }
                | Self::Currency { .. }
                | Self::Percent { .. }
                | Self::Date
                | Self::DateTime
                | Self::Email
                | Self::Url
                | Self::MobilePhone
                | Self::Landline
                | Self::ResidentId
                | Self::BankCard
                | Self::SocialCreditCode
        )
    }

    /// Many-to-many links live in a junction table, not in a column.
    pub fn has_column(&self) -> bool {
        !matches!(self, Self::Link { multiple: true, .. })
    }

    pub fn choices(&self) -> Option<&[SelectOption]> {
        match self {
            Self::SingleSelect { choices } | Self::MultiSelect { choices } => Some(choices),
            _ => None,
        }
    }
}
