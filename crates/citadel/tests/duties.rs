//! Separation of duties (三员分立) and protected system accounts over
//! HTTPS, on SQLite and PostgreSQL: system, security and audit
//! administrators each reach only their own administration; one person
//! holds all three only when the tenant says so on purpose; the tenant's
//! first account is protected from being disabled or stripped by mistake.

mod common;
mod data_support;
mod identity_support;

use common::{Backend, TestServer, expect_problem};
use data_support::Api;
use identity_support::{Member, me, member, tenant};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn assign(admin: &Api<'_>, user: &Member, duties: Value) -> Value {
    admin
        .ok(
            Method::PATCH,
            &format!("/api/v1/users/{}", user.id),
            duties,
            StatusCode::OK,
        )
        .await
}

async fn status(api: &Api<'_>, method: Method, path: &str, body: Value) -> StatusCode {
    api.send(method, path, body).await.status()
}

async fn story(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let acme = tenant(&server, &op, "duties").await;
    let admin = Api::new(&server, &acme.admin);
    let first = me(&server, &acme.admin).await;
    let first_id = first["user"]["id"].as_str().expect("id").to_owned();
    let shown = admin.get(&format!("/api/v1/users/{first_id}")).await;
    for key in ["is_admin", "security_admin", "audit_admin", "protected"] {
        assert_eq!(shown[key], true, "the first account: {key} in {shown}");
    }

    let sys = member(&server, &acme, "sys").await;
    let sec = member(&server, &acme, "sec").await;
    let aud = member(&server, &acme, "aud").await;
    assign(&admin, &sys, json!({"is_admin": true})).await;
    assign(&admin, &sec, json!({"security_admin": true})).await;
    let shown = assign(&admin, &aud, json!({"audit_admin": true})).await;
    assert_eq!(
        (
            shown["is_admin"].clone(),
            shown["security_admin"].clone(),
            shown["audit_admin"].clone()
        ),
        (json!(false), json!(false), json!(true))
    );
    let (sys_api, sec_api, aud_api) = (
        Api::new(&server, &sys.cookie),
        Api::new(&server, &sec.cookie),
        Api::new(&server, &aud.cookie),
    );
    let policy = admin.get("/api/v1/security-policy").await;
    // Each reaches its own administration and nothing of the others'.
    let checks: [(&str, Method, &str, Value); 6] = [
        ("users", Method::GET, "/api/v1/users", Value::Null),
        ("groups", Method::GET, "/api/v1/groups", Value::Null),
        (
            "policy",
            Method::GET,
            "/api/v1/security-policy",
            Value::Null,
        ),
        (
            "policy change",
            Method::PUT,
            "/api/v1/security-policy",
            policy.clone(),
        ),
        ("bans", Method::GET, "/api/v1/ip-bans", Value::Null),
        (
            "events",
            Method::GET,
            "/api/v1/security-events",
            Value::Null,
        ),
    ];
    let allowed = |who: &str, what: &str| match who {
        "sys" => matches!(what, "users" | "groups"),
        "sec" => matches!(what, "policy" | "policy change" | "bans"),
        _ => what == "events",
    };
    for (who, api) in [("sys", &sys_api), ("sec", &sec_api), ("aud", &aud_api)] {
        for (what, method, path, body) in &checks {
            let got = status(api, method.clone(), path, body.clone()).await;
            let want = if allowed(who, what) {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(got, want, "{who} {what}");
        }
    }
    assert_eq!(
        status(&aud_api, Method::GET, "/api/v1/login-history", Value::Null).await,
        StatusCode::OK
    );

    // All three in one hand only on purpose.
    let r = sys_api
        .send(
            Method::PATCH,
            &format!("/api/v1/users/{}", sec.id),
            json!({"is_admin": true, "audit_admin": true}),
        )
        .await;
    expect_problem(r, StatusCode::FORBIDDEN, "duties_combined").await;
    let r = admin
        .send(
            Method::POST,
            "/api/v1/users",
            json!({"login": "boss", "email": "boss@duties.cn", "is_admin": true,
                   "security_admin": true, "audit_admin": true}),
        )
        .await;
    expect_problem(r, StatusCode::FORBIDDEN, "duties_combined").await;
    let shown = sys_api
        .ok(
            Method::PATCH,
            &format!("/api/v1/users/{}", sec.id),
            json!({"is_admin": true, "audit_admin": true, "combine_duties": true}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(shown["audit_admin"], true);

    // The first account is protected: not disabled, not stripped of a
    // duty, until it is unprotected in a request of its own.
    let first_path = format!("/api/v1/users/{first_id}");
    for change in [
        json!({"status": "disabled"}),
        json!({"audit_admin": false}),
        json!({"protected": false, "status": "disabled"}),
    ] {
        let r = sys_api
            .send(Method::PATCH, &first_path, change.clone())
            .await;
        let problem = expect_problem(r, StatusCode::CONFLICT, "conflict").await;
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("protect")),
            "{change}: {problem}"
        );
    }
    let shown = admin.get(&first_path).await;
    assert_eq!(
        (shown["state"].clone(), shown["audit_admin"].clone()),
        (json!("active"), json!(true))
    );
    sys_api
        .ok(
            Method::PATCH,
            &first_path,
            json!({"protected": false}),
            StatusCode::OK,
        )
        .await;
    let shown = sys_api
        .ok(
            Method::PATCH,
            &first_path,
            json!({"audit_admin": false}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        (shown["audit_admin"].clone(), shown["protected"].clone()),
        (json!(false), json!(false))
    );
    let events = aud_api.get("/api/v1/security-events").await;
    assert!(events.to_string().contains("duties"), "{events}");
    server.stop().await;
}

#[tokio::test]
async fn duties_and_protected_accounts_on_sqlite() {
    story(Backend::Sqlite).await;
}

#[tokio::test]
async fn duties_and_protected_accounts_on_postgres() {
    story(Backend::Postgres).await;
}
