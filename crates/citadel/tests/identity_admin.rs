//! What tenant admins manage, over HTTPS on SQLite and PostgreSQL: users
//! (one-time passwords, profile, department, admin right), the department
//! tree, and the security policy's bounds.

mod common;
mod identity_support;

use common::{Backend, STRONG_PASSWORD, TestServer, expect_problem};
use identity_support::{Tenant, body, delete, me, member, patch, put, sign_in, tenant};
use reqwest::StatusCode;
use serde_json::{Value, json};

const UNKNOWN_ID: &str = "01890000-0000-7000-8000-000000000000";

async fn create_department(
    server: &TestServer,
    admin: &str,
    name: &str,
    parent: Option<&str>,
) -> String {
    let r = server
        .post(
            "/api/v1/departments",
            Some(admin),
            &json!({"name": name, "parent_id": parent}),
        )
        .await;
    let created = body(r, StatusCode::CREATED).await;
    assert_eq!(created["name"], name);
    assert_eq!(created["parent_id"], json!(parent));
    created["id"].as_str().expect("id").to_owned()
}

async fn departments(server: &TestServer, admin: &str) -> Vec<Value> {
    body(
        server.get("/api/v1/departments", Some(admin)).await,
        StatusCode::OK,
    )
    .await
    .as_array()
    .expect("list")
    .clone()
}

fn parent_of<'a>(list: &'a [Value], id: &str) -> &'a Value {
    &list
        .iter()
        .find(|d| d["id"] == id)
        .expect("department listed")["parent_id"]
}

