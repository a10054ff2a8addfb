//! The web interface over HTTP: every page answers through the same
//! authentication and choke point as the API (sign-in first, refusals as
//! pages, what a user may not do not shown), escapes what users typed,
//! and speaks Chinese unless asked for English. The browser tests
//! (`ui_browser.rs`) drive the same pages in Chromium.

mod common;
mod identity_support;
mod page_support;

use common::{Backend, STRONG_PASSWORD, TestServer};
use identity_support::{
    Tenant, add_user, field_id, member, members_may_do_nothing, sign_in, tenant,
};
use page_support::{created, manual_client, page};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION};
use serde_json::json;

/// An app "客户管理" with a table "客户" of three fields and two records.
async fn crm(server: &TestServer, admin: &str) -> (String, String, i64) {
    let app = created(
        server
            .post("/api/v1/apps", Some(admin), &json!({"name": "客户管理"}))
            .await,
    )
    .await;
    let app = app["id"].as_str().expect("app").to_owned();
    let table = created(
        server
            .post(
                &format!("/api/v1/apps/{app}/tables"),
                Some(admin),
                &json!({"name": "客户", "fields": [
                    {"name": "名称", "type": "text", "required": true},
                    {"name": "金额", "type": "integer"},
                    {"name": "状态", "type": "single_select", "choices": [{"name": "新"}, {"name": "成交"}]}
                ]}),
            )
            .await,
    )
    .await;
    let table = table["id"].as_str().expect("table").to_owned();
    let mut last = 0;
    for (name, amount) in [("华为", 500), ("<img src=x onerror=alert(1)>", 20)] {
        let record = created(
            server
                .post(
                    &format!("/api/v1/tables/{table}/records"),
                    Some(admin),
                    &json!({"fields": {"名称": name, "金额": amount, "状态": "新"}}),
                )
                .await,
        )
        .await;
        last = record["id"].as_i64().expect("record id");
    }
    (app, table, last)
}

#[tokio::test]
async fn pages_ask_for_sign_in_and_then_show_what_the_api_would() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        pages_on(backend).await;
    }
}

