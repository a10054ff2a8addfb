//! Support access over HTTPS: an operator reads nothing of a tenant until
//! its administrator grants it; then reads records (not the sensitive
//! types' values) for the grant's time only; every use is a security
//! event the audit administrator reads; a revoked grant stops at once.

mod common;
mod data_support;
mod identity_support;

use common::{Backend, TestServer, expect_problem};
use data_support::{Api, id};
use identity_support::tenant;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ID_NUMBER: &str = "11010519491231002X";

async fn operator_get(server: &TestServer, cookie: &str, path: &str) -> reqwest::Response {
    server.get(path, Some(cookie)).await
}

async fn story(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let acme = tenant(&server, &op, "acme").await;
    let admin = Api::new(&server, &acme.admin);
    let app = id(&admin.create("/api/v1/apps", json!({"name": "客户"})).await);
    let table = id(&admin
        .create(
            &format!("/api/v1/apps/{app}/tables"),
            json!({"name": "客户", "fields": [
                {"name": "名称", "type": "text"},
                {"name": "身份证号", "type": "resident_id"},
            ]}),
        )
        .await);
    let record = admin
        .create(
            &format!("/api/v1/tables/{table}/records"),
            json!({"fields": {"名称": "张三", "身份证号": ID_NUMBER}}),
        )
        .await["id"]
        .to_string();
    let base = "/api/v1/platform/support/acme";
    let records = format!("{base}/tables/{table}/records");

    // No grant: nothing, and the same answer for a tenant that does not exist.
    for path in [
        format!("{base}/apps"),
        records.clone(),
        "/api/v1/platform/support/nosuch/apps".into(),
    ] {
        let r = operator_get(&server, &op, &path).await;
        expect_problem(r, StatusCode::FORBIDDEN, "no_support_grant").await;
    }
    admin
        .refused(
            Method::POST,
            "/api/v1/support-grants",
            json!({"operator": "nobody", "hours": 2, "reason": "工单"}),
            (StatusCode::NOT_FOUND, "not_found"),
        )
        .await;
    admin
        .refused(
            Method::POST,
            "/api/v1/support-grants",
            json!({"operator": "ops", "hours": 73, "reason": "工单"}),
            (StatusCode::BAD_REQUEST, "invalid_field"),
        )
        .await;
    let grant = admin
        .create(
            "/api/v1/support-grants",
            json!({"operator": "ops", "hours": 2, "reason": "工单 #42"}),
        )
        .await;
    assert_eq!(grant["live"], true, "{grant}");

    // Read only, without the sensitive values.
    let apps: Value = operator_get(&server, &op, &format!("{base}/apps"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(apps[0]["tables"][0]["id"], table.as_str(), "{apps}");
    let page: Value = operator_get(&server, &op, &records)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["records"][0]["fields"]["名称"], "张三", "{page}");
    assert!(!page.to_string().contains(ID_NUMBER), "{page}");
    let one = operator_get(&server, &op, &format!("{records}/{record}")).await;
    assert_eq!(one.status(), StatusCode::OK);
    assert!(!one.text().await.unwrap_or_default().contains(ID_NUMBER));
    // The grant opens nothing else: the tenant's own API is not the
    // operator's, and another tenant gets nothing.
    let r = server
        .get(&format!("/api/v1/tables/{table}/records"), Some(&op))
        .await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let _other = tenant(&server, &op, "other").await;
    let r = operator_get(&server, &op, "/api/v1/platform/support/other/apps").await;
    expect_problem(r, StatusCode::FORBIDDEN, "no_support_grant").await;

    // Every use is in the tenant's security events.
    let events = admin
        .get("/api/v1/security-events?limit=100")
        .await
        .to_string();
    assert!(events.contains("support_granted"), "{events}");
    assert_eq!(events.matches("support_access").count(), 3, "{events}");

    // Revoked: it stops at once.
    let r = admin
        .send(
            Method::DELETE,
            &format!("/api/v1/support-grants/{}", id(&grant)),
            Value::Null,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = operator_get(&server, &op, &records).await;
    expect_problem(r, StatusCode::FORBIDDEN, "no_support_grant").await;
    let listed = admin.get("/api/v1/support-grants").await;
    assert_eq!(listed[0]["live"], false);
    assert!(listed[0]["revoked_at"].is_string());
    server.stop().await;
}

#[tokio::test]
async fn support_access_on_sqlite() {
    story(Backend::Sqlite).await;
}

#[tokio::test]
async fn support_access_on_postgres() {
    story(Backend::Postgres).await;
}
