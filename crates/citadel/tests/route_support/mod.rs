//! The routes of the OpenAPI document as test cases: every operation with
//! its path filled in, a valid body for each, and a tenant with an app, a
//! table, a record and a view to aim them at. Shared by `http_hygiene.rs`
//! and `permissions_matrix.rs`.

#![allow(dead_code)]

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::common::{STRONG_PASSWORD, TestServer};

/// Endpoints anyone may call. Everything else in the spec must answer 401
/// to a caller without a session.
pub const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("POST", "/api/v1/platform/bootstrap"),
    ("POST", "/api/v1/platform/login"),
    ("POST", "/api/v1/auth/login"),
];

/// One operation of the OpenAPI document.
#[derive(Debug)]
pub struct Operation {
    pub method: String,
    /// The path with `{slug}` filled in.
    pub path: String,
    pub template: String,
    pub has_body: bool,
    /// The session cookie scheme the spec says it needs, if any.
    pub scheme: Option<String>,
}

/// What the path parameters are filled in with.
pub struct PathIds {
    pub id: String,
    pub app: String,
    pub table: String,
    pub field: String,
    pub view: String,
    pub record: String,
    pub group: String,
}

impl PathIds {
    /// Well-formed ids of things that do not exist.
    pub fn placeholders() -> Self {
        let uuid = "01890000-0000-7000-8000-000000000000".to_owned();
        Self {
            id: uuid.clone(),
            app: uuid.clone(),
            table: uuid.clone(),
            field: uuid.clone(),
            view: uuid.clone(),
            record: "1".into(),
            group: uuid,
        }
    }

    pub fn fill(&self, template: &str) -> String {
        template
            .replace("{slug}", "acme")
            .replace("{id}", &self.id)
            .replace("{app}", &self.app)
            .replace("{table}", &self.table)
            .replace("{field}", &self.field)
            .replace("{view}", &self.view)
            .replace("{record}", &self.record)
            .replace("{group}", &self.group)
    }
}

pub async fn operations(server: &TestServer) -> Vec<Operation> {
    operations_with(server, &PathIds::placeholders()).await
}

pub async fn operations_with(server: &TestServer, ids: &PathIds) -> Vec<Operation> {
    let spec: Value = server
        .get("/api/v1/openapi.json", None)
        .await
        .json()
        .await
        .expect("spec");
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "{}",
        spec["openapi"]
    );
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(schemes["tenant_session"]["in"], "cookie");
    assert_eq!(schemes["tenant_session"]["name"], "citadel_session");
    assert_eq!(schemes["operator_session"]["name"], "citadel_operator");
    let mut ops = Vec::new();
    for (template, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let scheme = op["security"]
                .as_array()
                .and_then(|reqs| reqs.first())
                .and_then(|req| req.as_object())
                .and_then(|req| req.keys().next().cloned());
            ops.push(Operation {
                method: method.to_uppercase(),
                path: ids.fill(template),
                template: template.clone(),
                has_body: op.get("requestBody").is_some(),
                scheme,
            });
        }
    }
    ops
}

