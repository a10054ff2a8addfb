//! The TOTP second factor over HTTPS, on SQLite and PostgreSQL: enrolment,
//! sign-in with a code (each time step once) or a recovery code (each
//! once), regenerating recovery codes, removing the factor, and a tenant
//! policy that requires it.

mod common;
mod identity_support;

use common::{Backend, STRONG_PASSWORD, TestServer, cookie_from, expect_problem};
use identity_support::{
    Member, body, delete, enrol_totp, me, member, now_secs, put, sign_in, sign_in_with, tenant,
    totp_code, wrong_code,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Lets every earlier time step be used again: the replay guard is the
/// last accepted step, and tests cannot wait 30 seconds for the next one.
async fn forget_used_steps(server: &TestServer, tenant_id: &str, login: &str) {
    server
        .tenant_sql(
            tenant_id,
            &format!("UPDATE users SET totp_last_step = 0 WHERE login = '{login}'"),
        )
        .await;
}

async fn remove_own_totp(server: &TestServer, cookie: &str, password: &str) -> reqwest::Response {
    server
        .send_json(
            Method::DELETE,
            "/api/v1/me/totp",
            Some(cookie),
            &json!({"password": password}),
        )
        .await
}

async fn totp_enrolment_and_sign_in(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "totp-flow").await;
    let Member { cookie, .. } = member(&server, &t, "zhangsan").await;
    let slug = t.slug.as_str();

    // Nothing to confirm or regenerate before an enrolment.
    let r = server
        .post(
            "/api/v1/me/totp/confirm",
            Some(&cookie),
            &json!({"code": "123456", "password": STRONG_PASSWORD}),
        )
        .await;
    expect_problem(r, StatusCode::CONFLICT, "conflict").await;
    let r = server
        .post(
            "/api/v1/me/recovery-codes",
            Some(&cookie),
            &json!({"password": STRONG_PASSWORD}),
        )
        .await;
    expect_problem(r, StatusCode::CONFLICT, "conflict").await;

    // Enrolment: an otpauth URI naming issuer and account, and the seed.
    let enrolment = body(
        server
            .post("/api/v1/me/totp", Some(&cookie), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    let secret = enrolment["secret"].as_str().expect("secret").to_owned();
    let uri = enrolment["otpauth_uri"].as_str().expect("uri");
    assert!(
        uri.starts_with("otpauth://totp/Citadel%20totp-flow:zhangsan?"),
        "{uri}"
    );
    assert!(uri.contains("issuer=Citadel%20totp-flow"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert_eq!(identity_support::base32_decode(&secret).len(), 20);
    // Until confirmed, nothing changes.
    assert_eq!(me(&server, &cookie).await["user"]["totp_enabled"], false);
    sign_in(&server, slug, "zhangsan", STRONG_PASSWORD).await;

    // Confirmation needs the new app's current code.
    for code in [wrong_code(&secret), "abcdef".to_owned(), String::new()] {
        let r = server
            .post(
                "/api/v1/me/totp/confirm",
                Some(&cookie),
                &json!({"code": code, "password": STRONG_PASSWORD}),
            )
            .await;
        let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_code").await;
        assert_eq!(problem["field"], "code");
    }
    let r = server
        .post(
            "/api/v1/me/totp/confirm",
            Some(&cookie),
            &json!({"code": totp_code(&secret, now_secs()), "password": STRONG_PASSWORD}),
        )
        .await;
    let codes: Vec<String> = body(r, StatusCode::OK).await["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    let mut distinct = codes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 10);
    for code in &codes {
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(code.matches('-').count(), 3, "{code}");
    }
    assert_eq!(me(&server, &cookie).await["user"]["totp_enabled"], true);
    let r = server
        .post(
            "/api/v1/me/totp/confirm",
            Some(&cookie),
            &json!({"code": totp_code(&secret, now_secs()), "password": STRONG_PASSWORD}),
        )
        .await;
    expect_problem(r, StatusCode::CONFLICT, "conflict").await;

    // Signing in now takes a code, and the password still comes first.
    let r = server.login(slug, "zhangsan", STRONG_PASSWORD).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "second_factor_required").await;
    // The confirming code's step is used up: the next step's code works
    // (one step of clock skew is allowed), once.
    let next = totp_code(&secret, now_secs() + 30);
    let r = sign_in_with(
        &server,
        slug,
        "zhangsan",
        "Wrong-Passw0rd!",
        json!({"totp_code": next}),
    )
    .await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let r = sign_in_with(
        &server,
        slug,
        "zhangsan",
        STRONG_PASSWORD,
        json!({"totp_code": next}),
    )
    .await;
    let signed = body(r, StatusCode::OK).await;
    assert_eq!(signed["pending"], Value::Null);
    assert_eq!(signed["user"]["totp_enabled"], true);
    for replay in [next.clone(), totp_code(&secret, now_secs())] {
        let r = sign_in_with(
            &server,
            slug,
            "zhangsan",
            STRONG_PASSWORD,
            json!({"totp_code": replay}),
        )
        .await;
        expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_second_factor").await;
    }

    // A recovery code works once; typed in lower case with spaces too.
    let r = sign_in_with(
        &server,
        slug,
        "zhangsan",
        STRONG_PASSWORD,
        json!({"recovery_code": codes[0]}),
    )
    .await;
    body(r, StatusCode::OK).await;
    let r = sign_in_with(
        &server,
        slug,
        "zhangsan",
        STRONG_PASSWORD,
        json!({"recovery_code": codes[0]}),
    )
    .await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_second_factor").await;
    let typed = codes[1].to_lowercase().replace('-', " ");
    let r = sign_in_with(
        &server,
        slug,
        "zhangsan",
        STRONG_PASSWORD,
        json!({"recovery_code": typed}),
    )
    .await;
    body(r, StatusCode::OK).await;

    // New recovery codes (after the password) replace the old ones.
    let r = server
        .post(
            "/api/v1/me/recovery-codes",
            Some(&cookie),
            &json!({"password": "Wrong-Passw0rd!"}),
        )
        .await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let r = server
        .post(
            "/api/v1/me/recovery-codes",
            Some(&cookie),
            &json!({"password": STRONG_PASSWORD}),
        )
        .await;
    let fresh: Vec<String> = body(r, StatusCode::OK).await["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !codes.contains(c)));
    let r = sign_in_with(
        &server,
        slug,
        "zhangsan",
        STRONG_PASSWORD,
        json!({"recovery_code": codes[2]}),
    )
    .await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_second_factor").await;
    let r = sign_in_with(
        &server,
        slug,
        "zhangsan",
        STRONG_PASSWORD,
        json!({"recovery_code": fresh[0]}),
    )
    .await;
    body(r, StatusCode::OK).await;

    // Restarting enrolment leaves the confirmed factor in force until the
    // new one is confirmed; then only the new one works.
    let second = body(
        server
            .post("/api/v1/me/totp", Some(&cookie), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    let new_secret = second["secret"].as_str().expect("secret").to_owned();
    assert_ne!(new_secret, secret);
    forget_used_steps(&server, &t.id, "zhangsan").await;
    let r = sign_in_with(
        &server,
        slug,
        "zhangsan",
        STRONG_PASSWORD,
        json!({"totp_code": totp_code(&secret, now_secs())}),
    )
    .await;
    body(r, StatusCode::OK).await;
    // Replacing the factor in force needs the current password as well.
    let r = server
        .post(
            "/api/v1/me/totp/confirm",
            Some(&cookie),
            &json!({"code": totp_code(&new_secret, now_secs())}),
        )
        .await;
    let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_body").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("password"),
        "{problem}"
    );
    let r = server
        .post(
            "/api/v1/me/totp/confirm",
            Some(&cookie),
            &json!({"code": totp_code(&new_secret, now_secs()), "password": "Wrong-Passw0rd!"}),
        )
        .await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let r = server
        .post(
            "/api/v1/me/totp/confirm",
            Some(&cookie),
            &json!({"code": totp_code(&new_secret, now_secs()), "password": STRONG_PASSWORD}),
        )
        .await;
    body(r, StatusCode::OK).await;
    let notes = body(
        server.get("/api/v1/me/notifications", Some(&cookie)).await,
        StatusCode::OK,
    )
    .await;
    let told = notes
        .as_array()
        .expect("list")
        .iter()
        .filter(|n| n["kind"] == "totp_enrolled")
        .count();
    assert_eq!(told, 2, "each new authenticator is notified: {notes}");
    forget_used_steps(&server, &t.id, "zhangsan").await;
    let r = sign_in_with(
        &server,
        slug,
        "zhangsan",
        STRONG_PASSWORD,
        json!({"totp_code": totp_code(&secret, now_secs())}),
    )
    .await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_second_factor").await;
    let r = sign_in_with(
        &server,
        slug,
        "zhangsan",
        STRONG_PASSWORD,
        json!({"totp_code": totp_code(&new_secret, now_secs())}),
    )
    .await;
    body(r, StatusCode::OK).await;

    // Wrong codes count as failed sign-ins: the fifth locks the account,
    // and then even the right code is refused.
    for _ in 0..5 {
        let r = sign_in_with(
            &server,
            slug,
            "zhangsan",
            STRONG_PASSWORD,
            json!({"totp_code": wrong_code(&new_secret)}),
        )
        .await;
        expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_second_factor").await;
    }
    forget_used_steps(&server, &t.id, "zhangsan").await;
    let r = sign_in_with(
        &server,
        slug,
        "zhangsan",
        STRONG_PASSWORD,
        json!({"totp_code": totp_code(&new_secret, now_secs())}),
    )
    .await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // While locked, even the session's own password checks are refused:
    // a stolen session cannot go on guessing there.
    let r = remove_own_totp(&server, &cookie, STRONG_PASSWORD).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let user_id = me(&server, &cookie).await["user"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let r = server
        .post(
            &format!("/api/v1/users/{user_id}/unlock"),
            Some(&t.admin),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // Removing the factor takes the right password.
    let r = remove_own_totp(&server, &cookie, "Wrong-Passw0rd!").await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(me(&server, &cookie).await["user"]["totp_enabled"], true);
    let r = remove_own_totp(&server, &cookie, STRONG_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(me(&server, &cookie).await["user"]["totp_enabled"], false);
    let r = server.login(slug, "zhangsan", STRONG_PASSWORD).await;
    assert_eq!(body(r, StatusCode::OK).await["user"]["totp_enabled"], false);
    server.stop().await;
}

async fn totp_required_by_policy(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "totp-policy").await;
    let m = member(&server, &t, "lisi").await;
    let policy = |require: &str| {
        json!({"password_max_age_days": 90, "password_history": 5,
            "max_failed_logins": 5, "lockout_minutes": 15, "require_totp": require})
    };

    // Admins must enrol: the admin's session may do nothing else first.
    let r = put(
        &server,
        "/api/v1/security-policy",
        &t.admin,
        &policy("admins"),
    )
    .await;
    assert_eq!(body(r, StatusCode::OK).await["require_totp"], "admins");
    assert_eq!(me(&server, &t.admin).await["pending"], "totp_enrolment");
    for path in ["/api/v1/users", "/api/v1/security-policy"] {
        let r = server.get(path, Some(&t.admin)).await;
        expect_problem(r, StatusCode::FORBIDDEN, "totp_enrolment_required").await;
    }
    let r = server
        .post("/api/v1/departments", Some(&t.admin), &json!({"name": "x"}))
        .await;
    expect_problem(r, StatusCode::FORBIDDEN, "totp_enrolment_required").await;
    let r = server.login(&t.slug, &t.admin_login, STRONG_PASSWORD).await;
    assert_eq!(body(r, StatusCode::OK).await["pending"], "totp_enrolment");
    assert_eq!(me(&server, &m.cookie).await["pending"], Value::Null);
    // Enrolling is allowed meanwhile, and lifts the gate.
    enrol_totp(&server, &t.admin).await;
    assert_eq!(me(&server, &t.admin).await["pending"], Value::Null);
    body(
        server.get("/api/v1/users", Some(&t.admin)).await,
        StatusCode::OK,
    )
    .await;
    let r = remove_own_totp(&server, &t.admin, STRONG_PASSWORD).await;
    expect_problem(r, StatusCode::FORBIDDEN, "totp_required_by_policy").await;
    assert_eq!(me(&server, &t.admin).await["user"]["totp_enabled"], true);

    // Everyone must enrol: members too.
    let r = put(
        &server,
        "/api/v1/security-policy",
        &t.admin,
        &policy("everyone"),
    )
    .await;
    body(r, StatusCode::OK).await;
    assert_eq!(me(&server, &m.cookie).await["pending"], "totp_enrolment");
    let r = server.login(&t.slug, "lisi", STRONG_PASSWORD).await;
    let fresh = cookie_from(&r, "citadel_session").expect("cookie");
    assert_eq!(body(r, StatusCode::OK).await["pending"], "totp_enrolment");
    body(
        server.get("/api/v1/me/sessions", Some(&fresh)).await,
        StatusCode::OK,
    )
    .await;
    // A member's admin request is forbidden whatever is pending.
    let r = server.get("/api/v1/users", Some(&fresh)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let (secret, _) = enrol_totp(&server, &fresh).await;
    assert_eq!(me(&server, &m.cookie).await["pending"], Value::Null);
    let r = remove_own_totp(&server, &m.cookie, STRONG_PASSWORD).await;
    expect_problem(r, StatusCode::FORBIDDEN, "totp_required_by_policy").await;
    let r = sign_in_with(
        &server,
        &t.slug,
        "lisi",
        STRONG_PASSWORD,
        json!({"totp_code": totp_code(&secret, now_secs() + 30)}),
    )
    .await;
    body(r, StatusCode::OK).await;

    // An admin resets a member's factor (a lost phone): the member signs
    // in with the password alone and must enrol again.
    let r = server.get("/api/v1/users", Some(&m.cookie)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let admin_id = me(&server, &t.admin).await["user"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let r = delete(
        &server,
        &format!("/api/v1/users/{admin_id}/totp"),
        &m.cookie,
    )
    .await;
    expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = delete(&server, &format!("/api/v1/users/{}/totp", m.id), &t.admin).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let user = body(
        server
            .get(&format!("/api/v1/users/{}", m.id), Some(&t.admin))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(user["totp_enabled"], false);
    assert_eq!(me(&server, &m.cookie).await["pending"], "totp_enrolment");
    let r = server.login(&t.slug, "lisi", STRONG_PASSWORD).await;
    assert_eq!(body(r, StatusCode::OK).await["pending"], "totp_enrolment");
    let r = delete(
        &server,
        "/api/v1/users/01890000-0000-7000-8000-000000000000/totp",
        &t.admin,
    )
    .await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = delete(&server, "/api/v1/users/lisi/totp", &t.admin).await;
    let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_field").await;
    assert_eq!(problem["field"], "id");
    // The admin's own factor is untouched.
    assert_eq!(me(&server, &t.admin).await["user"]["totp_enabled"], true);

    // Back to optional: nobody is held up, and a factor can go.
    let r = put(
        &server,
        "/api/v1/security-policy",
        &t.admin,
        &policy("optional"),
    )
    .await;
    body(r, StatusCode::OK).await;
    assert_eq!(me(&server, &m.cookie).await["pending"], Value::Null);
    let r = remove_own_totp(&server, &t.admin, STRONG_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    server.stop().await;
}

on_both_backends!(totp_enrolment_and_sign_in, totp_required_by_policy);
