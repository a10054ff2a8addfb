//! Helpers shared by the identity test files (`identity_account.rs`,
//! `identity_totp.rs`, `identity_admin.rs`): tenants with signed-in users,
//! requests with explicit anti-CSRF headers or bearer tokens, and TOTP
//! codes computed from an enrolment's base32 seed.

#![allow(dead_code)]

use citadel_crypto::SecretBytes;
use reqwest::header::{AUTHORIZATION, COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::common::{STRONG_PASSWORD, TestServer, cookie_from};

/// A second strong password, for users who change theirs in a test.
pub const OTHER_PASSWORD: &str = "Another-Passw0rd#";

/// Asserts `status` and returns the JSON body (`Null` when there is none).
pub async fn body(response: Response, status: StatusCode) -> Value {
    let got = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(got, status, "{text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("json body")
    }
}

/// A tenant whose admin is signed in, past the forced password change.
pub struct Tenant {
    pub slug: String,
    pub id: String,
    /// The admin's session cookie.
    pub admin: String,
    pub admin_login: String,
}

pub async fn tenant(server: &TestServer, operator: &str, slug: &str) -> Tenant {
    let admin = server.tenant_admin(operator, slug).await;
    let me = me(server, &admin).await;
    Tenant {
        slug: slug.to_owned(),
        id: me["tenant"]["id"].as_str().expect("tenant id").to_owned(),
        admin,
        admin_login: me["user"]["login"].as_str().expect("login").to_owned(),
    }
}

/// `GET /api/v1/me`, which must answer 200.
pub async fn me(server: &TestServer, cookie: &str) -> Value {
    body(server.get("/api/v1/me", Some(cookie)).await, StatusCode::OK).await
}

/// An admin creates user `login` (email `login@example.cn`); returns the
/// user's id and one-time password.
pub async fn add_user(server: &TestServer, admin: &str, login: &str) -> (String, String) {
    let created = body(
        server
            .post(
                "/api/v1/users",
                Some(admin),
                &json!({"login": login, "email": format!("{login}@example.cn")}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    (
        created["user"]["id"].as_str().expect("id").to_owned(),
        created["one_time_password"]
            .as_str()
            .expect("one-time password")
            .to_owned(),
    )
}

/// Signs in and returns the session cookie; the sign-in must succeed.
pub async fn sign_in(server: &TestServer, slug: &str, login: &str, password: &str) -> String {
    let r = server.login(slug, login, password).await;
    assert_eq!(r.status(), StatusCode::OK, "sign-in of {login}");
    cookie_from(&r, "citadel_session").expect("session cookie")
}

/// Signs in with extra fields (`totp_code`, `recovery_code`).
pub async fn sign_in_with(
    server: &TestServer,
    slug: &str,
    login: &str,
    password: &str,
    extra: Value,
) -> Response {
    let mut request = json!({"tenant": slug, "login": login, "password": password});
    if let (Some(map), Some(more)) = (request.as_object_mut(), extra.as_object()) {
        map.extend(more.clone());
    }
    server.post("/api/v1/auth/login", None, &request).await
}

/// A non-admin user who signed in and replaced the one-time password with
/// [`STRONG_PASSWORD`].
pub struct Member {
    pub id: String,
    pub login: String,
    pub cookie: String,
}

pub async fn member(server: &TestServer, tenant: &Tenant, login: &str) -> Member {
    let (id, otp) = add_user(server, &tenant.admin, login).await;
    let cookie = sign_in(server, &tenant.slug, login, &otp).await;
    let r = server
        .post(
            "/api/v1/auth/password",
            Some(&cookie),
            &json!({"current_password": otp, "new_password": STRONG_PASSWORD}),
        )
        .await;
    body(r, StatusCode::NO_CONTENT).await;
    Member {
        id,
        login: login.to_owned(),
        cookie,
    }
}

/// A request with the session cookie and exactly the anti-CSRF header
/// given (none for `None`), with a JSON body unless `body` is `None`.
pub async fn send_with_csrf(
    server: &TestServer,
    method: Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<&Value>,
) -> Response {
    let mut req = server
        .client
        .request(method, server.url(path))
        .header(COOKIE, cookie);
    if let Some(token) = csrf {
        req = req.header("x-csrf-token", token);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.expect("request")
}

/// A request authenticated by `Authorization: Bearer <token>` only.
pub async fn with_bearer(
    server: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Response {
    let mut req = server
        .client
        .request(method, server.url(path))
        .header(AUTHORIZATION, format!("Bearer {token}"));
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.expect("request")
}

/// A bodiless DELETE with the session cookie and its anti-CSRF token.
pub async fn delete(server: &TestServer, path: &str, cookie: &str) -> Response {
    let csrf = crate::common::csrf_for(cookie);
    send_with_csrf(server, Method::DELETE, path, cookie, csrf.as_deref(), None).await
}

pub async fn patch(server: &TestServer, path: &str, cookie: &str, body: &Value) -> Response {
    server
        .send_json(Method::PATCH, path, Some(cookie), body)
        .await
}

pub async fn put(server: &TestServer, path: &str, cookie: &str, body: &Value) -> Response {
    server
        .send_json(Method::PUT, path, Some(cookie), body)
        .await
}

/// The caller's sessions (`GET /api/v1/me/sessions`).
pub async fn sessions(server: &TestServer, cookie: &str) -> Vec<Value> {
    body(
        server.get("/api/v1/me/sessions", Some(cookie)).await,
        StatusCode::OK,
    )
    .await
    .as_array()
    .expect("list")
    .clone()
}

/// The id of the session `cookie` belongs to.
pub async fn current_session_id(server: &TestServer, cookie: &str) -> String {
    let list = sessions(server, cookie).await;
    let current: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{list:?}");
    current[0]["id"].as_str().expect("id").to_owned()
}

/// A bytes literal for `tenant_sql` on either backend.
pub fn sql_bytes(server: &TestServer, bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    match server.backend {
        crate::common::Backend::Sqlite => format!("X'{hex}'"),
        crate::common::Backend::Postgres => format!("'\\x{hex}'::bytea"),
    }
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// RFC 4648 base32 (upper case, padding optional).
pub fn base32_decode(input: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in input.bytes().filter(|c| *c != b'=') {
        let value = ALPHABET
            .iter()
            .position(|a| *a == c.to_ascii_uppercase())
            .expect("base32 character");
        buffer = (buffer << 5) | u32::try_from(value).expect("5 bits");
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).expect("a byte"));
        }
    }
    out
}

/// The six-digit code of the base32 seed `secret` at `unix_seconds`.
pub fn totp_code(secret: &str, unix_seconds: u64) -> String {
    citadel_crypto::totp::code_at(&SecretBytes::new(base32_decode(secret)), unix_seconds)
        .expect("totp code")
}

/// A six-digit string that is none of the codes valid around now.
pub fn wrong_code(secret: &str) -> String {
    let now = now_secs();
    let valid: Vec<String> = (0..=4)
        .map(|i| totp_code(secret, (now + i * 30).saturating_sub(60)))
        .collect();
    (0..1_000_000u32)
        .map(|n| format!("{n:06}"))
        .find(|c| !valid.contains(c))
        .expect("a wrong code")
}

/// Starts and confirms TOTP enrolment for the session; returns the base32
/// seed and the recovery codes.
pub async fn enrol_totp(server: &TestServer, cookie: &str) -> (String, Vec<String>) {
    let enrolment = body(
        server
            .post("/api/v1/me/totp", Some(cookie), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    let secret = enrolment["secret"].as_str().expect("secret").to_owned();
    let confirmed = body(
        server
            .post(
                "/api/v1/me/totp/confirm",
                Some(cookie),
                &json!({"code": totp_code(&secret, now_secs()), "password": STRONG_PASSWORD}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    let codes = confirmed["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    (secret, codes)
}

/// Narrows the built-in member group to nothing: members may then do only
/// what other groups grant them.
pub async fn members_may_do_nothing(server: &TestServer, admin: &str) {
    let groups = body(
        server.get("/api/v1/groups", Some(admin)).await,
        StatusCode::OK,
    )
    .await;
    let member_group = groups
        .as_array()
        .and_then(|all| all.iter().find(|g| g["builtin"] == "member"))
        .and_then(|g| g["id"].as_str())
        .expect("member group")
        .to_owned();
    let r = server
        .send_json(
            Method::PUT,
            &format!("/api/v1/groups/{member_group}"),
            Some(admin),
            &json!({"name": "成员", "grants": {}}),
        )
        .await;
    body(r, StatusCode::OK).await;
}

/// The id of the field `name` of `table`, as its admin sees the table.
pub async fn field_id(server: &TestServer, admin: &str, table: &str, name: &str) -> String {
    let table = body(
        server
            .get(&format!("/api/v1/tables/{table}"), Some(admin))
            .await,
        StatusCode::OK,
    )
    .await;
    table["fields"]
        .as_array()
        .and_then(|all| all.iter().find(|f| f["name"] == name))
        .and_then(|f| f["id"].as_str())
        .expect("field")
        .to_owned()
}
