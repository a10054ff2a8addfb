//! A user's own credentials over HTTPS, on SQLite and PostgreSQL: the
//! password policy and history, forced, expired and admin-reset password
//! changes, and personal access tokens.

mod common;
mod identity_support;

use common::{Backend, STRONG_PASSWORD, TestServer, cookie_from, expect_problem};
use identity_support::{
    OTHER_PASSWORD, body, delete, me, member, patch, put, sessions, sign_in, sql_bytes, tenant,
    with_bearer,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

async fn change_password(server: &TestServer, cookie: &str, current: &str, new: &str) -> Value {
    let r = server
        .post(
            "/api/v1/auth/password",
            Some(cookie),
            &json!({"current_password": current, "new_password": new}),
        )
        .await;
    let status = r.status();
    if status == StatusCode::NO_CONTENT {
        Value::Null
    } else {
        r.json().await.expect("problem")
    }
}

async fn password_policy_and_history(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "passwords").await;
    let m = member(&server, &t, "zhaoliu").await;
    let other = sign_in(&server, &t.slug, "zhaoliu", STRONG_PASSWORD).await;

    let wrong = change_password(&server, &m.cookie, "Wrong-Passw0rd!", OTHER_PASSWORD).await;
    assert_eq!(wrong["code"], "invalid_credentials", "{wrong}");
    assert_eq!(wrong["status"], 401);
    for weak in [
        "Sh0rt!x",           // too short
        "alllowercase-only", // two classes
        "ALLUPPER12345",     // two classes
        "Zhaoliu-2026!",     // contains the login
    ] {
        let problem = change_password(&server, &m.cookie, STRONG_PASSWORD, weak).await;
        assert_eq!(problem["code"], "invalid_field", "{weak}: {problem}");
        assert_eq!(problem["field"], "new_password", "{weak}");
        assert_eq!(problem["status"], 400);
    }
    let same = change_password(&server, &m.cookie, STRONG_PASSWORD, STRONG_PASSWORD).await;
    assert_eq!(same["code"], "password_reused", "{same}");
    assert_eq!(same["field"], "new_password");
    // None of that changed anything or ended a session.
    me(&server, &other).await;

    // A change ends the user's other sessions and keeps this one.
    let passwords: Vec<String> = (1..=5).map(|i| format!("Rotated-Pass{i}!")).collect();
    let r = change_password(&server, &m.cookie, STRONG_PASSWORD, &passwords[0]).await;
    assert_eq!(r, Value::Null, "{r}");
    let r = server.get("/api/v1/me", Some(&other)).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_eq!(me(&server, &m.cookie).await["pending"], Value::Null);
    assert_eq!(sessions(&server, &m.cookie).await.len(), 1);
    let r = server.login(&t.slug, "zhaoliu", STRONG_PASSWORD).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // History: with the default of 5, the current password and the four
    // before it are refused; the sixth back is accepted again.
    let mut current = passwords[0].clone();
    for next in &passwords[1..] {
        let r = change_password(&server, &m.cookie, &current, next).await;
        assert_eq!(r, Value::Null, "{r}");
        current.clone_from(next);
    }
    // STRONG_PASSWORD is now the sixth back; passwords[0] the fifth.
    for reused in [&passwords[0], &passwords[2], &passwords[4]] {
        let problem = change_password(&server, &m.cookie, &current, reused).await;
        assert_eq!(problem["code"], "password_reused", "{reused}: {problem}");
        assert_eq!(problem["status"], 400);
    }
    let r = change_password(&server, &m.cookie, &current, STRONG_PASSWORD).await;
    assert_eq!(r, Value::Null, "{r}");
    sign_in(&server, &t.slug, "zhaoliu", STRONG_PASSWORD).await;

    // A shorter history set by the admin lets an older password back.
    let policy = json!({"password_max_age_days": 90, "password_history": 2,
        "max_failed_logins": 5, "lockout_minutes": 15, "require_totp": "optional"});
    body(
        put(&server, "/api/v1/security-policy", &t.admin, &policy).await,
        StatusCode::OK,
    )
    .await;
    let problem = change_password(&server, &m.cookie, STRONG_PASSWORD, &passwords[4]).await;
    assert_eq!(problem["code"], "password_reused", "{problem}");
    let r = change_password(&server, &m.cookie, STRONG_PASSWORD, &passwords[3]).await;
    assert_eq!(r, Value::Null, "{r}");
    server.stop().await;
}

