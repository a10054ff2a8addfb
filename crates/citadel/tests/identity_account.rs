//! A user's sessions over HTTPS, on SQLite and PostgreSQL: the session
//! cookie, the anti-CSRF token, listing and revoking sessions, signing
//! out, and idle and absolute expiry. Passwords and personal access tokens
//! are in `identity_credentials.rs`, TOTP in `identity_totp.rs`, admin
//! management in `identity_admin.rs`.

mod common;
mod identity_support;

use std::time::Duration;

use common::{Backend, STRONG_PASSWORD, TestServer, cookie_from, csrf_for, expect_problem};
use identity_support::{
    OTHER_PASSWORD, body, current_session_id, delete, me, member, send_with_csrf, sessions,
    sign_in, tenant, with_bearer,
};
use reqwest::header::SET_COOKIE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const MINUTE_MS: i64 = 60 * 1000;

/// Every `Set-Cookie` of a response.
fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}

async fn session_cookie_is_locked_down(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "cookie-flags").await;
    let r = server.login(&t.slug, &t.admin_login, STRONG_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookies = set_cookies(&r);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let attributes: Vec<&str> = cookies[0].split(';').map(str::trim).collect();
    assert!(
        attributes[0].starts_with(&format!("citadel_session={}.", t.id)),
        "{attributes:?}"
    );
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(&attr), "{attr} missing: {attributes:?}");
    }
    assert!(
        !attributes.iter().any(|a| a.starts_with("Domain")),
        "a host-only cookie: {attributes:?}"
    );
    let cookie = cookie_from(&r, "citadel_session").expect("cookie");
    let logout = server
        .post("/api/v1/auth/logout", Some(&cookie), &json!({}))
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookies(&logout);
    assert_eq!(cleared.len(), 1, "{cleared:?}");
    for attr in ["citadel_session=;", "Max-Age=0", "HttpOnly", "Secure"] {
        assert!(cleared[0].contains(attr), "{}", cleared[0]);
    }
    server.stop().await;
}

