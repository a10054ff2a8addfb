//! The tenant administration pages over HTTP: each answers the admin
//! with what the API would give them, refuses a member with a 403 page
//! (recorded in the audit trail like the API read it shows), sends the
//! unauthenticated to sign-in, shows each duty only its own parts, and
//! escapes whatever users typed. `ui_browser_admin.rs` drives the same
//! pages in Chromium.

mod common;
mod identity_support;
mod page_support;

use common::{Backend, STRONG_PASSWORD, TestServer};
use identity_support::{Tenant, body, member, sign_in, tenant};
use page_support::{created, manual_client, page};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

const ADMIN_PAGES: [&str; 5] = [
    "/admin/users",
    "/admin/departments",
    "/admin/groups",
    "/admin/security",
    "/admin/keys",
];

fn id_of(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

/// The id of the built-in group `builtin`.
async fn builtin_group(server: &TestServer, admin: &str, builtin: &str) -> String {
    let groups = body(
        server.get("/api/v1/groups", Some(admin)).await,
        StatusCode::OK,
    )
    .await;
    groups
        .as_array()
        .and_then(|all| all.iter().find(|g| g["builtin"] == builtin))
        .map(id_of)
        .expect("built-in group")
}

/// A user holding exactly `duties` (e.g. `{"security_admin": true}`),
/// signed in past the forced password change; returns their cookie.
async fn user_with_duties(
    server: &TestServer,
    acme: &Tenant,
    login: &str,
    duties: Value,
) -> String {
    let mut request = json!({"login": login, "email": format!("{login}@example.cn")});
    if let (Some(map), Some(more)) = (request.as_object_mut(), duties.as_object()) {
        map.extend(more.clone());
    }
    let user = created(
        server
            .post("/api/v1/users", Some(&acme.admin), &request)
            .await,
    )
    .await;
    let otp = user["one_time_password"].as_str().expect("otp");
    let cookie = sign_in(server, &acme.slug, login, otp).await;
    let r = server
        .post(
            "/api/v1/auth/password",
            Some(&cookie),
            &json!({"current_password": otp, "new_password": STRONG_PASSWORD}),
        )
        .await;
    body(r, StatusCode::NO_CONTENT).await;
    cookie
}

#[tokio::test]
async fn the_admin_sees_every_page_with_what_the_api_gives() {
    let server = TestServer::start(Backend::Sqlite).await;
    let operator = server.operator().await;
    let acme = tenant(&server, &operator, "acme").await;
    let admin = acme.admin.as_str();
    let sales = created(
        server
            .post(
                "/api/v1/departments",
                Some(admin),
                &json!({"name": "销售部"}),
            )
            .await,
    )
    .await;
    let east = created(
        server
            .post(
                "/api/v1/departments",
                Some(admin),
                &json!({"name": "华东区", "parent_id": id_of(&sales)}),
            )
            .await,
    )
    .await;
    let carol = created(
        server
            .post(
                "/api/v1/users",
                Some(admin),
                &json!({"login": "carol", "email": "carol@example.cn", "display_name": "卡罗尔",
                    "department_id": id_of(&east)}),
            )
            .await,
    )
    .await;
    let carol_id = id_of(&carol["user"]);
    let app = created(
        server
            .post("/api/v1/apps", Some(admin), &json!({"name": "客户管理"}))
            .await,
    )
    .await;
    let table = created(
        server
            .post(
                &format!("/api/v1/apps/{}/tables", id_of(&app)),
                Some(admin),
                &json!({"name": "客户", "fields": [{"name": "名称", "type": "text"}, {"name": "金额", "type": "integer"}]}),
            )
            .await,
    )
    .await;
    let table_id = id_of(&table);
    let amount = table["fields"]
        .as_array()
        .and_then(|all| all.iter().find(|f| f["name"] == "金额"))
        .map(id_of)
        .expect("金额");
    let sellers = created(
        server
            .post(
                "/api/v1/groups",
                Some(admin),
                &json!({"name": "销售", "members": [{"user": carol_id}, {"department": {"id": id_of(&sales), "include_subdepartments": true}}],
                    "grants": {"tables": {table_id.clone(): {"operations": ["read", "update"],
                        "fields": {amount.clone(): "hidden"}, "rows": {"read": "my_department_tree", "update": {"filter": "名称 = $me"}}}}}}),
            )
            .await,
    )
    .await;
    created(
        server
            .post(
                "/api/v1/ip-bans",
                Some(admin),
                &json!({"prefix": "203.0.113.0/24", "reason": "扫描"}),
            )
            .await,
    )
    .await;

    let (_, html) = page(&server, "/apps", Some(admin)).await;
    assert!(
        html.contains("href=\"/admin/users\"") && html.contains("管理"),
        "the administration link"
    );

    let (status, html) = page(&server, "/admin/users", Some(admin)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    for marker in [
        "id=\"users\"",
        "id=\"new-user\"",
        "data-user=\"carol\"",
        "卡罗尔",
        "销售部 › 华东区",
        &acme.admin_login,
        "class=\"subnav\"",
    ] {
        assert!(html.contains(marker), "/admin/users shows {marker}");
    }
    assert!(
        !html.contains("id=\"edit-user\""),
        "no user is being edited"
    );
    let (status, html) = page(
        &server,
        &format!("/admin/users?edit={carol_id}"),
        Some(admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"edit-user\"") && html.contains("id=\"user-profile\""));
    assert!(html.contains(&format!("/api/v1/users/{carol_id}/reset-password")));
    assert!(
        html.contains(&format!("<option value=\"{}\" selected>", id_of(&east))),
        "carol's department is chosen"
    );
    let (status, _) = page(
        &server,
        "/admin/users?edit=0190aaaa-0000-7000-8000-000000000000",
        Some(admin),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no such user to edit");

    let (status, html) = page(&server, "/admin/departments", Some(admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"departments\"") && html.contains("id=\"new-department\""));
    let tree = &html[html.find("id=\"departments\"").expect("tree")..];
    let (sales_at, east_at) = (
        tree.find("销售部").expect("销售部"),
        tree.find("华东区").expect("华东区"),
    );
    assert!(sales_at < east_at, "the parent comes before its child");
    assert!(
        tree[sales_at..east_at].contains("<ul>"),
        "华东区 is nested under 销售部"
    );

    let (status, html) = page(&server, "/admin/groups", Some(admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"groups\"") && html.contains("id=\"new-group\""));
    assert!(html.contains(&format!("href=\"/admin/groups/{}\"", id_of(&sellers))));

    let (status, html) = page(
        &server,
        &format!("/admin/groups/{}", id_of(&sellers)),
        Some(admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    for marker in [
        "id=\"group-editor\"",
        "id=\"grants-matrix\"",
        "class=\"save-bar\"",
        "data-group-preview",
        &format!("data-member-user=\"{carol_id}\" checked"),
        &format!("data-include-sub=\"{}\" checked", id_of(&sales)),
        &format!(
            "data-table=\"{table_id}\" data-in-app=\"{}\" data-op=\"read\" ",
            id_of(&app)
        ),
        &format!(
            "data-field=\"{amount}\" data-field-of=\"{table_id}\" aria-label=\"金额\" class=\"rule-hidden\""
        ),
        "value=\"my_department_tree\" selected",
        "value=\"名称 = $me\"",
    ] {
        assert!(html.contains(marker), "the editor shows {marker}");
    }
    assert!(
        html.contains(&format!("data-table=\"{table_id}\" data-in-app=\"{}\" data-op=\"read\" aria-label=\"客户 · 查看\" checked", id_of(&app))),
        "read is ticked"
    );
    assert!(
        html.contains(&format!("data-table=\"{table_id}\" data-in-app=\"{}\" data-op=\"delete\" aria-label=\"客户 · 删除\" >", id_of(&app))),
        "delete is not"
    );
    let admins = builtin_group(&server, admin, "tenant_admin").await;
    let (_, html) = page(&server, &format!("/admin/groups/{admins}"), Some(admin)).await;
    assert!(
        html.contains("<fieldset class=\"bare\" disabled>"),
        "read-only"
    );
    assert!(
        !html.contains("class=\"save-bar\"") && !html.contains("data-api data-method=\"DELETE\"")
    );
    let everyone = builtin_group(&server, admin, "member").await;
    let (_, html) = page(&server, &format!("/admin/groups/{everyone}"), Some(admin)).await;
    assert!(
        html.contains("class=\"save-bar\"") && !html.contains("data-member-user"),
        "editable, no member list"
    );

    let (status, html) = page(&server, "/admin/security", Some(admin)).await;
    assert_eq!(status, StatusCode::OK);
    for marker in [
        "id=\"security-policy\"",
        "name=\"password_max_age_days\" data-json=\"number\" inputmode=\"numeric\" value=\"90\"",
        "value=\"optional\" selected",
        "data-ban=\"203.0.113.0&#x2f;24\"",
        "扫描",
        "id=\"security-events\"",
        "ip_banned",
        "id=\"signin-history\"",
    ] {
        assert!(html.contains(marker), "/admin/security shows {marker}");
    }

    let (status, html) = page(&server, "/admin/keys", Some(admin)).await;
    eprintln!(
        "DEBUG {}",
        &html[html.find("data-key=").unwrap_or(0)..][..600]
    );
    assert_eq!(status, StatusCode::OK);
    for marker in [
        "id=\"key-versions\"",
        "data-key=\"data-1\"",
        "AES-256-GCM",
        "id=\"rotate-key\"",
    ] {
        assert!(html.contains(marker), "/admin/keys shows {marker}");
    }

    let english = format!("{admin}; citadel_lang=en");
    let (_, html) = page(&server, "/admin/groups", Some(&english)).await;
    assert!(html.contains("Permission groups") && html.contains(">Administration<"));
    server.stop().await;
}

#[tokio::test]
async fn a_member_is_refused_every_page_and_shown_no_link_to_them() {
    let server = TestServer::start(Backend::Sqlite).await;
    let operator = server.operator().await;
    let acme = tenant(&server, &operator, "acme").await;
    let bob = member(&server, &acme, "bob").await;
    let (_, html) = page(&server, "/apps", Some(&bob.cookie)).await;
    assert!(!html.contains("/admin/"), "no administration link: {html}");
    let everyone = builtin_group(&server, &acme.admin, "member").await;
    let group_page = format!("/admin/groups/{everyone}");
    for path in ADMIN_PAGES.into_iter().chain([group_page.as_str()]) {
        let (status, html) = page(&server, path, Some(&bob.cookie)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            html.contains("没有权限") && !html.contains("subnav"),
            "{path}"
        );
    }
    // Each refusal is in the trail as the API read the page shows.
    let events = body(
        server
            .get(
                &format!("/api/v1/audit/events?outcome=denied&actor={}", bob.id),
                Some(&acme.admin),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    let actions: Vec<&str> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "user.list",
        "department.list",
        "group.list",
        "group.read",
        "security_policy.read",
        "key.status",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }

    // Without a session: the sign-in page, coming back after.
    let manual = manual_client(&server);
    for path in ADMIN_PAGES {
        let r = manual.get(server.url(path)).send().await.expect("request");
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(
            r.headers()[LOCATION],
            format!("/sign-in?next={path}"),
            "{path}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn each_duty_sees_only_its_own_parts() {
    let server = TestServer::start(Backend::Sqlite).await;
    let operator = server.operator().await;
    let acme = tenant(&server, &operator, "acme").await;
    let sec = user_with_duties(&server, &acme, "sec", json!({"security_admin": true})).await;
    let (_, html) = page(&server, "/apps", Some(&sec)).await;
    assert!(
        html.contains("href=\"/admin/security\""),
        "their administration link"
    );
    let (status, html) = page(&server, "/admin/security", Some(&sec)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"security-policy\"") && !html.contains("id=\"events-card\""));
    assert!(html.contains("href=\"/admin/keys\"") && !html.contains("href=\"/admin/users\""));
    let (status, _) = page(&server, "/admin/keys", Some(&sec)).await;
    assert_eq!(status, StatusCode::OK, "keys are the security duty's");
    for path in ["/admin/users", "/admin/departments", "/admin/groups"] {
        let (status, _) = page(&server, path, Some(&sec)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }

    let audit = user_with_duties(&server, &acme, "aud", json!({"audit_admin": true})).await;
    let (status, html) = page(&server, "/admin/security", Some(&audit)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"events-card\"") && html.contains("id=\"signin-history\""));
    assert!(!html.contains("id=\"security-policy\"") && !html.contains("/api/v1/ip-bans"));
    let (status, _) = page(&server, "/admin/keys", Some(&audit)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    server.stop().await;
}

#[tokio::test]
async fn what_users_typed_is_escaped() {
    let server = TestServer::start(Backend::Sqlite).await;
    let operator = server.operator().await;
    let acme = tenant(&server, &operator, "acme").await;
    let admin = acme.admin.as_str();
    let department = created(
        server
            .post(
                "/api/v1/departments",
                Some(admin),
                &json!({"name": "<b>x</b>"}),
            )
            .await,
    )
    .await;
    created(
        server
            .post(
                "/api/v1/users",
                Some(admin),
                &json!({"login": "eve", "email": "eve@example.cn", "display_name": "<img src=y onerror=alert(1)>",
                    "department_id": id_of(&department)}),
            )
            .await,
    )
    .await;
    created(
        server
            .post(
                "/api/v1/ip-bans",
                Some(admin),
                &json!({"prefix": "198.51.100.7", "reason": "<script>alert(2)</script>"}),
            )
            .await,
    )
    .await;
    for path in ["/admin/departments", "/admin/users", "/admin/security"] {
        let (status, html) = page(&server, path, Some(admin)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!html.contains("<b>x</b>"), "{path}: {html}");
        assert!(
            !html.contains("<img src=y") && !html.contains("<script>alert"),
            "{path}"
        );
    }
    let (_, html) = page(&server, "/admin/departments", Some(admin)).await;
    assert!(html.contains("&lt;b&gt;x&lt;&#x2f;b&gt;"), "{html}");
    let (_, html) = page(&server, "/admin/users", Some(admin)).await;
    assert!(html.contains("&lt;img src=y onerror=alert(1)&gt;"));
    let (_, html) = page(&server, "/admin/security", Some(admin)).await;
    assert!(html.contains("&lt;script&gt;alert(2)&lt;&#x2f;script&gt;"));
    server.stop().await;
}
