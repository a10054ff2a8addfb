//! Tenants end to end over HTTPS, on SQLite and PostgreSQL: bootstrap,
//! operator sign-in, tenant lifecycle, first sign-in, and isolation.

mod common;

use common::{Backend, STRONG_PASSWORD, TestServer, cookie_from, expect_problem};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn bootstrap_is_one_time(backend: Backend) {
    let server = TestServer::start(backend).await;
    let token = server
        .bootstrap_token
        .clone()
        .expect("token on first start");
    let wrong = server
        .post(
            "/api/v1/platform/bootstrap",
            None,
            &json!({"token": "0".repeat(64), "login": "ops", "password": STRONG_PASSWORD}),
        )
        .await;
    expect_problem(wrong, StatusCode::FORBIDDEN, "bootstrap_refused").await;
    let weak = server
        .post(
            "/api/v1/platform/bootstrap",
            None,
            &json!({"token": token, "login": "ops", "password": "short"}),
        )
        .await;
    let body = expect_problem(weak, StatusCode::BAD_REQUEST, "invalid_field").await;
    assert_eq!(body["field"], "password");
    // Racing requests with the right token: exactly one operator is made.
    let attempt = |i: usize| {
        let body =
            json!({"token": token, "login": format!("ops-{i}"), "password": STRONG_PASSWORD});
        let server = &server;
        async move { server.post("/api/v1/platform/bootstrap", None, &body).await }
    };
    let (r0, r1, r2, r3, r4, r5) = tokio::join!(
        attempt(0),
        attempt(1),
        attempt(2),
        attempt(3),
        attempt(4),
        attempt(5)
    );
    let outcomes: Vec<StatusCode> = [r0, r1, r2, r3, r4, r5]
        .iter()
        .map(|r| r.status())
        .collect();
    let winners: Vec<usize> = (0..6)
        .filter(|i| outcomes[*i] == StatusCode::CREATED)
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::FORBIDDEN),
        "{outcomes:?}"
    );
    let ops = format!("ops-{}", winners[0]);
    let again = server
        .post(
            "/api/v1/platform/bootstrap",
            None,
            &json!({"token": token, "login": "ops2", "password": STRONG_PASSWORD}),
        )
        .await;
    expect_problem(again, StatusCode::FORBIDDEN, "bootstrap_refused").await;

    assert!(
        server
            .operator_login(&ops, "Wrong-Passw0rd!")
            .await
            .is_none()
    );
    assert!(
        server
            .operator_login("nobody", STRONG_PASSWORD)
            .await
            .is_none()
    );
    let r = server
        .post(
            "/api/v1/platform/login",
            None,
            &json!({"login": ops, "password": STRONG_PASSWORD}),
        )
        .await;
    let set_cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(set_cookie.contains(attr), "{set_cookie}");
    }
    let op = cookie_from(&r, "citadel_operator").expect("cookie");
    let logout = server
        .post("/api/v1/platform/logout", Some(&op), &json!({}))
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let after = server.get("/api/v1/platform/tenants", Some(&op)).await;
    expect_problem(after, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    server.stop().await;
}