async fn csrf_guards_cookie_sessions(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "csrf-check").await;
    let m = member(&server, &t, "zhangsan").await;

    // The sign-in body hands out the token the server derives from the cookie.
    let r = server.login(&t.slug, "zhangsan", STRONG_PASSWORD).await;
    let cookie = cookie_from(&r, "citadel_session").expect("cookie");
    let signed: Value = r.json().await.expect("json");
    let csrf = signed["csrf_token"]
        .as_str()
        .expect("csrf token")
        .to_owned();
    assert_eq!(Some(csrf.clone()), csrf_for(&cookie));
    assert_eq!(csrf.len(), 64, "{csrf}");
    // Each session has its own token; GET /me repeats this session's.
    let other_csrf = csrf_for(&m.cookie).expect("csrf");
    assert_ne!(csrf, other_csrf);
    assert_eq!(me(&server, &cookie).await["csrf_token"], csrf.as_str());

    // Unsafe requests without the header, or with a wrong one, change nothing.
    let token = json!({"name": "forged", "expires_in_days": 30, "password": STRONG_PASSWORD});
    for header in [
        None,
        Some(String::new()),
        Some("0".repeat(64)),
        Some(other_csrf.clone()),
    ] {
        let r = send_with_csrf(
            &server,
            Method::POST,
            "/api/v1/me/tokens",
            &cookie,
            header.as_deref(),
            Some(&token),
        )
        .await;
        expect_problem(r, StatusCode::FORBIDDEN, "csrf_rejected").await;
    }
    let r = server
        .send_without_csrf(
            Method::POST,
            "/api/v1/auth/password",
            &cookie,
            &json!({"current_password": STRONG_PASSWORD, "new_password": OTHER_PASSWORD}),
        )
        .await;
    expect_problem(r, StatusCode::FORBIDDEN, "csrf_rejected").await;
    let tokens = body(
        server.get("/api/v1/me/tokens", Some(&cookie)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(tokens, json!([]), "a GET needs no header");
    // The password is unchanged.
    sign_in(&server, &t.slug, "zhangsan", STRONG_PASSWORD).await;

    // PATCH and DELETE are guarded too (here: the admin's session).
    let path = format!("/api/v1/users/{}", m.id);
    let r = send_with_csrf(
        &server,
        Method::PATCH,
        &path,
        &t.admin,
        None,
        Some(&json!({"display_name": "Forged"})),
    )
    .await;
    expect_problem(r, StatusCode::FORBIDDEN, "csrf_rejected").await;
    let user = body(server.get(&path, Some(&t.admin)).await, StatusCode::OK).await;
    assert_eq!(user["display_name"], Value::Null);
    let victim = current_session_id(&server, &m.cookie).await;
    let r = send_with_csrf(
        &server,
        Method::DELETE,
        &format!("/api/v1/me/sessions/{victim}"),
        &m.cookie,
        None,
        None,
    )
    .await;
    expect_problem(r, StatusCode::FORBIDDEN, "csrf_rejected").await;
    me(&server, &m.cookie).await;

    // With the token from the sign-in body, the same requests work.
    let r = send_with_csrf(
        &server,
        Method::POST,
        "/api/v1/me/tokens",
        &cookie,
        Some(&csrf),
        Some(&token),
    )
    .await;
    let created = body(r, StatusCode::CREATED).await;
    let r = send_with_csrf(
        &server,
        Method::PATCH,
        &path,
        &t.admin,
        csrf_for(&t.admin).as_deref(),
        Some(&json!({"display_name": "张三"})),
    )
    .await;
    assert_eq!(body(r, StatusCode::OK).await["display_name"], "张三");

    // A bearer token needs no anti-CSRF header, even for unsafe methods.
    let secret = created["secret"].as_str().expect("secret");
    let r = with_bearer(
        &server,
        Method::POST,
        "/api/v1/auth/logout",
        secret,
        Some(&json!({})),
    )
    .await;
    expect_problem(r, StatusCode::FORBIDDEN, "session_required").await;

    // The operator console's cookie is guarded the same way.
    let r = server
        .post(
            "/api/v1/platform/login",
            None,
            &json!({"login": "ops", "password": STRONG_PASSWORD}),
        )
        .await;
    let op2 = cookie_from(&r, "citadel_operator").expect("operator cookie");
    let signed: Value = r.json().await.expect("json");
    let op_csrf = signed["csrf_token"].as_str().expect("csrf").to_owned();
    assert_eq!(Some(op_csrf.clone()), csrf_for(&op2));
    let new_tenant = json!({"slug": "forged-tenant", "admin_email": "a@forged.cn"});
    for header in [None, Some(csrf.as_str())] {
        let r = send_with_csrf(
            &server,
            Method::POST,
            "/api/v1/platform/tenants",
            &op2,
            header,
            Some(&new_tenant),
        )
        .await;
        expect_problem(r, StatusCode::FORBIDDEN, "csrf_rejected").await;
    }
    let list = body(
        server.get("/api/v1/platform/tenants", Some(&op2)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(common::slugs(&list), ["csrf-check"]);
    let r = send_with_csrf(
        &server,
        Method::POST,
        "/api/v1/platform/tenants",
        &op2,
        Some(&op_csrf),
        Some(&new_tenant),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    server.stop().await;
}

async fn sessions_list_revoke_and_logout(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "sessions").await;
    let m = member(&server, &t, "lisi").await;
    let second = sign_in(&server, &t.slug, "lisi", STRONG_PASSWORD).await;

    let seen_by_first = sessions(&server, &m.cookie).await;
    let seen_by_second = sessions(&server, &second).await;
    assert_eq!(seen_by_first.len(), 2, "{seen_by_first:?}");
    let first_id = current_session_id(&server, &m.cookie).await;
    let second_id = current_session_id(&server, &second).await;
    assert_ne!(first_id, second_id);
    for list in [&seen_by_first, &seen_by_second] {
        let mut ids: Vec<&str> = list.iter().filter_map(|s| s["id"].as_str()).collect();
        ids.sort_unstable();
        let mut expected = [first_id.as_str(), second_id.as_str()];
        expected.sort_unstable();
        assert_eq!(ids, expected);
        for s in list {
            assert_eq!(s["ip"], "127.0.0.1", "{s}");
            for field in ["created_at", "last_seen_at", "user_agent"] {
                assert!(s[field].is_string(), "{field}: {s}");
            }
            assert!(s.get("token_hash").is_none(), "{s}");
        }
    }
    // Newest first.
    assert_eq!(seen_by_first[0]["id"], second_id.as_str());

    // Another user's session, an unknown one and a malformed id.
    let admin_session = current_session_id(&server, &t.admin).await;
    let r = delete(
        &server,
        &format!("/api/v1/me/sessions/{admin_session}"),
        &m.cookie,
    )
    .await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    me(&server, &t.admin).await;
    let r = delete(
        &server,
        "/api/v1/me/sessions/01890000-0000-7000-8000-000000000000",
        &m.cookie,
    )
    .await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = delete(&server, "/api/v1/me/sessions/not-an-id", &m.cookie).await;
    let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_field").await;
    assert_eq!(problem["field"], "id");

    // Revoking the other device's session ends it; this one goes on.
    let r = delete(
        &server,
        &format!("/api/v1/me/sessions/{second_id}"),
        &m.cookie,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = server.get("/api/v1/me", Some(&second)).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let left = sessions(&server, &m.cookie).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], first_id.as_str());
    assert_eq!(left[0]["current"], true);

    // Signing out ends this session too.
    let r = server
        .post("/api/v1/auth/logout", Some(&m.cookie), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for path in ["/api/v1/me", "/api/v1/me/sessions"] {
        let r = server.get(path, Some(&m.cookie)).await;
        expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let r = server
        .post("/api/v1/auth/logout", Some(&m.cookie), &json!({}))
        .await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // A cookie naming this tenant with a made-up token is no session.
    let forged = format!("citadel_session={}.{}", t.id, "ab".repeat(32));
    let r = server.get("/api/v1/me", Some(&forged)).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    me(&server, &t.admin).await;
    server.stop().await;
}

/// Moves a session's timestamps back: the tests' way of letting time pass.
async fn age_session(server: &TestServer, tenant_id: &str, id: &str, set: &str) {
    server
        .tenant_sql(
            tenant_id,
            &format!("UPDATE sessions SET {set} WHERE id = '{id}'"),
        )
        .await;
}

async fn sessions_expire_idle_and_absolute(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "expiry").await;
    let m = member(&server, &t, "wangwu").await;
    let idle = sign_in(&server, &t.slug, "wangwu", STRONG_PASSWORD).await;
    let busy = sign_in(&server, &t.slug, "wangwu", STRONG_PASSWORD).await;
    let ids = [
        current_session_id(&server, &idle).await,
        current_session_id(&server, &busy).await,
        current_session_id(&server, &m.cookie).await,
    ];

    // Unused for 31 minutes (the default idle limit is 30).
    age_session(
        &server,
        &t.id,
        &ids[0],
        &format!(
            "last_seen_at = last_seen_at - {}, created_at = created_at - {}",
            31 * MINUTE_MS,
            31 * MINUTE_MS
        ),
    )
    .await;
    let r = server.get("/api/v1/me", Some(&idle)).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    // Signed in 12 hours and a minute ago, yet used a moment ago.
    age_session(
        &server,
        &t.id,
        &ids[1],
        &format!(
            "created_at = created_at - {}",
            12 * 60 * MINUTE_MS + MINUTE_MS
        ),
    )
    .await;
    let r = server.get("/api/v1/me", Some(&busy)).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    // Used 29 minutes ago: alive, and the use counts as activity, so 29
    // more minutes later it is still alive.
    for _ in 0..2 {
        age_session(
            &server,
            &t.id,
            &ids[2],
            &format!(
                "last_seen_at = last_seen_at - {}, created_at = created_at - {}",
                29 * MINUTE_MS,
                29 * MINUTE_MS
            ),
        )
        .await;
        me(&server, &m.cookie).await;
    }
    let left = sessions(&server, &m.cookie).await;
    assert_eq!(left.len(), 1, "expired sessions are gone: {left:?}");
    server.stop().await;
}

/// The limits by the clock, configured short: three seconds idle, five
/// absolute. Activity keeps a session alive past the idle limit (even one
/// shorter than the minute between last-seen writes), not past the
/// absolute one.
async fn sessions_expire_by_the_clock(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.sessions = citadel_core::session::SessionPolicy {
            idle: Duration::from_secs(3),
            absolute: Duration::from_secs(5),
        };
    })
    .await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "clock").await;
    let idle = sign_in(&server, &t.slug, &t.admin_login, STRONG_PASSWORD).await;
    let busy = sign_in(&server, &t.slug, &t.admin_login, STRONG_PASSWORD).await;
    let started = std::time::Instant::now();
    me(&server, &idle).await;
    let keep_busy = |until_ms: u64| {
        let (server, busy) = (&server, &busy);
        async move {
            while started.elapsed() < Duration::from_millis(until_ms) {
                me(server, busy).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    };
    keep_busy(3300).await;
    let r = server.get("/api/v1/me", Some(&idle)).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    keep_busy(4700).await;
    tokio::time::sleep(Duration::from_millis(5300).saturating_sub(started.elapsed())).await;
    let r = server.get("/api/v1/me", Some(&busy)).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    server.stop().await;
}

on_both_backends!(
    session_cookie_is_locked_down,
    csrf_guards_cookie_sessions,
    sessions_list_revoke_and_logout,
    sessions_expire_idle_and_absolute,
    sessions_expire_by_the_clock,
);