async fn users_are_managed_by_admins(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t: Tenant = tenant(&server, &op, "admin-users").await;
    let sales = create_department(&server, &t.admin, "销售部", None).await;

    let r = server
        .post(
            "/api/v1/users",
            Some(&t.admin),
            &json!({"login": "ZhaoLiu", "email": "zhaoliu@admin-users.cn",
                "display_name": "赵六", "department_id": sales}),
        )
        .await;
    let created = body(r, StatusCode::CREATED).await;
    let otp = created["one_time_password"]
        .as_str()
        .expect("otp")
        .to_owned();
    let user = &created["user"];
    let id = user["id"].as_str().expect("id").to_owned();
    assert_eq!(user["login"], "zhaoliu", "logins are case-insensitive");
    assert_eq!(user["email"], "zhaoliu@admin-users.cn");
    assert_eq!(user["display_name"], "赵六");
    assert_eq!(user["department_id"], sales.as_str());
    assert_eq!(user["is_admin"], false);
    assert_eq!(user["state"], "active");
    assert_eq!(user["must_change_password"], true);
    assert_eq!(user["totp_enabled"], false);
    // The one-time password is in the creation response only.
    let path = format!("/api/v1/users/{id}");
    let fetched = body(server.get(&path, Some(&t.admin)).await, StatusCode::OK).await;
    assert_eq!(&fetched, user);
    let list = body(
        server.get("/api/v1/users", Some(&t.admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    assert!(!list.to_string().contains(&otp));
    assert!(!fetched.to_string().contains(&otp));

    // Duplicates and bad fields.
    for login in ["zhaoliu", "ZHAOLIU", t.admin_login.as_str()] {
        let r = server
            .post(
                "/api/v1/users",
                Some(&t.admin),
                &json!({"login": login, "email": "dup@admin-users.cn"}),
            )
            .await;
        expect_problem(r, StatusCode::CONFLICT, "conflict").await;
    }
    for (field, request) in [
        ("email", json!({"login": "a1", "email": "not-an-email"})),
        ("email", json!({"login": "a1", "email": "a@b"})),
        ("login", json!({"login": "has space", "email": "a@b.cn"})),
        ("login", json!({"login": "", "email": "a@b.cn"})),
        (
            "display_name",
            json!({"login": "a1", "email": "a@b.cn", "display_name": " "}),
        ),
        (
            "department_id",
            json!({"login": "a1", "email": "a@b.cn", "department_id": "sales"}),
        ),
    ] {
        let r = server.post("/api/v1/users", Some(&t.admin), &request).await;
        let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_field").await;
        assert_eq!(problem["field"], field, "{request}");
    }
    let r = server
        .post(
            "/api/v1/users",
            Some(&t.admin),
            &json!({"login": "a1", "email": "a@b.cn", "department_id": UNKNOWN_ID}),
        )
        .await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let list = body(
        server.get("/api/v1/users", Some(&t.admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list.as_array().map(Vec::len), Some(2), "nothing was made");

    // PATCH: absent fields stay, null clears.
    let r = patch(&server, &path, &t.admin, &json!({"display_name": "赵 六"})).await;
    let changed = body(r, StatusCode::OK).await;
    assert_eq!(changed["display_name"], "赵 六");
    assert_eq!(changed["department_id"], sales.as_str());
    let r = patch(&server, &path, &t.admin, &json!({"department_id": null})).await;
    let changed = body(r, StatusCode::OK).await;
    assert_eq!(changed["department_id"], Value::Null);
    assert_eq!(changed["display_name"], "赵 六");
    let r = patch(
        &server,
        &path,
        &t.admin,
        &json!({"display_name": null, "department_id": sales, "email": "z6@admin-users.cn"}),
    )
    .await;
    let changed = body(r, StatusCode::OK).await;
    assert_eq!(changed["display_name"], Value::Null);
    assert_eq!(changed["department_id"], sales.as_str());
    assert_eq!(changed["email"], "z6@admin-users.cn");
    for (field, request) in [
        ("email", json!({"email": "nope"})),
        ("department_id", json!({"department_id": "nope"})),
        ("status", json!({"status": "locked"})),
    ] {
        let r = patch(&server, &path, &t.admin, &request).await;
        let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_field").await;
        assert_eq!(problem["field"], field, "{request}");
    }
    let r = patch(
        &server,
        &path,
        &t.admin,
        &json!({"department_id": UNKNOWN_ID}),
    )
    .await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = patch(
        &server,
        &format!("/api/v1/users/{UNKNOWN_ID}"),
        &t.admin,
        &json!({"display_name": "x"}),
    )
    .await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    for bad in ["/api/v1/users/42", "/api/v1/users/not-a-uuid"] {
        let r = server.get(bad, Some(&t.admin)).await;
        let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_field").await;
        assert_eq!(problem["field"], "id");
    }
    let r = server
        .get(&format!("/api/v1/users/{UNKNOWN_ID}"), Some(&t.admin))
        .await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let fetched = body(server.get(&path, Some(&t.admin)).await, StatusCode::OK).await;
    assert_eq!(fetched, changed, "refused changes changed nothing");

    // The admin right, granted and taken away, applies to live sessions.
    let cookie = sign_in(&server, &t.slug, "zhaoliu", &otp).await;
    let r = server
        .post(
            "/api/v1/auth/password",
            Some(&cookie),
            &json!({"current_password": otp, "new_password": STRONG_PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let member_only = [
        "/api/v1/users",
        "/api/v1/departments",
        "/api/v1/security-policy",
        "/api/v1/security-events",
        "/api/v1/login-history",
        "/api/v1/ip-bans",
    ];
    for p in member_only {
        let r = server.get(p, Some(&cookie)).await;
        expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let r = server
        .post(
            "/api/v1/users",
            Some(&cookie),
            &json!({"login": "sneaky", "email": "s@admin-users.cn", "is_admin": true}),
        )
        .await;
    expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = patch(&server, &path, &cookie, &json!({"is_admin": true})).await;
    expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    // All three duties (system, security, audit), given on purpose.
    let all = json!({"is_admin": true, "security_admin": true, "audit_admin": true,
                     "combine_duties": true});
    let r = patch(&server, &path, &t.admin, &all).await;
    assert_eq!(body(r, StatusCode::OK).await["is_admin"], true);
    for p in member_only {
        body(server.get(p, Some(&cookie)).await, StatusCode::OK).await;
    }
    let none = json!({"is_admin": false, "security_admin": false, "audit_admin": false});
    let r = patch(&server, &path, &t.admin, &none).await;
    assert_eq!(body(r, StatusCode::OK).await["is_admin"], false);
    let r = server.get("/api/v1/users", Some(&cookie)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    // An admin cannot take their own admin right away.
    let admin_id = me(&server, &t.admin).await["user"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let r = patch(
        &server,
        &format!("/api/v1/users/{admin_id}"),
        &t.admin,
        &json!({"is_admin": false}),
    )
    .await;
    expect_problem(r, StatusCode::FORBIDDEN, "cannot_lock_out_self").await;
    assert_eq!(me(&server, &t.admin).await["user"]["is_admin"], true);
    server.stop().await;
}

async fn department_tree(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "admin-depts").await;
    let head = create_department(&server, &t.admin, "总部", None).await;
    let rnd = create_department(&server, &t.admin, "研发中心", Some(&head)).await;
    let platform = create_department(&server, &t.admin, "平台组", Some(&rnd)).await;
    let list = departments(&server, &t.admin).await;
    assert_eq!(list.len(), 3);
    assert_eq!(parent_of(&list, &head), &Value::Null);
    assert_eq!(parent_of(&list, &rnd), head.as_str());
    assert_eq!(parent_of(&list, &platform), rnd.as_str());

    // Creation under a parent that does not exist, bad names and ids.
    let r = server
        .post(
            "/api/v1/departments",
            Some(&t.admin),
            &json!({"name": "x", "parent_id": UNKNOWN_ID}),
        )
        .await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    for (field, request) in [
        ("name", json!({"name": ""})),
        ("name", json!({"name": "a".repeat(101)})),
        ("parent_id", json!({"name": "x", "parent_id": "head"})),
    ] {
        let r = server
            .post("/api/v1/departments", Some(&t.admin), &request)
            .await;
        let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_field").await;
        assert_eq!(problem["field"], field, "{request}");
    }

    // A move under itself or its own subtree would make a cycle.
    for parent in [&head, &rnd, &platform] {
        let r = patch(
            &server,
            &format!("/api/v1/departments/{head}"),
            &t.admin,
            &json!({"parent_id": parent}),
        )
        .await;
        expect_problem(r, StatusCode::CONFLICT, "conflict").await;
    }
    let r = patch(
        &server,
        &format!("/api/v1/departments/{rnd}"),
        &t.admin,
        &json!({"parent_id": UNKNOWN_ID}),
    )
    .await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = patch(
        &server,
        &format!("/api/v1/departments/{UNKNOWN_ID}"),
        &t.admin,
        &json!({"name": "x"}),
    )
    .await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = patch(
        &server,
        "/api/v1/departments/bogus",
        &t.admin,
        &json!({"name": "x"}),
    )
    .await;
    assert_eq!(
        expect_problem(r, StatusCode::BAD_REQUEST, "invalid_field").await["field"],
        "id"
    );
    let unchanged = departments(&server, &t.admin).await;
    assert_eq!(unchanged, list, "refused moves changed nothing");

    // Rename, and move a branch to the root and back under another.
    let r = patch(
        &server,
        &format!("/api/v1/departments/{platform}"),
        &t.admin,
        &json!({"name": "基础平台部", "parent_id": null}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let list = departments(&server, &t.admin).await;
    let moved = list
        .iter()
        .find(|d| d["id"] == platform.as_str())
        .expect("listed");
    assert_eq!(moved["name"], "基础平台部");
    assert_eq!(moved["parent_id"], Value::Null);
    let r = patch(
        &server,
        &format!("/api/v1/departments/{platform}"),
        &t.admin,
        &json!({"parent_id": head}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let list = departments(&server, &t.admin).await;
    assert_eq!(parent_of(&list, &platform), head.as_str());
    assert_eq!(
        list.iter()
            .find(|d| d["id"] == platform.as_str())
            .expect("listed")["name"],
        "基础平台部",
        "a move alone keeps the name"
    );

    // Only empty departments can go.
    let m = member(&server, &t, "chenjiu").await;
    let r = patch(
        &server,
        &format!("/api/v1/users/{}", m.id),
        &t.admin,
        &json!({"department_id": rnd}),
    )
    .await;
    body(r, StatusCode::OK).await;
    let r = delete(&server, &format!("/api/v1/departments/{rnd}"), &t.admin).await;
    expect_problem(r, StatusCode::CONFLICT, "conflict").await;
    let r = delete(&server, &format!("/api/v1/departments/{head}"), &t.admin).await;
    expect_problem(r, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(departments(&server, &t.admin).await.len(), 3);
    let r = patch(
        &server,
        &format!("/api/v1/users/{}", m.id),
        &t.admin,
        &json!({"department_id": null}),
    )
    .await;
    body(r, StatusCode::OK).await;
    for id in [&rnd, &platform, &head] {
        let r = delete(&server, &format!("/api/v1/departments/{id}"), &t.admin).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    assert!(departments(&server, &t.admin).await.is_empty());
    let r = delete(&server, &format!("/api/v1/departments/{head}"), &t.admin).await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = delete(&server, "/api/v1/departments/bogus", &t.admin).await;
    assert_eq!(
        expect_problem(r, StatusCode::BAD_REQUEST, "invalid_field").await["field"],
        "id"
    );
    // Members cannot touch the tree.
    let r = server
        .post(
            "/api/v1/departments",
            Some(&m.cookie),
            &json!({"name": "x"}),
        )
        .await;
    expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    server.stop().await;
}

async fn security_policy_bounds(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "admin-policy").await;
    let defaults = json!({"password_max_age_days": 90, "password_history": 5,
        "max_failed_logins": 5, "lockout_minutes": 15, "require_totp": "optional"});
    let current = body(
        server.get("/api/v1/security-policy", Some(&t.admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(current, defaults);

    let with = |key: &str, value: Value| {
        let mut policy = defaults.clone();
        policy[key] = value;
        policy
    };
    for (key, value) in [
        ("max_failed_logins", json!(0)),
        ("max_failed_logins", json!(2)),
        ("max_failed_logins", json!(21)),
        ("lockout_minutes", json!(0)),
        ("lockout_minutes", json!(1441)),
        ("password_history", json!(0)),
        ("password_history", json!(25)),
        ("password_max_age_days", json!(3651)),
    ] {
        let r = put(
            &server,
            "/api/v1/security-policy",
            &t.admin,
            &with(key, value),
        )
        .await;
        let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_field").await;
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(key), "{key}: {problem}");
    }
    for value in ["sometimes", "", "Everyone"] {
        let r = put(
            &server,
            "/api/v1/security-policy",
            &t.admin,
            &with("require_totp", json!(value)),
        )
        .await;
        let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_field").await;
        assert_eq!(problem["field"], "require_totp", "{value}");
    }
    let current = body(
        server.get("/api/v1/security-policy", Some(&t.admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(current, defaults, "refused policies changed nothing");

    // The bounds themselves are accepted, and a PUT replaces everything.
    let edge = json!({"password_max_age_days": 0, "password_history": 24,
        "max_failed_logins": 20, "lockout_minutes": 1440, "require_totp": "optional"});
    let r = put(&server, "/api/v1/security-policy", &t.admin, &edge).await;
    assert_eq!(body(r, StatusCode::OK).await, edge);
    let low = json!({"password_max_age_days": 3650, "password_history": 1,
        "max_failed_logins": 3, "lockout_minutes": 1, "require_totp": "optional"});
    let r = put(&server, "/api/v1/security-policy", &t.admin, &low).await;
    assert_eq!(body(r, StatusCode::OK).await, low);
    let current = body(
        server.get("/api/v1/security-policy", Some(&t.admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(current, low);
    server.stop().await;
}

on_both_backends!(
    users_are_managed_by_admins,
    department_tree,
    security_policy_bounds
);
