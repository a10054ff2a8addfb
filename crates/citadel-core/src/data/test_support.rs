//! Fields and tables built from declarations, for the data model's tests.

use serde_json::Value as Json;

use crate::data::names::SchemaName;
use crate::data::schema::{FieldDef, FieldSpec};
use crate::data::table::TableSchema;
use crate::{AppId, FieldId, TableId};

/// A field from a declaration that must be valid.
pub fn field(spec: Json) -> FieldDef {
    let spec: FieldSpec = serde_json::from_value(spec).expect("a field declaration");
    FieldDef::new(
        FieldId::generate(),
        spec.check().expect("a valid declaration"),
        0,
    )
}

/// A table named 客户 with these fields, in order.
pub fn table(specs: &[Json]) -> TableSchema {
    let fields = specs
        .iter()
        .enumerate()
        .map(|(n, spec)| FieldDef {
            position: n as i64,
            ..field(spec.clone())
        })
        .collect();
    TableSchema {
        id: TableId::generate(),
        app: AppId::generate(),
        name: SchemaName::parse("客户").expect("a name"),
        description: None,
        fields,
        schema_version: 1,
    }
}
