//! Tables made in one call and listings read a column at a time, for the
//! listing tests (`data_api.rs`, `data_views.rs`).

#![allow(dead_code)]

use serde_json::{Value, json};

use crate::data_support::Api;

impl Api<'_> {
    /// A table with `fields` and `rows` in a new app `app`; its id.
    pub async fn table(&self, app: &str, fields: Value, rows: Vec<Value>) -> String {
        let app = self.create("/api/v1/apps", json!({"name": app})).await;
        let path = format!("/api/v1/apps/{}/tables", app["id"].as_str().expect("id"));
        let table = self
            .create(&path, json!({"name": "表", "fields": fields}))
            .await;
        let table = table["id"].as_str().expect("id").to_owned();
        if !rows.is_empty() {
            let path = format!("/api/v1/tables/{table}/records/batch");
            self.create(&path, json!({"records": rows})).await;
        }
        table
    }

    /// Lists records with `query`, every byte percent-encoded.
    pub async fn list(&self, table: &str, query: &[(&str, &str)]) -> Value {
        let mut path = format!("/api/v1/tables/{table}/records?");
        for (key, value) in query {
            let value: String = value.bytes().map(|b| format!("%{b:02X}")).collect();
            path.push_str(&format!("{key}={value}&"));
        }
        self.get(&path).await
    }

    /// The values of `field` over a listing, in order.
    pub async fn column(&self, table: &str, query: &[(&str, &str)], field: &str) -> Vec<Value> {
        let page = self.list(table, query).await;
        let list = page["records"].as_array().expect("records");
        list.iter().map(|r| r["fields"][field].clone()).collect()
    }
}