async fn tenant_lifecycle(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let (tenant, login, otp) = server.create_tenant(&op, "acme").await;
    assert_eq!(tenant["slug"], "acme");
    assert_eq!(tenant["status"], "active");
    assert_eq!(tenant["suite"], "intl");
    assert_eq!(login, "admin@acme.cn");

    let dup = server
        .post(
            "/api/v1/platform/tenants",
            Some(&op),
            &json!({"slug": "acme", "admin_email": "x@y.cn"}),
        )
        .await;
    expect_problem(dup, StatusCode::CONFLICT, "conflict").await;
    let bad = server
        .post(
            "/api/v1/platform/tenants",
            Some(&op),
            &json!({"slug": "Bad Slug", "admin_email": "x@y.cn"}),
        )
        .await;
    assert_eq!(
        expect_problem(bad, StatusCode::BAD_REQUEST, "invalid_field").await["field"],
        "slug"
    );
    let bad = server
        .post(
            "/api/v1/platform/tenants",
            Some(&op),
            &json!({"slug": "okay", "admin_email": "nope"}),
        )
        .await;
    assert_eq!(
        expect_problem(bad, StatusCode::BAD_REQUEST, "invalid_field").await["field"],
        "admin_email"
    );
    let bad = server
        .post(
            "/api/v1/platform/tenants",
            Some(&op),
            &json!({"slug": "okay", "admin_email": "a@b.cn", "suite": "des"}),
        )
        .await;
    assert_eq!(
        expect_problem(bad, StatusCode::BAD_REQUEST, "invalid_field").await["field"],
        "suite"
    );
    let sm = server
        .post(
            "/api/v1/platform/tenants",
            Some(&op),
            &json!({"slug": "gov-sh", "admin_email": "a@b.cn", "suite": "sm"}),
        )
        .await;
    assert_eq!(sm.status(), StatusCode::CREATED);
    let list: Value = server
        .get("/api/v1/platform/tenants", Some(&op))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(common::slugs(&list), ["acme", "gov-sh"]);
    let one: Value = server
        .get("/api/v1/platform/tenants/gov-sh", Some(&op))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(one["suite"], "sm");
    expect_problem(
        server
            .get("/api/v1/platform/tenants/nobody", Some(&op))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // First sign-in: the one-time password works but must be changed first.
    let wrong = server.login("acme", &login, "Wrong-Passw0rd!").await;
    expect_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let unknown_user = server.login("acme", "ghost@acme.cn", &otp).await;
    expect_problem(
        unknown_user,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let unknown_tenant = server.login("nowhere", &login, &otp).await;
    expect_problem(
        unknown_tenant,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let r = server.login("acme", &login, &otp).await;
    assert_eq!(r.status(), StatusCode::OK);
    let first = cookie_from(&r, "citadel_session").expect("cookie");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["user"]["must_change_password"], true);
    let me: Value = server
        .get("/api/v1/me", Some(&first))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["user"]["login"], "admin@acme.cn");
    assert_eq!(me["tenant"]["slug"], "acme");
    let weak = server
        .post(
            "/api/v1/auth/password",
            Some(&first),
            &json!({"current_password": otp, "new_password": "admin@acme.cn-Xy1"}),
        )
        .await;
    assert_eq!(
        expect_problem(weak, StatusCode::BAD_REQUEST, "invalid_field").await["field"],
        "new_password"
    );
    let wrong_current = server
        .post(
            "/api/v1/auth/password",
            Some(&first),
            &json!({"current_password": "Not-The-0ne!", "new_password": STRONG_PASSWORD}),
        )
        .await;
    expect_problem(
        wrong_current,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    // A second session, ended by the password change.
    let second =
        cookie_from(&server.login("acme", &login, &otp).await, "citadel_session").expect("cookie");
    let changed = server
        .post(
            "/api/v1/auth/password",
            Some(&first),
            &json!({"current_password": otp, "new_password": STRONG_PASSWORD}),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    expect_problem(
        server.get("/api/v1/me", Some(&second)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let me: Value = server
        .get("/api/v1/me", Some(&first))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["user"]["must_change_password"], false);
    expect_problem(
        server.login("acme", &login, &otp).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    // Suspension stops sign-in and live sessions; resuming restores them.
    let r = server
        .post(
            "/api/v1/platform/tenants/acme/suspend",
            Some(&op),
            &json!({}),
        )
        .await;
    assert_eq!(
        r.json::<Value>().await.expect("json")["status"],
        "suspended"
    );
    expect_problem(
        server.get("/api/v1/me", Some(&first)).await,
        StatusCode::FORBIDDEN,
        "tenant_suspended",
    )
    .await;
    expect_problem(
        server.login("acme", &login, STRONG_PASSWORD).await,
        StatusCode::FORBIDDEN,
        "tenant_suspended",
    )
    .await;
    let r = server
        .post(
            "/api/v1/platform/tenants/acme/resume",
            Some(&op),
            &json!({}),
        )
        .await;
    assert_eq!(r.json::<Value>().await.expect("json")["status"], "active");
    assert_eq!(
        server.get("/api/v1/me", Some(&first)).await.status(),
        StatusCode::OK
    );

    // Destroy needs the slug typed again, and then leaves nothing.
    let r = server
        .send_json(
            Method::DELETE,
            "/api/v1/platform/tenants/acme",
            Some(&op),
            &json!({"confirm": "acm"}),
        )
        .await;
    assert_eq!(
        expect_problem(r, StatusCode::BAD_REQUEST, "confirmation_mismatch").await["field"],
        "confirm"
    );
    assert_eq!(
        server.get("/api/v1/me", Some(&first)).await.status(),
        StatusCode::OK,
        "nothing destroyed"
    );
    let r = server
        .send_json(
            Method::DELETE,
            "/api/v1/platform/tenants/acme",
            Some(&op),
            &json!({"confirm": "acme"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    expect_problem(
        server.get("/api/v1/me", Some(&first)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    expect_problem(
        server.login("acme", &login, STRONG_PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    expect_problem(
        server.get("/api/v1/platform/tenants/acme", Some(&op)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let id = tenant["id"].as_str().expect("id");
    if let Backend::Sqlite = backend {
        assert!(
            !server.data_path().join("tenants").join(id).exists(),
            "tenant files removed"
        );
    }
    server.stop().await;
}

async fn tenants_are_isolated_over_http(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let a = server.tenant_admin(&op, "alpha").await;
    let b = server.tenant_admin(&op, "bravo").await;
    let me_a: Value = server
        .get("/api/v1/me", Some(&a))
        .await
        .json()
        .await
        .expect("json");
    let me_b: Value = server
        .get("/api/v1/me", Some(&b))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me_a["tenant"]["slug"], "alpha");
    assert_eq!(me_b["tenant"]["slug"], "bravo");
    let text_a = me_a.to_string();
    assert!(
        !text_a.contains("bravo") && !text_a.contains(me_b["user"]["id"].as_str().expect("id"))
    );

    // A's session token presented under B's tenant id finds nothing in B.
    let (_, a_value) = a.split_once('=').expect("cookie");
    let (_, a_token) = a_value.split_once('.').expect("tenant.token");
    let b_id = me_b["tenant"]["id"].as_str().expect("id");
    let forged = format!("citadel_session={b_id}.{a_token}");
    expect_problem(
        server.get("/api/v1/me", Some(&forged)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    // A's password does not open B, even for a login that exists in A.
    expect_problem(
        server
            .login("bravo", "admin@alpha.cn", STRONG_PASSWORD)
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    // Tenant users are not operators, and operators are not tenant users.
    expect_problem(
        server.get("/api/v1/platform/tenants", Some(&a)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let a_as_operator = a.replace("citadel_session=", "citadel_operator=");
    expect_problem(
        server
            .get("/api/v1/platform/tenants", Some(&a_as_operator))
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    expect_problem(
        server.get("/api/v1/me", Some(&op)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    // A planted second cookie makes the request anonymous, not B's.
    let both = format!("{a}; {}", b);
    expect_problem(
        server.get("/api/v1/me", Some(&both)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    // Suspending B leaves A working.
    server
        .post(
            "/api/v1/platform/tenants/bravo/suspend",
            Some(&op),
            &json!({}),
        )
        .await;
    assert_eq!(
        server.get("/api/v1/me", Some(&a)).await.status(),
        StatusCode::OK
    );
    server.stop().await;
}

on_both_backends!(
    bootstrap_is_one_time,
    tenant_lifecycle,
    tenants_are_isolated_over_http
);