/// A well-formed body for each endpoint that takes one, by method and
/// path template.
pub fn valid_body(method: &str, template: &str) -> Value {
    match (method, template) {
        (_, "/api/v1/platform/bootstrap") => {
            json!({"token": "0".repeat(64), "login": "x", "password": STRONG_PASSWORD})
        }
        (_, "/api/v1/platform/login") => json!({"login": "ops", "password": "Wrong-Passw0rd!"}),
        (_, "/api/v1/platform/tenants") => json!({"slug": "newco", "admin_email": "a@newco.cn"}),
        (_, "/api/v1/platform/operators") => {
            json!({"current_password": STRONG_PASSWORD, "login": "ops2", "password": STRONG_PASSWORD})
        }
        (_, "/api/v1/platform/tenants/{slug}") => json!({"confirm": "acme"}),
        (_, "/api/v1/auth/login") => {
            json!({"tenant": "acme", "login": "admin@acme.cn", "password": "Wrong-Passw0rd!"})
        }
        (_, "/api/v1/auth/password") => {
            json!({"current_password": "Wrong-Passw0rd!", "new_password": STRONG_PASSWORD})
        }
        (_, "/api/v1/me/tokens") => {
            json!({"name": "script", "expires_in_days": 30, "password": "Wrong-Passw0rd!"})
        }
        (_, "/api/v1/me/totp/confirm") => json!({"code": "123456", "password": "Wrong-Passw0rd!"}),
        (_, "/api/v1/me/totp" | "/api/v1/me/recovery-codes") => {
            json!({"password": "Wrong-Passw0rd!"})
        }
        (_, "/api/v1/users") => json!({"login": "newbie", "email": "newbie@acme.cn"}),
        (_, p) if p.starts_with("/api/v1/users/") => json!({"display_name": "Newbie"}),
        (_, "/api/v1/departments") => json!({"name": "研发部"}),
        (_, p) if p.starts_with("/api/v1/departments/") => json!({"name": "研发二部"}),
        (_, "/api/v1/ip-bans") => json!({"prefix": "203.0.113.0/24"}),
        (_, "/api/v1/security-policy") => json!({
            "password_max_age_days": 90, "password_history": 5, "max_failed_logins": 5,
            "lockout_minutes": 15, "require_totp": "optional"
        }),
        (_, "/api/v1/audit-policy") => json!({
            "failed_logins_per_account": 5, "failed_logins_per_address": 20,
            "failed_login_window_minutes": 15, "downloads_per_minute": 10,
            "working_hours": null, "webhook_url": null, "retention_days": 365
        }),
        (_, "/api/v1/apps") => json!({"name": "新应用"}),
        (_, "/api/v1/apps/{app}") => json!({"name": "改名应用", "description": "说明"}),
        (_, "/api/v1/apps/{app}/tables") => json!({"name": "新表"}),
        (_, "/api/v1/tables/{table}") => json!({"name": "改名表"}),
        (_, "/api/v1/tables/{table}/fields") => json!({"name": "名称", "type": "text"}),
        (_, "/api/v1/tables/{table}/fields/{field}") => json!({"name": "名称二"}),
        (_, "/api/v1/tables/{table}/fields/{field}/type-change") => json!({"type": "long_text"}),
        (_, "/api/v1/tables/{table}/field-order") => json!({"fields": ["名称"]}),
        (_, "/api/v1/tables/{table}/records" | "/api/v1/tables/{table}/records/{record}") => {
            json!({"fields": {}})
        }
        ("POST", "/api/v1/tables/{table}/records/batch") => {
            json!({"records": [{"fields": {}}]})
        }
        ("PATCH", "/api/v1/tables/{table}/records/batch") => {
            json!({"records": [{"id": 1, "version": 1, "fields": {}}]})
        }
        (_, "/api/v1/tables/{table}/records/batch-delete") => {
            json!({"records": [{"id": 1, "version": 1}]})
        }
        (_, "/api/v1/tables/{table}/views") => json!({"name": "我的视图", "sort": "-名称"}),
        (_, "/api/v1/views/{view}") => json!({"name": "改名视图"}),
        (_, "/api/v1/crypto/sign" | "/api/v1/crypto/digest") => json!({"data_base64": "YWJj"}),
        (_, "/api/v1/crypto/verify") => {
            json!({"data_base64": "YWJj", "signature_base64": "AAAA"})
        }
        (_, "/api/v1/support-grants") => {
            json!({"operator": "ops", "hours": 1, "reason": "排查"})
        }
        (_, "/api/v1/groups" | "/api/v1/groups/{group}" | "/api/v1/groups/{group}/preview") => {
            json!({"name": "新组", "grants": {"all_apps": ["read"]}})
        }
        _ => json!({}),
    }
}

/// The code a malformed body gets: `invalid_body` everywhere, field
/// declarations included (they are checked as typed objects too).
pub fn bad_body_code(_operation: &Operation, _body_is_an_array: bool) -> &'static str {
    "invalid_body"
}

pub fn method(m: &str) -> Method {
    Method::from_bytes(m.as_bytes()).expect("method")
}

/// Asserts `status` and returns the JSON body.
pub async fn json_body(r: Response, status: StatusCode) -> Value {
    let got = r.status();
    let value: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{value}");
    value
}

/// An app with a table (one text field), a record, a personal view and a
/// permission group, so
/// that bad bodies reach the endpoints' own checks rather than a 404.
pub async fn data_fixture(server: &TestServer, admin: &str) -> PathIds {
    let app = json_body(
        server
            .post("/api/v1/apps", Some(admin), &json!({"name": "应用"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let app = app["id"].as_str().expect("app id").to_owned();
    let table = json_body(
        server
            .post(
                &format!("/api/v1/apps/{app}/tables"),
                Some(admin),
                &json!({"name": "客户", "fields": [{"name": "名称", "type": "text"}]}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let field = table["fields"][0]["id"]
        .as_str()
        .expect("field id")
        .to_owned();
    let table = table["id"].as_str().expect("table id").to_owned();
    let record = json_body(
        server
            .post(
                &format!("/api/v1/tables/{table}/records"),
                Some(admin),
                &json!({"fields": {"名称": "甲"}}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let view = json_body(
        server
            .post(
                &format!("/api/v1/tables/{table}/views"),
                Some(admin),
                &json!({"name": "视图"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let group = json_body(
        server
            .post("/api/v1/groups", Some(admin), &json!({"name": "组"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    PathIds {
        group: group["id"].as_str().expect("group id").to_owned(),
        record: record["id"].to_string(),
        view: view["id"].as_str().expect("view id").to_owned(),
        app,
        table,
        field,
        ..PathIds::placeholders()
    }
}
