//! A table's schema as the rest of the code sees it: its fields and the
//! physical names derived from ids.

use serde::Serialize;

use crate::data::names::SchemaName;
use crate::data::schema::FieldDef;
use crate::{AppId, FieldId, TableId};

/// The columns every table has besides its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemField {
    Id,
    CreatedAt,
    CreatedBy,
    UpdatedAt,
    UpdatedBy,
    Version,
}

impl SystemField {
    pub const ALL: [Self; 6] = [
        Self::Id,
        Self::CreatedAt,
        Self::CreatedBy,
        Self::UpdatedAt,
        Self::UpdatedBy,
        Self::Version,
    ];

    /// Both its API name and its column name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::CreatedAt => "created_at",
            Self::CreatedBy => "created_by",
            Self::UpdatedAt => "updated_at",
            Self::UpdatedBy => "updated_by",
            Self::Version => "version",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// What a filter, sort or field list refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    System(SystemField),
    Field(FieldId),
}

/// A user table: its fields in display order.
#[derive(Clone, Debug)]
pub struct TableSchema {
    pub id: TableId,
    pub app: AppId,
    pub name: SchemaName,
    pub description: Option<String>,
    pub fields: Vec<FieldDef>,
    /// Bumped by every schema change, so caches can tell they are stale.
    pub schema_version: i64,
}

impl TableSchema {
    /// The physical table: from the id, never from the name.
    pub fn physical_name(&self) -> String {
        physical_table(self.id)
    }

    pub fn field(&self, id: FieldId) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.id == id)
    }

    /// A field by its name (ignoring case, as names are unique that way)
    /// or by its id, the way API callers refer to fields.
    pub fn field_by_key(&self, key: &str) -> Option<&FieldDef> {
        // Callers mostly send names as the schema spells them: look for
        // that first, before comparing case-insensitively.
        self.fields
            .iter()
            .find(|f| f.name.as_str() == key)
            .or_else(|| self.fields.iter().find(|f| f.name.same_as(key)))
            .or_else(|| {
                FieldId::parse(key)
                    .ok()
                    .and_then(|id| self.fields.iter().find(|f| f.id == id))
            })
    }

    /// A system field or a user field, by name or id.
    pub fn target(&self, key: &str) -> Option<Target> {
        SystemField::parse(key)
            .map(Target::System)
            .or_else(|| self.field_by_key(key).map(|f| Target::Field(f.id)))
    }
}

pub fn physical_table(table: TableId) -> String {
    format!("t_{}", table.simple())
}

/// The junction table of a many-to-many link field.
pub fn junction_table(field: FieldId) -> String {
    format!("l_{}", field.simple())
}

/// A field's column. A type change writes a new generation of it.
pub fn field_column(field: FieldId, generation: u32) -> String {
    if generation == 0 {
        format!("f_{}", field.simple())
    } else {
        format!("f_{}_{generation}", field.simple())
    }
}
