//! A signed-in tenant admin with the import and export calls, and the
//! customer tables and files the transfer tests share.

#![allow(dead_code)]

use reqwest::header::{CONTENT_TYPE, COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::common::{Backend, TestServer, csrf_for};

pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

pub async fn body(r: Response, status: StatusCode) -> Value {
    let got = r.status();
    let value: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{value}");
    value
}

pub struct Tenant {
    pub server: TestServer,
    pub admin: String,
    pub app: String,
}

impl Tenant {
    pub async fn start(backend: Backend) -> Self {
        let server = TestServer::start(backend).await;
        let op = server.operator().await;
        let admin = server.tenant_admin(&op, "shop").await;
        let app = body(
            server
                .post("/api/v1/apps", Some(&admin), &json!({"name": "销售"}))
                .await,
            StatusCode::CREATED,
        )
        .await;
        let app = app["id"].as_str().expect("app id").to_owned();
        Self { server, admin, app }
    }

    pub async fn table(&self, name: &str, fields: Value) -> String {
        let table = body(
            self.server
                .post(
                    &format!("/api/v1/apps/{}/tables", self.app),
                    Some(&self.admin),
                    &json!({"name": name, "fields": fields}),
                )
                .await,
            StatusCode::CREATED,
        )
        .await;
        table["id"].as_str().expect("table id").to_owned()
    }

    pub async fn create(&self, table: &str, records: Value) -> Value {
        body(
            self.server
                .post(
                    &format!("/api/v1/tables/{table}/records/batch"),
                    Some(&self.admin),
                    &json!({ "records": records }),
                )
                .await,
            StatusCode::CREATED,
        )
        .await
    }

    pub async fn import(
        &self,
        table: &str,
        query: &[(&str, &str)],
        content_type: &str,
        file: impl Into<reqwest::Body>,
    ) -> Response {
        self.server
            .client
            .post(self.server.url(&format!("/api/v1/tables/{table}/import")))
            .query(query)
            .header(COOKIE, &self.admin)
            .header("x-csrf-token", csrf_for(&self.admin).expect("csrf"))
            .header(CONTENT_TYPE, content_type)
            .body(file)
            .send()
            .await
            .expect("import request")
    }

    pub async fn count(&self, table: &str) -> i64 {
        let page = body(
            self.server
                .get(
                    &format!("/api/v1/tables/{table}/records?limit=1&count=true"),
                    Some(&self.admin),
                )
                .await,
            StatusCode::OK,
        )
        .await;
        page["total"].as_i64().expect("total")
    }

    /// Every record's fields, sorted by `sort`.
    pub async fn all(&self, table: &str, sort: &str) -> Vec<Value> {
        let page = body(
            self.server
                .get(
                    &format!("/api/v1/tables/{table}/records?limit=1000&sort={sort}"),
                    Some(&self.admin),
                )
                .await,
            StatusCode::OK,
        )
        .await;
        page["records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| r["fields"].clone())
            .collect()
    }

    pub async fn export(&self, table: &str, query: &str) -> Response {
        self.server
            .get(
                &format!("/api/v1/tables/{table}/export?{query}"),
                Some(&self.admin),
            )
            .await
    }
}

/// The customer table, with contacts to link to; returns (customers,
/// contacts, ids of two contacts).
pub async fn customers(t: &Tenant) -> (String, String, Vec<i64>) {
    let contacts = t
        .table("联系人", json!([{"name": "姓名", "type": "text"}]))
        .await;
    let made = t
        .create(
            &contacts,
            json!([{"fields": {"姓名": "王"}}, {"fields": {"姓名": "李"}}]),
        )
        .await;
    let ids = made["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    let customers = t.table("客户", customer_fields(&contacts)).await;
    (customers, contacts, ids)
}

pub fn customer_fields(contacts: &str) -> Value {
    json!([
        {"name": "名称", "type": "text", "required": true, "unique": true},
        {"name": "金额", "type": "currency"},
        {"name": "数量", "type": "integer"},
        {"name": "状态", "type": "single_select", "default": "新",
         "choices": [{"name": "新"}, {"name": "成交", "colour": "green"}]},
        {"name": "签约日", "type": "date"},
        {"name": "签约时间", "type": "date_time"},
        {"name": "标签", "type": "multi_select", "choices": [{"name": "vip"}, {"name": "重点"}]},
        {"name": "已回款", "type": "boolean"},
        {"name": "折扣", "type": "percent"},
        {"name": "联系人", "type": "link", "table": contacts},
    ])
}

pub fn csv_file(lines: &[String]) -> Vec<u8> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    out.extend(lines.join("\r\n").as_bytes());
    out.extend(b"\r\n");
    out
}
