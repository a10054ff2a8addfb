//! The data model API over HTTPS, on SQLite and PostgreSQL: an app with
//! tables and fields, records written singly and in batches, listed with a
//! filter, sort and cursor, changed under If-Match, and their history.

mod common;

use common::{Backend, TestServer, expect_problem};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn body(r: reqwest::Response, status: StatusCode) -> Value {
    let got = r.status();
    let value: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{value}");
    value
}

async fn crm_flow(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let admin = server.tenant_admin(&op, "crm").await;

    let app = body(
        server
            .post("/api/v1/apps", Some(&admin), &json!({"name": "客户管理"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let app_id = app["id"].as_str().expect("id");
    let table = body(
        server
            .post(
                &format!("/api/v1/apps/{app_id}/tables"),
                Some(&admin),
                &json!({"name": "客户", "fields": [
                    {"name": "名称", "type": "text", "required": true, "unique": true},
                    {"name": "金额", "type": "currency", "filterable": true},
                    {"name": "状态", "type": "single_select", "default": "新",
                     "choices": [{"name": "新"}, {"name": "成交", "colour": "green"}]},
                    {"name": "身份证号", "type": "resident_id"},
                ]}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let table_id = table["id"].as_str().expect("id").to_owned();
    assert_eq!(table["fields"].as_array().map(Vec::len), Some(4));
    let records = format!("/api/v1/tables/{table_id}/records");

    let batch: Vec<Value> = (1..=60)
        .map(|n| {
            json!({"fields": {"名称": format!("客户{n:02}"), "金额": n * 10,
            "状态": if n % 2 == 0 { "成交" } else { "新" }}})
        })
        .collect();
    let created = body(
        server
            .post(
                &format!("{records}/batch"),
                Some(&admin),
                &json!({"records": batch}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["records"].as_array().map(Vec::len), Some(60));
    assert_eq!(created["records"][0]["fields"]["金额"], "10.00");

    // A bad record anywhere in a batch refuses the batch, naming it.
    let r = server
        .post(
            &format!("{records}/batch"),
            Some(&admin),
            &json!({"records": [{"fields": {"名称": "甲"}}, {"fields": {"名称": "乙", "身份证号": "110105194912310021"}}]}),
        )
        .await;
    let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_field").await;
    assert_eq!(problem["field"], "records[1].身份证号", "{problem}");

    // Filter, sort, cursor pages.
    let mut seen = Vec::new();
    let mut url = format!("{records}?filter=状态%20%3D%20'成交'&sort=-金额&limit=7&count=true");
    loop {
        let page = body(server.get(&url, Some(&admin)).await, StatusCode::OK).await;
        if seen.is_empty() {
            assert_eq!(page["total"], 30);
        } else {
            assert_eq!(page["total"], Value::Null, "counted only on request");
        }
        for r in page["records"].as_array().expect("records") {
            seen.push(r["fields"]["金额"].as_str().expect("amount").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => {
                url = format!("{records}?filter=状态%20%3D%20'成交'&sort=-金额&limit=7&cursor={c}")
            }
            None => break,
        }
    }
    let expected: Vec<String> = (1..=30).rev().map(|n| format!("{}.00", n * 20)).collect();
    assert_eq!(seen, expected);

    // If-Match: a stale version changes nothing.
    let first = created["records"][0]["id"].as_i64().expect("id");
    let one = format!("{records}/{first}");
    let r = server.get(&one, Some(&admin)).await;
    assert_eq!(r.headers()["etag"], "\"1\"");
    let mut patch = server
        .client
        .request(Method::PATCH, server.url(&one))
        .header("cookie", &admin)
        .header("x-csrf-token", common::csrf_for(&admin).expect("csrf"))
        .header("if-match", "\"1\"")
        .json(&json!({"fields": {"金额": "99.5"}}))
        .send()
        .await
        .expect("patch");
    assert_eq!(patch.status(), StatusCode::OK);
    assert_eq!(patch.headers()["etag"], "\"2\"");
    patch = server
        .client
        .request(Method::PATCH, server.url(&one))
        .header("cookie", &admin)
        .header("x-csrf-token", common::csrf_for(&admin).expect("csrf"))
        .header("if-match", "\"1\"")
        .json(&json!({"fields": {"金额": "1"}}))
        .send()
        .await
        .expect("patch");
    expect_problem(patch, StatusCode::PRECONDITION_FAILED, "version_mismatch").await;
    let now = body(server.get(&one, Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(now["fields"]["金额"], "99.50");
    let history = body(
        server.get(&format!("{one}/history"), Some(&admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(history[1]["changes"]["金额"], json!(["10.00", "99.50"]));
    server.stop().await;
}

#[tokio::test]
async fn crm_flow_on_sqlite() {
    crm_flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn crm_flow_on_postgres() {
    crm_flow(Backend::Postgres).await;
}