/// The pages of one storage backend: they read through the same services
/// on SQLite and on PostgreSQL.
async fn pages_on(backend: Backend) {
    let server = TestServer::start(backend).await;
    let manual = manual_client(&server);
    // Before anything: sign-in pages, redirects back after.
    for (path, to) in [
        ("/", "/apps"),
        ("/apps", "/sign-in?next=/apps"),
        (
            "/tables/1?filter=a%20b",
            "/sign-in?next=/tables/1%3Ffilter%3Da%2520b",
        ),
        ("/platform", "/platform/sign-in?next=/platform"),
    ] {
        let r = manual.get(server.url(path)).send().await.expect("request");
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.headers()[LOCATION], to, "{path}");
    }
    let (status, html) = page(&server, "/sign-in", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"sign-in\"") && html.contains("<html lang=\"zh-CN\">"));
    assert!(!html.contains("<script>"), "no inline script");
    // No open redirect: a return address that a browser would read as
    // another site's is replaced by the start page.
    for evil in [
        "/%09/evil.example",
        "//evil.example",
        "/%5Cevil.example",
        "https://evil.example",
    ] {
        let (_, html) = page(&server, &format!("/sign-in?next={evil}"), None).await;
        assert!(html.contains("data-next=\"&#x2f;apps\""), "{evil}: {html}");
    }
    let (_, html) = page(&server, "/platform/sign-in", None).await;
    assert!(
        html.contains("id=\"bootstrap\""),
        "bootstrap before any operator"
    );
    let operator = server.operator().await;
    let (_, html) = page(&server, "/platform/sign-in", None).await;
    assert!(html.contains("id=\"operator-sign-in\"") && !html.contains("id=\"bootstrap\""));

    // The operator console lists tenants.
    let acme: Tenant = tenant(&server, &operator, "acme").await;
    let (status, html) = page(&server, "/platform", Some(&operator)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-tenant=\"acme\"") && html.contains("data-typed-confirm=\"acme\""));
    // A tenant session is no operator session, and the reverse.
    let r = manual
        .get(server.url("/platform"))
        .header(COOKIE, &acme.admin)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = manual
        .get(server.url("/apps"))
        .header(COOKIE, &operator)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let (app, table, record) = crm(&server, &acme.admin).await;
    let admin = Some(acme.admin.as_str());
    let (_, html) = page(&server, "/apps", admin).await;
    assert!(html.contains("客户管理") && html.contains("id=\"new-app\""));
    assert!(
        html.contains("name=\"csrf-token\""),
        "scripts get the token"
    );
    assert!(
        html.contains("href=\"/admin/audit\""),
        "admins see the audit log"
    );
    let (_, html) = page(&server, &format!("/apps/{app}"), admin).await;
    assert!(
        html.contains(&format!("href=\"/tables/{table}\"")) && html.contains("id=\"new-table\"")
    );

    // The grid: records, escaped; editable cells; a filter; a bad filter.
    let (status, html) = page(&server, &format!("/tables/{table}"), admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("华为") && html.contains("data-edit=\"金额\""));
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "typed HTML is escaped"
    );
    assert!(!html.contains("<img src=x"));
    assert!(html.contains("<span class=\"count\">2</span>"));
    let filter = "/tables/{t}?filter=%E9%87%91%E9%A2%9D%20%3E%3D%20100".replace("{t}", &table);
    let (_, html) = page(&server, &filter, admin).await;
    assert!(
        html.contains("华为") && !html.contains("onerror"),
        "filtered to one"
    );
    let bad = format!("/tables/{table}?filter=%E6%B2%A1%E6%9C%89%20%3D%201");
    let (status, html) = page(&server, &bad, admin).await;
    assert_eq!(status, StatusCode::OK, "a bad filter keeps the page");
    assert!(html.contains("id=\"filter-error\""));
    let sorted = format!("/tables/{table}?sort=-%E9%87%91%E9%A2%9D");
    let (_, html) = page(&server, &sorted, admin).await;
    assert!(
        html.find("华为") < html.find("onerror"),
        "sorted by amount, descending"
    );

    for (path, marker) in [
        (format!("/tables/{table}/schema"), "id=\"new-field\""),
        (format!("/tables/{table}/new"), "id=\"record-form\""),
        (
            format!("/tables/{table}/records/{record}"),
            "id=\"history\"",
        ),
        (format!("/tables/{table}/import"), "id=\"import\""),
        ("/admin/audit".to_owned(), "record.create"),
        ("/recycle-bin".to_owned(), "class=\"empty\""),
        ("/account".to_owned(), "id=\"begin-totp\""),
        ("/password".to_owned(), "id=\"password\""),
    ] {
        let (status, html) = page(&server, &path, admin).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        assert!(html.contains(marker), "{path} shows {marker}");
    }
    // An app's id is a well-formed id of no table.
    let (status, html) = page(&server, &format!("/tables/{app}"), admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("找不到"), "{html}");

    // A saved view that shows only 名称: the grid shows only that column.
    let view = created(
        server
            .post(
                &format!("/api/v1/tables/{table}/views"),
                admin,
                &json!({"name": "名单", "fields": ["名称"]}),
            )
            .await,
    )
    .await;
    let view = view["id"].as_str().expect("view id");
    let (_, html) = page(&server, &format!("/tables/{table}?view={view}"), admin).await;
    let head = &html[html.find("<thead>").expect("head")..html.find("</thead>").expect("head end")];
    assert!(head.contains("名称") && !head.contains("金额"), "{head}");

    // English on request.
    let english = format!("{}; citadel_lang=en", acme.admin);
    let (_, html) = page(&server, "/apps", Some(&english)).await;
    assert!(html.contains("<html lang=\"en\">") && html.contains("New app"));
    server.stop().await;
}

