//! The permission matrix, generated from the route table: every operation
//! of the OpenAPI document has an entry here saying what a signed-in member
//! without any grant gets, and the test sends each request as such a member
//! and checks the status and that nothing of the tenant's data comes back.
//! A route added without an entry fails the suite.

mod common;
mod identity_support;
mod route_support;

use std::collections::BTreeSet;

use common::{Backend, TestServer};
use identity_support::{member, members_may_do_nothing, tenant};
use reqwest::StatusCode;
use route_support::{data_fixture, json_body, method, operations_with, valid_body};
use serde_json::json;

/// What a member without grants gets from an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Anyone may call it (health, the spec, sign-in).
    Public,
    /// A platform operator's endpoint: a tenant session is no session there.
    Operator,
    /// The caller's own account, sessions and credentials: no grant needed.
    Own,
    /// Refused with 403.
    Forbidden,
    /// Refused with 404: something that exists only for others.
    NotFound,
    /// A list that answers 200 with what the caller may see: here nothing.
    Filtered,
    /// Every member may call it, and it answers 200 without tenant data
    /// (the signing service: the caller's own input, the tenant's keys).
    Member,
}

use Expect::*;

const MATRIX: &[(&str, &str, Expect)] = &[
    ("GET", "/healthz", Public),
    ("GET", "/readyz", Public),
    ("GET", "/metrics", Public),
    ("GET", "/api/v1/openapi.json", Public),
    ("POST", "/api/v1/platform/bootstrap", Public),
    ("POST", "/api/v1/platform/login", Public),
    ("POST", "/api/v1/auth/login", Public),
    ("POST", "/api/v1/platform/logout", Operator),
    ("GET", "/api/v1/platform/operators", Operator),
    ("POST", "/api/v1/platform/operators", Operator),
    ("GET", "/api/v1/platform/tenants", Operator),
    ("POST", "/api/v1/platform/tenants", Operator),
    ("GET", "/api/v1/platform/tenants/{slug}", Operator),
    ("DELETE", "/api/v1/platform/tenants/{slug}", Operator),
    ("POST", "/api/v1/platform/tenants/{slug}/suspend", Operator),
    ("POST", "/api/v1/platform/tenants/{slug}/resume", Operator),
    ("GET", "/api/v1/platform/support/{slug}/apps", Operator),
    (
        "GET",
        "/api/v1/platform/support/{slug}/tables/{table}/records",
        Operator,
    ),
    (
        "GET",
        "/api/v1/platform/support/{slug}/tables/{table}/records/{record}",
        Operator,
    ),
    ("POST", "/api/v1/auth/logout", Own),
    ("POST", "/api/v1/auth/password", Own),
    ("GET", "/api/v1/me", Own),
    ("GET", "/api/v1/me/login-history", Own),
    ("GET", "/api/v1/me/notifications", Own),
    ("POST", "/api/v1/me/notifications/{id}/read", Own),
    ("POST", "/api/v1/me/recovery-codes", Own),
    ("GET", "/api/v1/me/sessions", Own),
    ("DELETE", "/api/v1/me/sessions/{id}", Own),
    ("GET", "/api/v1/me/tokens", Own),
    ("POST", "/api/v1/me/tokens", Own),
    ("DELETE", "/api/v1/me/tokens/{id}", Own),
    ("POST", "/api/v1/me/totp", Own),
    ("DELETE", "/api/v1/me/totp", Own),
    ("POST", "/api/v1/me/totp/confirm", Own),
    ("POST", "/api/v1/crypto/sign", Member),
    ("POST", "/api/v1/crypto/verify", Member),
    ("POST", "/api/v1/crypto/digest", Member),
    ("GET", "/api/v1/crypto/public-key", Member),
    ("GET", "/api/v1/users", Forbidden),
    ("POST", "/api/v1/users", Forbidden),
    ("GET", "/api/v1/users/{id}", Forbidden),
    ("PATCH", "/api/v1/users/{id}", Forbidden),
    ("POST", "/api/v1/users/{id}/unlock", Forbidden),
    ("POST", "/api/v1/users/{id}/reset-password", Forbidden),
    ("DELETE", "/api/v1/users/{id}/totp", Forbidden),
    ("GET", "/api/v1/departments", Forbidden),
    ("POST", "/api/v1/departments", Forbidden),
    ("PATCH", "/api/v1/departments/{id}", Forbidden),
    ("DELETE", "/api/v1/departments/{id}", Forbidden),
    ("GET", "/api/v1/keys", Forbidden),
    ("POST", "/api/v1/keys/rotate", Forbidden),
    ("GET", "/api/v1/ip-bans", Forbidden),
    ("POST", "/api/v1/ip-bans", Forbidden),
    ("DELETE", "/api/v1/ip-bans/{id}", Forbidden),
    ("GET", "/api/v1/security-policy", Forbidden),
    ("PUT", "/api/v1/security-policy", Forbidden),
    ("GET", "/api/v1/security-events", Forbidden),
    ("GET", "/api/v1/login-history", Forbidden),
    ("GET", "/api/v1/groups", Forbidden),
    ("POST", "/api/v1/groups", Forbidden),
    ("GET", "/api/v1/groups/{group}", Forbidden),
    ("PUT", "/api/v1/groups/{group}", Forbidden),
    ("DELETE", "/api/v1/groups/{group}", Forbidden),
    ("POST", "/api/v1/groups/{group}/preview", Forbidden),
    ("GET", "/api/v1/authz/explain", Forbidden),
    ("GET", "/api/v1/support-grants", Forbidden),
    ("POST", "/api/v1/support-grants", Forbidden),
    ("DELETE", "/api/v1/support-grants/{id}", Forbidden),
    ("GET", "/api/v1/apps", Filtered),
    ("POST", "/api/v1/apps", Forbidden),
    ("GET", "/api/v1/apps/{app}", NotFound),
    ("PATCH", "/api/v1/apps/{app}", Forbidden),
    ("DELETE", "/api/v1/apps/{app}", Forbidden),
    ("POST", "/api/v1/apps/{app}/restore", Forbidden),
    ("GET", "/api/v1/apps/{app}/tables", Filtered),
    ("POST", "/api/v1/apps/{app}/tables", Forbidden),
    ("GET", "/api/v1/recycle-bin", Forbidden),
    ("GET", "/api/v1/tables/{table}", Forbidden),
    ("PATCH", "/api/v1/tables/{table}", Forbidden),
    ("DELETE", "/api/v1/tables/{table}", Forbidden),
    ("POST", "/api/v1/tables/{table}/restore", Forbidden),
    ("POST", "/api/v1/tables/{table}/fields", Forbidden),
    ("PATCH", "/api/v1/tables/{table}/fields/{field}", Forbidden),
    ("DELETE", "/api/v1/tables/{table}/fields/{field}", Forbidden),
    (
        "POST",
        "/api/v1/tables/{table}/fields/{field}/type-change",
        Forbidden,
    ),
    ("PUT", "/api/v1/tables/{table}/field-order", Forbidden),
    ("GET", "/api/v1/tables/{table}/records", Forbidden),
    ("POST", "/api/v1/tables/{table}/records", Forbidden),
    ("GET", "/api/v1/tables/{table}/records/{record}", Forbidden),
    (
        "PATCH",
        "/api/v1/tables/{table}/records/{record}",
        Forbidden,
    ),
    (
        "DELETE",
        "/api/v1/tables/{table}/records/{record}",
        Forbidden,
    ),
    (
        "GET",
        "/api/v1/tables/{table}/records/{record}/history",
        Forbidden,
    ),
    ("POST", "/api/v1/tables/{table}/records/batch", Forbidden),
    ("PATCH", "/api/v1/tables/{table}/records/batch", Forbidden),
    (
        "POST",
        "/api/v1/tables/{table}/records/batch-delete",
        Forbidden,
    ),
    ("GET", "/api/v1/tables/{table}/export", Forbidden),
    ("POST", "/api/v1/tables/{table}/import", Forbidden),
    ("GET", "/api/v1/tables/{table}/views", Forbidden),
    ("POST", "/api/v1/tables/{table}/views", Forbidden),
    ("GET", "/api/v1/views/{view}", NotFound),
    ("PATCH", "/api/v1/views/{view}", NotFound),
    ("DELETE", "/api/v1/views/{view}", NotFound),
    ("GET", "/api/v1/audit/events", Forbidden),
    ("GET", "/api/v1/audit/export", Forbidden),
    ("GET", "/api/v1/audit/tree-head", Forbidden),
    ("GET", "/api/v1/audit/proofs/inclusion", Forbidden),
    ("GET", "/api/v1/audit/proofs/consistency", Forbidden),
    ("GET", "/api/v1/audit/public-key", Forbidden),
    ("POST", "/api/v1/audit/verify", Forbidden),
    ("GET", "/api/v1/audit-policy", Forbidden),
    ("PUT", "/api/v1/audit-policy", Forbidden),
    ("GET", "/api/v1/platform/audit/events", Operator),
];

