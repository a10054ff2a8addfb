//! Credential changes that ask for the current password are sign-ins in
//! all but name, and admin resets cannot be turned into a takeover.

mod common;
mod identity_support;

use common::{Backend, STRONG_PASSWORD, TestServer, expect_problem};
use identity_support::{body, me, member, sign_in, tenant, with_bearer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Five wrong current passwords on a live session lock the account like
/// five failed sign-ins; every one is in the sign-in log.
async fn password_checks_count_towards_the_lockout(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "reauth-lock").await;
    let m = member(&server, &t, "wangwu").await;
    for _ in 0..5 {
        let r = server
            .post(
                "/api/v1/auth/password",
                Some(&m.cookie),
                &json!({"current_password": "Guessed-Passw0rd!", "new_password": "Brand-New-Passw0rd1"}),
            )
            .await;
        expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let user = body(
        server
            .get(&format!("/api/v1/users/{}", m.id), Some(&t.admin))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(user["state"], "locked", "{user}");
    // Locked: the right current password is refused too, and so is sign-in.
    let r = server
        .post(
            "/api/v1/auth/password",
            Some(&m.cookie),
            &json!({"current_password": STRONG_PASSWORD, "new_password": "Brand-New-Passw0rd1"}),
        )
        .await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let r = server.login(&t.slug, "wangwu", STRONG_PASSWORD).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let history = body(
        server
            .get(
                &format!("/api/v1/login-history?user_id={}", m.id),
                Some(&t.admin),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    let outcomes: Vec<&str> = history
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["outcome"].as_str())
        .collect();
    let wrong = outcomes
        .iter()
        .filter(|o| **o == "reauth_wrong_password")
        .count();
    assert_eq!(wrong, 5, "{outcomes:?}");
    assert!(outcomes.contains(&"reauth_locked"), "{outcomes:?}");
    server.stop().await;
}

/// An admin's access token cannot reset anyone's credentials, and an
/// admin reset revokes the user's tokens.
async fn admin_resets_need_a_session_and_revoke_tokens(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "reauth-reset").await;
    let m = member(&server, &t, "zhaoliu").await;
    let token_of = |cookie: String| {
        let server = &server;
        async move {
            let created = body(
                server
                    .post(
                        "/api/v1/me/tokens",
                        Some(&cookie),
                        &json!({"name": "script", "expires_in_days": 30, "password": STRONG_PASSWORD}),
                    )
                    .await,
                StatusCode::CREATED,
            )
            .await;
            created["secret"].as_str().expect("secret").to_owned()
        }
    };
    // A token outlives the session: making one takes the password, and the
    // owner is told.
    let r = server
        .post(
            "/api/v1/me/tokens",
            Some(&m.cookie),
            &json!({"name": "script", "expires_in_days": 30, "password": "Guessed-Passw0rd!"}),
        )
        .await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let admin_token = token_of(t.admin.clone()).await;
    let member_token = token_of(m.cookie.clone()).await;
    // Nothing that lets someone in can be done with the admin's token:
    // resets, new users (they come with a password), admin rights, status.
    let user_path = format!("/api/v1/users/{}", m.id);
    for (method, path, request) in [
        (
            Method::POST,
            format!("{user_path}/reset-password"),
            json!({}),
        ),
        (Method::DELETE, format!("{user_path}/totp"), json!({})),
        (
            Method::POST,
            "/api/v1/users".to_owned(),
            json!({"login": "intruder", "email": "intruder@example.cn", "is_admin": true}),
        ),
        (Method::PATCH, user_path.clone(), json!({"is_admin": true})),
        (
            Method::PATCH,
            user_path.clone(),
            json!({"status": "disabled"}),
        ),
    ] {
        let r = with_bearer(&server, method, &path, &admin_token, Some(&request)).await;
        expect_problem(r, StatusCode::FORBIDDEN, "session_required").await;
    }
    // A profile edit is fine from a script.
    let r = with_bearer(
        &server,
        Method::PATCH,
        &user_path,
        &admin_token,
        Some(&json!({"display_name": "赵六"})),
    )
    .await;
    assert_eq!(body(r, StatusCode::OK).await["is_admin"], false);
    // The member's token works until an admin resets the member.
    let r = with_bearer(&server, Method::GET, "/api/v1/me", &member_token, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let notes = body(
        server
            .get("/api/v1/me/notifications", Some(&m.cookie))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        notes
            .as_array()
            .expect("list")
            .iter()
            .any(|n| n["kind"] == "access_token_created"),
        "{notes}"
    );
    let r = server
        .post(
            &format!("/api/v1/users/{}/reset-password", m.id),
            Some(&t.admin),
            &json!({}),
        )
        .await;
    let otp = body(r, StatusCode::OK).await["one_time_password"]
        .as_str()
        .expect("otp")
        .to_owned();
    let r = with_bearer(&server, Method::GET, "/api/v1/me", &member_token, None).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // It does not come back once the member has a new password.
    let cookie = sign_in(&server, &t.slug, "zhaoliu", &otp).await;
    let r = server
        .post(
            "/api/v1/auth/password",
            Some(&cookie),
            &json!({"current_password": otp, "new_password": "Brand-New-Passw0rd1"}),
        )
        .await;
    body(r, StatusCode::NO_CONTENT).await;
    let r = with_bearer(&server, Method::GET, "/api/v1/me", &member_token, None).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_eq!(me(&server, &cookie).await["pending"], Value::Null);
    server.stop().await;
}

on_both_backends!(
    password_checks_count_towards_the_lockout,
    admin_resets_need_a_session_and_revoke_tokens
);