async fn forced_expired_and_reset_passwords(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "forced").await;

    // A new user's one-time password must be replaced before anything else.
    let (id, otp) = identity_support::add_user(&server, &t.admin, "sunqi").await;
    let r = server.login(&t.slug, "sunqi", &otp).await;
    let cookie = cookie_from(&r, "citadel_session").expect("cookie");
    let signed = body(r, StatusCode::OK).await;
    assert_eq!(signed["pending"], "password_change");
    assert_eq!(signed["user"]["must_change_password"], true);
    let expect_gate = |cookie: String| {
        let server = &server;
        async move {
            assert_eq!(me(server, &cookie).await["pending"], "password_change");
            let r = server.get("/api/v1/me/sessions", Some(&cookie)).await;
            expect_problem(r, StatusCode::FORBIDDEN, "password_change_required").await;
            let r = server
                .post(
                    "/api/v1/me/tokens",
                    Some(&cookie),
                    &json!({"name": "x", "expires_in_days": 1, "password": STRONG_PASSWORD}),
                )
                .await;
            expect_problem(r, StatusCode::FORBIDDEN, "password_change_required").await;
            let r = server
                .post("/api/v1/me/totp", Some(&cookie), &json!({}))
                .await;
            expect_problem(r, StatusCode::FORBIDDEN, "password_change_required").await;
        }
    };
    expect_gate(cookie.clone()).await;
    let r = change_password(&server, &cookie, &otp, STRONG_PASSWORD).await;
    assert_eq!(r, Value::Null, "{r}");
    let now = me(&server, &cookie).await;
    assert_eq!(now["pending"], Value::Null);
    assert_eq!(now["user"]["must_change_password"], false);
    sessions(&server, &cookie).await;

    // A password older than the policy's 90 days must be changed: at once
    // for a live session, and at the next sign-in.
    let age_password = |days: i64| {
        let server = &server;
        let tenant_id = t.id.clone();
        async move {
            server
                .tenant_sql(
                    &tenant_id,
                    &format!(
                        "UPDATE users SET password_changed_at = password_changed_at - {} \
                         WHERE login = 'sunqi'",
                        days * DAY_MS
                    ),
                )
                .await;
        }
    };
    age_password(89).await;
    assert_eq!(me(&server, &cookie).await["pending"], Value::Null);
    age_password(2).await;
    expect_gate(cookie.clone()).await;
    let r = server.login(&t.slug, "sunqi", STRONG_PASSWORD).await;
    let fresh = cookie_from(&r, "citadel_session").expect("cookie");
    assert_eq!(body(r, StatusCode::OK).await["pending"], "password_change");
    expect_gate(fresh.clone()).await;
    let r = change_password(&server, &fresh, STRONG_PASSWORD, OTHER_PASSWORD).await;
    assert_eq!(r, Value::Null, "{r}");
    assert_eq!(me(&server, &fresh).await["pending"], Value::Null);
    sessions(&server, &fresh).await;
    // Ageing off (0 days): an old password is no longer a reason.
    let policy = json!({"password_max_age_days": 0, "password_history": 5,
        "max_failed_logins": 5, "lockout_minutes": 15, "require_totp": "optional"});
    body(
        put(&server, "/api/v1/security-policy", &t.admin, &policy).await,
        StatusCode::OK,
    )
    .await;
    age_password(400).await;
    assert_eq!(me(&server, &fresh).await["pending"], Value::Null);

    // An admin reset: a new one-time password, every session ended, the
    // old password dead, a change forced.
    let second = sign_in(&server, &t.slug, "sunqi", OTHER_PASSWORD).await;
    let r = server
        .post(
            &format!("/api/v1/users/{id}/reset-password"),
            Some(&t.admin),
            &json!({}),
        )
        .await;
    let reset = body(r, StatusCode::OK).await;
    let new_otp = reset["one_time_password"].as_str().expect("otp");
    assert_ne!(new_otp, otp);
    for c in [&fresh, &second] {
        let r = server.get("/api/v1/me", Some(c)).await;
        expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let r = server.login(&t.slug, "sunqi", OTHER_PASSWORD).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let user = body(
        server
            .get(&format!("/api/v1/users/{id}"), Some(&t.admin))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(user["must_change_password"], true);
    assert!(user.get("one_time_password").is_none(), "{user}");
    let after = sign_in(&server, &t.slug, "sunqi", new_otp).await;
    expect_gate(after.clone()).await;
    let r = change_password(&server, &after, new_otp, "Third-Passw0rd%").await;
    assert_eq!(r, Value::Null, "{r}");
    sessions(&server, &after).await;

    // Only admins reset, and only users that exist.
    let r = server
        .post(
            &format!("/api/v1/users/{id}/reset-password"),
            Some(&after),
            &json!({}),
        )
        .await;
    expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = server
        .post(
            "/api/v1/users/01890000-0000-7000-8000-000000000000/reset-password",
            Some(&t.admin),
            &json!({}),
        )
        .await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    // Admins reset other people's credentials only: their own go through
    // the endpoints that ask for the current password.
    let me_id = me(&server, &t.admin).await["user"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for path in [
        format!("/api/v1/users/{me_id}/reset-password"),
        format!("/api/v1/users/{me_id}/totp"),
    ] {
        let method = if path.ends_with("totp") {
            reqwest::Method::DELETE
        } else {
            reqwest::Method::POST
        };
        let r = server
            .send_json(method, &path, Some(&t.admin), &json!({}))
            .await;
        expect_problem(r, StatusCode::FORBIDDEN, "use_own_endpoint").await;
    }
    assert_eq!(me(&server, &t.admin).await["pending"], Value::Null);
    server.stop().await;
}

async fn personal_access_tokens(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "tokens").await;
    let m = member(&server, &t, "qianba").await;

    let r = server
        .post(
            "/api/v1/me/tokens",
            Some(&t.admin),
            &json!({"name": "nightly export", "expires_in_days": 30, "password": STRONG_PASSWORD}),
        )
        .await;
    let created = body(r, StatusCode::CREATED).await;
    let secret = created["secret"].as_str().expect("secret").to_owned();
    let token_id = created["token"]["id"].as_str().expect("id").to_owned();
    let tenant_hex = t.id.replace('-', "");
    let raw = secret
        .strip_prefix(&format!("citadel_pat_{tenant_hex}_"))
        .expect("citadel_pat_<tenant>_<secret>")
        .to_owned();
    assert_eq!(raw.len(), 64, "{raw}");
    assert_eq!(created["token"]["name"], "nightly export");
    assert_eq!(created["token"]["last_used_at"], Value::Null);
    assert!(created["token"].get("secret").is_none());

    // The secret is shown once: never in the list.
    let list = body(
        server.get("/api/v1/me/tokens", Some(&t.admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["id"], token_id.as_str());
    let text = list.to_string();
    assert!(!text.contains(&raw), "{text}");
    assert!(list[0].get("secret").is_none(), "{list}");
    // The database keeps exactly the SHA-256 of the secret: the statement
    // below renames the token only if the stored hash is that.
    let hash = citadel_crypto::token::token_hash(&raw);
    server
        .tenant_sql(
            &t.id,
            &format!(
                "UPDATE access_tokens SET name = 'hash verified' WHERE token_hash = {}",
                sql_bytes(&server, &hash)
            ),
        )
        .await;

    // The token acts as its user, with or without admin rights, and needs
    // no anti-CSRF header.
    let r = with_bearer(&server, Method::GET, "/api/v1/me", &secret, None).await;
    let who = body(r, StatusCode::OK).await;
    assert_eq!(who["user"]["login"], t.admin_login.as_str());
    assert_eq!(who["csrf_token"], Value::Null);
    let r = with_bearer(&server, Method::GET, "/api/v1/users", &secret, None).await;
    assert_eq!(
        body(r, StatusCode::OK).await.as_array().map(Vec::len),
        Some(2)
    );
    let r = with_bearer(
        &server,
        Method::POST,
        "/api/v1/departments",
        &secret,
        Some(&json!({"name": "财务部"})),
    )
    .await;
    body(r, StatusCode::CREATED).await;
    let list = body(
        server.get("/api/v1/me/tokens", Some(&t.admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list[0]["name"], "hash verified");
    assert!(list[0]["last_used_at"].is_string(), "{list}");

    // It cannot manage credentials.
    for (method, path, payload) in [
        (
            Method::POST,
            "/api/v1/me/tokens",
            json!({"name": "more", "expires_in_days": 1, "password": STRONG_PASSWORD}),
        ),
        (
            Method::POST,
            "/api/v1/auth/password",
            json!({"current_password": STRONG_PASSWORD, "new_password": OTHER_PASSWORD}),
        ),
        (Method::POST, "/api/v1/me/totp", json!({})),
        (
            Method::DELETE,
            "/api/v1/me/totp",
            json!({"password": STRONG_PASSWORD}),
        ),
    ] {
        let r = with_bearer(&server, method, path, &secret, Some(&payload)).await;
        expect_problem(r, StatusCode::FORBIDDEN, "session_required").await;
    }
    for path in ["/api/v1/me/tokens", "/api/v1/me/sessions"] {
        let r = with_bearer(&server, Method::GET, path, &secret, None).await;
        expect_problem(r, StatusCode::FORBIDDEN, "session_required").await;
    }
    let r = with_bearer(
        &server,
        Method::DELETE,
        &format!("/api/v1/me/tokens/{token_id}"),
        &secret,
        None,
    )
    .await;
    expect_problem(r, StatusCode::FORBIDDEN, "session_required").await;
    sign_in(&server, &t.slug, &t.admin_login, STRONG_PASSWORD).await;

    // A member's token has the member's rights only.
    let r = server
        .post(
            "/api/v1/me/tokens",
            Some(&m.cookie),
            &json!({"name": "script", "expires_in_days": 365, "password": STRONG_PASSWORD}),
        )
        .await;
    let member_token = body(r, StatusCode::CREATED).await;
    let member_secret = member_token["secret"].as_str().expect("secret");
    let r = with_bearer(&server, Method::GET, "/api/v1/users", member_secret, None).await;
    expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    // Nobody revokes another user's token.
    let r = delete(&server, &format!("/api/v1/me/tokens/{token_id}"), &m.cookie).await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;

    // Lifetimes outside 1..=365 days are refused, and nothing is made.
    for days in [0, 366, 100_000] {
        let r = server
            .post(
                "/api/v1/me/tokens",
                Some(&t.admin),
                &json!({"name": "bad", "expires_in_days": days, "password": STRONG_PASSWORD}),
            )
            .await;
        let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_field").await;
        assert_eq!(problem["field"], "expires_in_days");
    }
    let r = server
        .post(
            "/api/v1/me/tokens",
            Some(&t.admin),
            &json!({"name": "  ", "expires_in_days": 1, "password": STRONG_PASSWORD}),
        )
        .await;
    let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_field").await;
    assert_eq!(problem["field"], "name");
    let list = body(
        server.get("/api/v1/me/tokens", Some(&t.admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));

    // Garbage, a wrong secret, another scheme: all 401.
    let wrong_secret = format!("citadel_pat_{tenant_hex}_{}", "0".repeat(64));
    let other_tenant = format!("citadel_pat_{}_{raw}", "0".repeat(32));
    for token in [
        "garbage",
        "",
        wrong_secret.as_str(),
        other_tenant.as_str(),
        &secret[..secret.len() - 1],
    ] {
        let r = with_bearer(&server, Method::GET, "/api/v1/me", token, None).await;
        expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let r = server
        .client
        .get(server.url("/api/v1/me"))
        .header("authorization", format!("Basic {secret}"))
        .send()
        .await
        .expect("request");
    expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    // An expired token stops working.
    server
        .tenant_sql(
            &t.id,
            &format!(
                "UPDATE access_tokens SET expires_at = created_at - 1 WHERE id = '{}'",
                member_token["token"]["id"].as_str().expect("id")
            ),
        )
        .await;
    let r = with_bearer(&server, Method::GET, "/api/v1/me", member_secret, None).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    // A revoked one too; revoking twice or a malformed id is refused.
    let path = format!("/api/v1/me/tokens/{token_id}");
    assert_eq!(
        delete(&server, &path, &t.admin).await.status(),
        StatusCode::NO_CONTENT
    );
    let r = with_bearer(&server, Method::GET, "/api/v1/me", &secret, None).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let r = delete(&server, &path, &t.admin).await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = delete(&server, "/api/v1/me/tokens/42", &t.admin).await;
    let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_field").await;
    assert_eq!(problem["field"], "id");
    let list = body(
        server.get("/api/v1/me/tokens", Some(&t.admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list, json!([]));
    // The admin's own session is unaffected by all of it.
    let r = patch(
        &server,
        &format!("/api/v1/users/{}", m.id),
        &t.admin,
        &json!({"display_name": "钱八"}),
    )
    .await;
    body(r, StatusCode::OK).await;
    server.stop().await;
}

on_both_backends!(
    password_policy_and_history,
    forced_expired_and_reset_passwords,
    personal_access_tokens,
);