/// What the tenant holds that a member without grants must never see.
const SECRETS: &[&str] = &["机密-7731", "客户", "名称", "应用", "视图"];

#[tokio::test]
async fn a_member_without_grants_gets_nothing_from_any_endpoint() {
    let server = TestServer::start(Backend::Sqlite).await;
    let op = server.operator().await;
    let acme = tenant(&server, &op, "acme").await;
    let ids = data_fixture(&server, &acme.admin).await;
    json_body(
        server
            .post(
                &format!("/api/v1/tables/{}/records", ids.table),
                Some(&acme.admin),
                &json!({"fields": {"名称": "机密-7731"}}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    members_may_do_nothing(&server, &acme.admin).await;
    let nobody = member(&server, &acme, "nobody").await;

    let ops = operations_with(&server, &ids).await;
    let listed: BTreeSet<(String, String)> = ops
        .iter()
        .map(|o| (o.method.clone(), o.template.clone()))
        .collect();
    let matrix: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let missing: Vec<_> = listed.difference(&matrix).collect();
    assert!(
        missing.is_empty(),
        "routes without a matrix entry: {missing:?}"
    );
    let stale: Vec<_> = matrix.difference(&listed).collect();
    assert!(
        stale.is_empty(),
        "matrix entries without a route: {stale:?}"
    );

    for operation in &ops {
        let expect = MATRIX
            .iter()
            .find(|(m, p, _)| *m == operation.method && *p == operation.template)
            .map(|(_, _, e)| *e)
            .expect("an entry");
        let wanted = match expect {
            Public | Own => continue,
            Operator => StatusCode::UNAUTHORIZED,
            Forbidden => StatusCode::FORBIDDEN,
            NotFound => StatusCode::NOT_FOUND,
            Filtered | Member => StatusCode::OK,
        };
        let payload = if operation.has_body {
            valid_body(&operation.method, &operation.template)
        } else {
            json!({})
        };
        let r = server
            .send_json(
                method(&operation.method),
                &operation.path,
                Some(&nobody.cookie),
                &payload,
            )
            .await;
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        let what = format!("{} {}", operation.method, operation.template);
        assert_eq!(status, wanted, "{what}: {text}");
        for secret in SECRETS {
            assert!(!text.contains(secret), "{what} leaks {secret}: {text}");
        }
        if expect == Filtered {
            assert_eq!(text.trim(), "[]", "{what}");
        }
    }
    // The admin still sees everything, so the refusals above were the
    // member's and not an empty tenant's.
    let apps = json_body(
        server.get("/api/v1/apps", Some(&acme.admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(apps.as_array().map(Vec::len), Some(1));
    server.stop().await;
}
