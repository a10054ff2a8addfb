//! Type changes of a field over HTTPS (dry run, refusal, conversion) and
//! the server's own purge of recycle bins older than 30 days, on SQLite
//! and PostgreSQL.

mod common;

use common::{Backend, TestServer, expect_problem};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn body(r: reqwest::Response, status: StatusCode) -> Value {
    let got = r.status();
    let value: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{value}");
    value
}

/// The tenant id inside a session cookie `citadel_session=<tenant>.<token>`.
fn tenant_of(cookie: &str) -> String {
    let value = cookie.split_once('=').expect("cookie").1;
    value.split_once('.').expect("tenant.token").0.to_owned()
}

async fn housekeeping(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let admin = server.tenant_admin(&op, "keep").await;
    let app = body(
        server
            .post("/api/v1/apps", Some(&admin), &json!({"name": "评估"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let table = body(
        server
            .post(
                &format!("/api/v1/apps/{}/tables", app["id"].as_str().expect("id")),
                Some(&admin),
                &json!({"name": "得分", "fields": [
                    {"name": "分数", "type": "text", "max_length": 20}
                ]}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let table_id = table["id"].as_str().expect("id").to_owned();
    let records = format!("/api/v1/tables/{table_id}/records");
    let created = body(
        server
            .post(
                &format!("{records}/batch"),
                Some(&admin),
                &json!({"records": [
                    {"fields": {"分数": "12.5"}}, {"fields": {"分数": "很好"}}, {"fields": {"分数": ""}}
                ]}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let bad = created["records"][1]["id"].as_i64().expect("id");
    let change = format!("/api/v1/tables/{table_id}/fields/分数/type-change");

    // A dry run lists what would not convert and changes nothing.
    let report = body(
        server
            .post(
                &format!("{change}?dry_run=true"),
                Some(&admin),
                &json!({"type": "decimal", "scale": 1}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (report["records"].as_u64(), report["failed"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(report["failures"][0]["record"], bad);
    assert_eq!(report["applied"], false);
    assert_eq!(report["table"]["fields"][0]["type"], "text");
    // Without the dry run the change is refused while a value would not fit.
    let r = server
        .post(
            &change,
            Some(&admin),
            &json!({"type": "decimal", "scale": 1}),
        )
        .await;
    let problem = expect_problem(r, StatusCode::BAD_REQUEST, "conversion_failed").await;
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains(&format!("record {bad}")),
        "{problem}"
    );
    // Old-type options do not carry over silently; knobs that do not fit are refused.
    let r = server
        .post(
            &change,
            Some(&admin),
            &json!({"type": "decimal", "pattern": "x"}),
        )
        .await;
    expect_problem(r, StatusCode::BAD_REQUEST, "invalid_input").await;
    let r = server
        .send_json(
            reqwest::Method::PATCH,
            &format!("{records}/{bad}"),
            Some(&admin),
            &json!({"fields": {"分数": "9"}}),
        )
        .await;
    body(r, StatusCode::OK).await;
    let done = body(
        server
            .post(
                &change,
                Some(&admin),
                &json!({"type": "decimal", "scale": 1}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["applied"], true);
    assert_eq!(done["table"]["fields"][0]["type"], "decimal");
    let listed = body(
        server
            .get(
                &format!("{records}?filter=%E5%88%86%E6%95%B0%20%3E%205&sort=-%E5%88%86%E6%95%B0"),
                Some(&admin),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    let values: Vec<&Value> = listed["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| &r["fields"]["分数"])
        .collect();
    assert_eq!(values, [&json!("12.5"), &json!("9.0")]);
    // A user reference cannot become text: its meaning would be lost.
    let r = server
        .post(
            &format!("/api/v1/tables/{table_id}/fields"),
            Some(&admin),
            &json!({"name": "负责人", "type": "user"}),
        )
        .await;
    body(r, StatusCode::CREATED).await;
    let r = server
        .post(
            &format!("/api/v1/tables/{table_id}/fields/负责人/type-change"),
            Some(&admin),
            &json!({"type": "text"}),
        )
        .await;
    expect_problem(r, StatusCode::BAD_REQUEST, "invalid_input").await;

    // The recycle bin is purged by the server after 30 days, not before.
    let r = server
        .send_json(
            reqwest::Method::DELETE,
            &format!("/api/v1/tables/{table_id}"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        citadel_server::services::maintenance::purge_recycle_bins(&server.store).await,
        0
    );
    let bin = body(
        server.get("/api/v1/recycle-bin", Some(&admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(bin[0]["id"], table_id.as_str());
    server
        .tenant_sql(
            &tenant_of(&admin),
            "UPDATE data_tables SET deleted_at = deleted_at - 2678400000",
        )
        .await;
    assert_eq!(
        citadel_server::services::maintenance::purge_recycle_bins(&server.store).await,
        1
    );
    let bin = body(
        server.get("/api/v1/recycle-bin", Some(&admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(bin, json!([]));
    let r = server
        .post(
            &format!("/api/v1/tables/{table_id}/restore"),
            Some(&admin),
            &json!({}),
        )
        .await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    server.stop().await;
}

#[tokio::test]
async fn housekeeping_on_sqlite() {
    housekeeping(Backend::Sqlite).await;
}

#[tokio::test]
async fn housekeeping_on_postgres() {
    housekeeping(Backend::Postgres).await;
}