#[tokio::test]
async fn what_a_member_may_not_do_is_neither_shown_nor_served() {
    let server = TestServer::start(Backend::Sqlite).await;
    let operator = server.operator().await;
    let acme = tenant(&server, &operator, "acme").await;
    let (app, table, record) = crm(&server, &acme.admin).await;
    let bob_member = member(&server, &acme, "bob").await;
    let bob = Some(bob_member.cookie.as_str());
    let (status, html) = page(&server, "/apps", bob).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("id=\"new-app\""), "no app creation");
    assert!(!html.contains("href=\"/admin/audit\""), "no audit log");
    let (_, html) = page(&server, &format!("/tables/{table}"), bob).await;
    assert!(
        !html.contains(&format!("/tables/{table}/schema")),
        "no schema link"
    );
    for path in [format!("/tables/{table}/schema"), "/admin/audit".to_owned()] {
        let (status, html) = page(&server, &path, bob).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(html.contains("没有权限"), "{path}");
    }
    // Members may do nothing until a group says so; bob's group hides 金额
    // and makes 名称 read-only.
    members_may_do_nothing(&server, &acme.admin).await;
    let amount = field_id(&server, &acme.admin, &table, "金额").await;
    let name = field_id(&server, &acme.admin, &table, "名称").await;
    let bob_id = json!(bob_member.id);
    created(
        server
            .post(
                "/api/v1/groups",
                Some(&acme.admin),
                &json!({"name": "查看", "members": [{"user": bob_id}],
                    "grants": {"tables": {table.clone(): {"operations": ["read", "update", "manage_schema"],
                        "fields": {amount: "hidden", name: "read_only"}}}}}),
            )
            .await,
    )
    .await;
    let (_, html) = page(&server, &format!("/tables/{table}"), bob).await;
    assert!(html.contains("华为"), "bob reads the records");
    // The filter box's example names 金额 too: look for the field itself.
    assert!(
        !html.contains(">金额") && !html.contains(">500<"),
        "the hidden field is nowhere: {html}"
    );
    assert!(
        !html.contains("data-edit=\"名称\"") && html.contains("data-edit=\"状态\""),
        "名称 is read-only"
    );
    assert!(
        !html.contains("id=\"add-record\""),
        "no create right, no button"
    );
    let (_, html) = page(&server, &format!("/tables/{table}/records/{record}"), bob).await;
    assert!(html.contains("id=\"record-form\"") && !html.contains(">金额"));
    assert!(
        html.contains("name=\"名称\"") && html.contains("readonly"),
        "名称 shown read-only"
    );
    let (status, _) = page(&server, &format!("/tables/{table}/new"), bob).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no create right");
    // Managing 客户's fields shows bob no other table of the app: 机密,
    // on which he has no grant, is not offered as a link target.
    let secret = created(
        server
            .post(
                &format!("/api/v1/apps/{app}/tables"),
                Some(&acme.admin),
                &json!({"name": "机密"}),
            )
            .await,
    )
    .await;
    assert!(secret["id"].is_string());
    let (status, html) = page(&server, &format!("/tables/{table}/schema"), bob).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("客户") && !html.contains("机密"), "{html}");
    server.stop().await;
}

