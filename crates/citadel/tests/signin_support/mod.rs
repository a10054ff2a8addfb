//! Helpers of the sign-in tests: servers, tenants and users made through
//! the API, sign-ins from other addresses, and list filters.

#![allow(dead_code)]

use citadel_core::throttle::ThrottlePolicy;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::common::{Backend, STRONG_PASSWORD, TestServer, cookie_from, expect_problem};

pub const WRONG_PASSWORD: &str = "Wrong-Passw0rd!";

/// A server whose per-address throttle stays out of the way of tests
/// that fail many sign-ins on purpose.
pub async fn lenient_server(backend: Backend) -> TestServer {
    TestServer::start_with(backend, |config| {
        config.login_throttle = ThrottlePolicy {
            max_failures: 1000,
            window_ms: 15 * 60 * 1000,
        };
    })
    .await
}

/// A tenant with its admin signed in; returns (tenant id, admin cookie).
pub async fn tenant(server: &TestServer, slug: &str) -> (String, String) {
    let op = server.operator().await;
    let admin = server.tenant_admin(&op, slug).await;
    let me = get_json(server, "/api/v1/me", &admin).await;
    let id = me["tenant"]["id"].as_str().expect("tenant id").to_owned();
    (id, admin)
}

/// A user made by the admin, signed in once from 127.0.0.1 and past the
/// forced change to STRONG_PASSWORD; returns (user id, session cookie).
pub async fn user(server: &TestServer, slug: &str, admin: &str, login: &str) -> (String, String) {
    let email = format!("{login}@{slug}.cn");
    let r = server
        .post(
            "/api/v1/users",
            Some(admin),
            &json!({"login": login, "email": email}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.expect("json");
    let id = body["user"]["id"].as_str().expect("user id").to_owned();
    let otp = body["one_time_password"].as_str().expect("otp");
    let r = server.login(slug, login, otp).await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = cookie_from(&r, "citadel_session").expect("session cookie");
    let r = server
        .post(
            "/api/v1/auth/password",
            Some(&cookie),
            &json!({"current_password": otp, "new_password": STRONG_PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    (id, cookie)
}

pub async fn get_json(server: &TestServer, path: &str, cookie: &str) -> Value {
    let r = server.get(path, Some(cookie)).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    r.json().await.expect("json")
}

/// A client connecting from another loopback address.
pub fn client_at(server: &TestServer, ip: &str) -> Client {
    server.client_from(ip.parse().expect("ip"))
}

pub async fn login_via(
    client: &Client,
    server: &TestServer,
    tenant: &str,
    login: &str,
    password: &str,
) -> Response {
    client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"tenant": tenant, "login": login, "password": password}))
        .send()
        .await
        .expect("request")
}

/// Signs in with `password` expecting the generic 401; returns its body.
pub async fn fails(server: &TestServer, tenant: &str, login: &str, password: &str) -> Value {
    let r = server.login(tenant, login, password).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await
}

pub async fn succeeds(server: &TestServer, tenant: &str, login: &str) -> String {
    let r = server.login(tenant, login, STRONG_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK, "{login} signs in");
    cookie_from(&r, "citadel_session").expect("session cookie")
}

/// An admin sets a user's status (`PATCH /api/v1/users/{id}`).
pub async fn set_status(server: &TestServer, admin: &str, user_id: &str, status: &str) -> Response {
    let body = json!({ "status": status });
    let path = format!("/api/v1/users/{user_id}");
    server
        .send_json(Method::PATCH, &path, Some(admin), &body)
        .await
}

pub async fn account_state(server: &TestServer, admin: &str, user_id: &str) -> String {
    let user = get_json(server, &format!("/api/v1/users/{user_id}"), admin).await;
    user["state"].as_str().expect("state").to_owned()
}

/// The entries of a list (events, notifications) of one kind.
pub fn of_kind<'a>(list: &'a Value, kind: &str) -> Vec<&'a Value> {
    list.as_array()
        .expect("list")
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

pub fn field<'a>(list: &'a Value, name: &str) -> Vec<&'a str> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|e| e[name].as_str().unwrap_or_default())
        .collect()
}