#[tokio::test]
async fn a_one_time_password_leads_to_the_password_page_first() {
    let server = TestServer::start(Backend::Sqlite).await;
    let operator = server.operator().await;
    let acme = tenant(&server, &operator, "acme").await;
    let (_, otp) = add_user(&server, &acme.admin, "carol").await;
    let carol = sign_in(&server, "acme", "carol", &otp).await;
    let manual = manual_client(&server);
    let r = manual
        .get(server.url("/apps"))
        .header(COOKIE, &carol)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/password");
    let (status, html) = page(&server, "/password", Some(&carol)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("class=\"notice\""), "says why");
    let r = server
        .post(
            "/api/v1/auth/password",
            Some(&carol),
            &json!({"current_password": otp, "new_password": STRONG_PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, _) = page(&server, "/apps", Some(&carol)).await;
    assert_eq!(status, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn assets_are_cached_for_a_year_under_a_versioned_path() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (_, html) = page(&server, "/sign-in", None).await;
    let end = html.find("/app.css").expect("stylesheet link") + "/app.css".len();
    let start = html[..end].rfind("/assets/").expect("asset link");
    let href = &html[start..end];
    assert!(href.ends_with("/app.css"), "{href}");
    let r = server.get(href, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()[CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert!(
        r.headers()[CONTENT_TYPE]
            .to_str()
            .expect("type")
            .starts_with("text/css")
    );
    let r = server.get("/assets/x/nothing.js", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Another build's version is not answered for, nor cached.
    let r = server.get("/assets/0123456789ab/app.css", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
    server.stop().await;
}

/// Every page of the interface, as the route table lists it, with real
/// ids: public pages answer anyone; the others send whoever has no
/// session of theirs (none, a forged one, the other population's) to the
/// right sign-in page, and show a member without grants none of the
/// tenant's data.
#[tokio::test]
async fn every_page_goes_through_the_choke_point() {
    let server = TestServer::start(Backend::Sqlite).await;
    let operator = server.operator().await;
    let acme = tenant(&server, &operator, "acme").await;
    let (app, table, record) = crm(&server, &acme.admin).await;
    members_may_do_nothing(&server, &acme.admin).await;
    let nobody = member(&server, &acme, "nobody").await;
    let manual = manual_client(&server);
    let forged = format!("citadel_session={}.{}", app, "f".repeat(64));
    let record_id = record.to_string();
    let public = [
        "/",
        "/sign-in",
        "/platform/sign-in",
        "/assets/{version}/{name}",
    ];
    for route in citadel_server::ui::PAGE_ROUTES {
        // Each `{parameter}` by its real id; any other id well formed, of nothing.
        let mut path = String::new();
        for (i, part) in route.split(['{', '}']).enumerate() {
            path.push_str(match (i % 2, part) {
                (0, literal) => literal,
                (_, "app") => &app,
                (_, "table") => &table,
                (_, "record") => &record_id,
                (_, "version") => citadel_server::ui::render::ASSET_VERSION.as_str(),
                (_, "name") => "app.css",
                _ => &app,
            });
        }
        let send = |cookie: Option<String>| {
            let mut request = manual.get(server.url(&path));
            if let Some(cookie) = cookie {
                request = request.header(COOKIE, cookie);
            }
            request.send()
        };
        if public.contains(route) {
            let r = send(None).await.expect("request");
            assert!(
                r.status().is_success() || r.status().is_redirection(),
                "{route}"
            );
            continue;
        }
        let (sign_in, wrong) = if route.starts_with("/platform") {
            ("/platform/sign-in?next=", acme.admin.clone())
        } else {
            ("/sign-in?next=", operator.clone())
        };
        for cookie in [None, Some(forged.clone()), Some(wrong)] {
            let r = send(cookie).await.expect("request");
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{route}");
            let to = r.headers()[LOCATION].to_str().expect("location");
            assert!(to.starts_with(sign_in), "{route} → {to}");
        }
        if route.starts_with("/platform") {
            continue;
        }
        let r = send(Some(nobody.cookie.clone())).await.expect("request");
        let status = r.status();
        let html = r.text().await.expect("body");
        assert!(
            [StatusCode::OK, StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&status),
            "{route}: {status}"
        );
        for secret in ["华为", "客户管理", "金额"] {
            assert!(
                !html.contains(&format!(">{secret}")),
                "{route} shows {secret} to a member without grants"
            );
        }
    }
    server.stop().await;
}

/// A tenant that requires a second factor sends a user without one to
/// their account page, where it is set up, from every other page.
#[tokio::test]
async fn a_required_second_factor_leads_to_the_account_page_first() {
    let server = TestServer::start(Backend::Sqlite).await;
    let operator = server.operator().await;
    let acme = tenant(&server, &operator, "acme").await;
    let dora = member(&server, &acme, "dora").await;
    let r = server
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/security-policy",
            Some(&acme.admin),
            &json!({"password_max_age_days": 90, "password_history": 5, "max_failed_logins": 5,
                "lockout_minutes": 15, "require_totp": "everyone"}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{}",
        r.text().await.unwrap_or_default()
    );
    let manual = manual_client(&server);
    for path in ["/apps", "/admin/audit", "/password"] {
        let r = manual
            .get(server.url(path))
            .header(COOKIE, &dora.cookie)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.headers()[LOCATION], "/account", "{path}");
    }
    let (status, html) = page(&server, "/account", Some(&dora.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"begin-totp\"") && html.contains("class=\"notice\""));
    server.stop().await;
}
