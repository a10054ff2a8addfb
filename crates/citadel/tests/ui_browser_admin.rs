//! The tenant administration pages in real Chromium against the real
//! server: an admin builds a department tree, creates a user and moves
//! them into a department, makes a permission group in the matrix editor
//! (previewing, then saving what was ticked), changes the security
//! policy and rotates the data key; each change is checked through the
//! JSON API. Screenshots go to `target/screenshots/admin-*.png`, at
//! 1280 px and at a phone's 390 px.

mod browser_support;
mod common;
mod identity_support;

use browser_support::Browser;
use common::{Backend, STRONG_PASSWORD, TestServer};
use identity_support::{body, put, tenant};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn api_get(server: &TestServer, cookie: &str, path: &str) -> Value {
    body(server.get(path, Some(cookie)).await, StatusCode::OK).await
}

fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .and_then(|all| all.iter().find(|item| item[key] == value))
        .unwrap_or_else(|| panic!("no {key} = {value} in {list}"))
}

fn text_of(value: &Value, key: &str) -> String {
    value[key].as_str().expect("a string").to_owned()
}

/// The page fits the window's width: wide tables scroll inside it.
async fn fits_the_width(browser: &Browser, page: &str) {
    let fits = browser
        .eval("return document.documentElement.scrollWidth <= window.innerWidth")
        .await;
    assert_eq!(fits, json!(true), "{page} is wider than the window");
}

/// Follows the administration sub-navigation to `page`, from the top of
/// the page: WebDriver would scroll a link up under the sticky top bar.
async fn open_tab(browser: &Browser, page: &str) {
    browser.eval("window.scrollTo(0, 0); return true").await;
    browser
        .click(&format!(".subnav a[href=\"/admin/{page}\"]"))
        .await;
    browser.wait_path(&format!("/admin/{page}")).await;
}

/// Brings `css` to the middle of the window, clear of the sticky top and
/// save bars (WebDriver scrolls an element only just into view).
async fn centre(browser: &Browser, css: &str) {
    browser.wait_for(css).await;
    let selector = serde_json::to_string(css).expect("a selector as JSON");
    browser
        .eval(&format!(
            "document.querySelector({selector}).scrollIntoView({{block: 'center'}}); return true"
        ))
        .await;
}

/// Answers the page's confirmation dialog.
async fn confirm(browser: &Browser) {
    browser.click("dialog.confirm [data-dialog-confirm]").await;
}

#[tokio::test]
async fn an_admin_manages_people_groups_policy_and_keys_in_chromium() {
    let server = TestServer::start(Backend::Sqlite).await;
    let operator = server.operator().await;
    let acme = tenant(&server, &operator, "acme").await;
    let admin = acme.admin.as_str();
    // A table to grant on; members get nothing but what groups grant.
    let app = body(
        server
            .post("/api/v1/apps", Some(admin), &json!({"name": "客户管理"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let table = body(
        server
            .post(
                &format!("/api/v1/apps/{}/tables", text_of(&app, "id")),
                Some(admin),
                &json!({"name": "客户", "fields": [
                    {"name": "名称", "type": "text"}, {"name": "金额", "type": "integer"},
                    {"name": "状态", "type": "single_select", "choices": [{"name": "新"}]}]}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let table_id = text_of(&table, "id");
    let amount = text_of(find(&table["fields"], "name", "金额"), "id");
    let groups = api_get(&server, admin, "/api/v1/groups").await;
    let everyone = text_of(find(&groups, "builtin", "member"), "id");
    let r = put(
        &server,
        &format!("/api/v1/groups/{everyone}"),
        admin,
        &json!({"name": "成员", "grants": {}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);

    let browser = Browser::launch().await;
    browser.resize(1280, 800).await;
    browser.goto(&server.url("/sign-in")).await;
    browser.fill("[name=tenant]", "acme").await;
    browser.fill("[name=login]", &acme.admin_login).await;
    browser.fill("[name=password]", STRONG_PASSWORD).await;
    browser.click("#sign-in [type=submit]").await;
    browser.wait_path("/apps").await;
    browser.click(".mainnav a[href=\"/admin/users\"]").await;
    browser.wait_for("#users").await;

    // Departments: 销售部 with 华东区 under it.
    open_tab(&browser, "departments").await;
    browser.fill("#new-department [name=name]", "销售部").await;
    browser.click("#new-department [type=submit]").await;
    browser.wait_for("[data-department=\"销售部\"]").await;
    let departments = api_get(&server, admin, "/api/v1/departments").await;
    let sales = text_of(find(&departments, "name", "销售部"), "id");
    browser.fill("#new-department [name=name]", "华东区").await;
    browser
        .select("#new-department [name=parent_id]", &sales)
        .await;
    browser.click("#new-department [type=submit]").await;
    browser
        .wait_for("[data-department=\"销售部\"] ul [data-department=\"华东区\"]")
        .await;
    let departments = api_get(&server, admin, "/api/v1/departments").await;
    let east = find(&departments, "name", "华东区");
    assert_eq!(east["parent_id"], json!(sales), "华东区 is under 销售部");
    let east = text_of(east, "id");
    browser.fill("#new-department [name=name]", "研发部").await;
    browser.click("#new-department [type=submit]").await;
    browser.wait_for("[data-department=\"研发部\"]").await;
    // A department's own edit form: a refusal is shown beside the field.
    browser
        .click("[data-department=\"研发部\"] > details > summary")
        .await;
    browser
        .fill("[data-department=\"研发部\"] [name=name]", " ")
        .await;
    browser
        .click("[data-department=\"研发部\"] [type=submit]")
        .await;
    browser
        .wait_for("[data-department=\"研发部\"] .form-error:not([hidden]), [data-department=\"研发部\"] [data-error-for=name]:not([hidden])")
        .await;
    browser.screenshot("admin-departments").await;
    browser.no_console_errors("departments").await;

    // A user, whose one-time password is shown once; then into 华东区.
    open_tab(&browser, "users").await;
    browser.fill("#new-user [name=login]", "dave").await;
    browser
        .fill("#new-user [name=email]", "dave@example.cn")
        .await;
    browser.fill("#new-user [name=display_name]", "戴夫").await;
    browser.click("#new-user [type=submit]").await;
    browser.wait_for("#new-user-result:not([hidden])").await;
    let password = browser.text("#new-user-result [data-password]").await;
    assert!(password.len() >= 10, "a one-time password: {password:?}");
    assert_eq!(browser.text("#new-user-result [data-login]").await, "dave");
    browser.click("#new-user-result a").await;
    browser
        .click("tr[data-user=\"dave\"] [data-edit-user]")
        .await;
    browser.wait_for("#edit-user[data-user=\"dave\"]").await;
    browser
        .select("#user-profile [name=department_id]", &east)
        .await;
    browser.click("#user-profile [type=submit]").await;
    browser
        .wait_text("tr[data-user=\"dave\"] [data-department]", "华东区")
        .await;
    let users = api_get(&server, admin, "/api/v1/users").await;
    let dave = find(&users, "login", "dave");
    assert_eq!(dave["department_id"], json!(east), "dave moved into 华东区");
    let dave = text_of(dave, "id");
    // A reset shows the new one-time password once.
    browser.click("#reset-password").await;
    confirm(&browser).await;
    browser
        .wait_for("#reset-password-result:not([hidden])")
        .await;
    let reset = browser.text("#reset-password-result [data-password]").await;
    assert!(reset.len() >= 10 && reset != password, "{reset:?}");
    browser.eval("window.scrollTo(0, 0); return true").await;
    browser.screenshot("admin-users").await;
    browser.no_console_errors("users").await;

    // A group: read and update on 客户, 金额 hidden, dave a member.
    open_tab(&browser, "groups").await;
    browser.fill("#new-group [name=name]", "销售组").await;
    browser.click("#new-group [type=submit]").await;
    let path = browser.wait_path("/admin/groups/").await;
    let group = path.trim_start_matches("/admin/groups/").to_owned();
    browser.wait_for("#grants-matrix").await;
    for op in ["read", "update"] {
        let tick = format!("[data-table=\"{table_id}\"][data-op=\"{op}\"]");
        centre(&browser, &tick).await;
        browser.click(&tick).await;
    }
    let open_rules = format!("[data-open-rules=\"{table_id}\"]");
    centre(&browser, &open_rules).await;
    browser.click(&open_rules).await;
    let amount_rule = format!("[data-field=\"{amount}\"]");
    centre(&browser, &amount_rule).await;
    browser.select(&amount_rule, "hidden").await;
    let update_scope = format!("[data-scope-of=\"{table_id}\"][data-scope-op=\"update\"]");
    centre(&browser, &update_scope).await;
    browser.select(&update_scope, "mine").await;
    let dave_member = format!("[data-member-user=\"{dave}\"]");
    centre(&browser, &dave_member).await;
    browser.click(&dave_member).await;
    browser.click("[data-group-preview]").await;
    let preview = browser.wait_text("#group-preview tbody", "dave").await;
    assert!(
        preview.contains("客户") && preview.contains("查看") && preview.contains("修改"),
        "{preview}"
    );
    browser.screenshot("admin-group-preview").await;
    browser.click("#group-editor [type=submit]").await;
    browser.wait_for(".save-bar .saved:not([hidden])").await;
    let saved = api_get(&server, admin, &format!("/api/v1/groups/{group}")).await;
    let rules = &saved["grants"]["tables"][&table_id];
    assert_eq!(rules["operations"], json!(["read", "update"]), "{saved}");
    assert_eq!(
        rules["fields"],
        json!({amount.clone(): "hidden"}),
        "{saved}"
    );
    assert_eq!(rules["rows"], json!({"update": "mine"}), "{saved}");
    assert_eq!(saved["members"], json!([{"user": dave}]), "{saved}");
    assert!(
        saved["grants"]["apps"].is_null() && saved["grants"]["all_apps"] == json!([]),
        "nothing else was granted: {saved}"
    );
    // A second save is based on the version the first returned.
    let export = format!("[data-table=\"{table_id}\"][data-op=\"export\"]");
    centre(&browser, &export).await;
    browser.click(&export).await;
    browser.click("#group-editor [type=submit]").await;
    browser.wait_for(".save-bar .saved:not([hidden])").await;
    let again = api_get(&server, admin, &format!("/api/v1/groups/{group}")).await;
    assert_eq!(
        again["grants"]["tables"][&table_id]["operations"],
        json!(["read", "update", "export"])
    );
    // A refusal is shown beside the form: an empty name.
    centre(&browser, "#group-editor [name=name]").await;
    browser.fill("#group-editor [name=name]", " ").await;
    browser.click("#group-editor [type=submit]").await;
    browser
        .wait_for("#group-editor [data-error-for=name]:not([hidden]), .save-bar .form-error:not([hidden])")
        .await;
    browser
        .goto(&server.url(&format!("/admin/groups/{group}")))
        .await;
    browser.wait_for("#grants-matrix").await;
    browser.screenshot("admin-group").await;
    centre(&browser, "#grants-matrix").await;
    browser.screenshot("admin-group-matrix").await;
    browser
        .goto(&server.url(&format!("/admin/groups/{group}#rules-{table_id}")))
        .await;
    browser.wait_for(&format!("#rules-{table_id}[open]")).await;
    browser.screenshot("admin-group-rules").await;
    browser.no_console_errors("group").await;

    // The security policy: a change saved, a value out of range refused.
    browser.goto(&server.url("/admin/security")).await;
    browser
        .fill("#security-policy [name=password_history]", "8")
        .await;
    browser
        .fill("#security-policy [name=password_max_age_days]", "180")
        .await;
    browser.click("#security-policy [type=submit]").await;
    browser
        .wait_for("#security-policy .saved:not([hidden])")
        .await;
    let policy = api_get(&server, admin, "/api/v1/security-policy").await;
    assert_eq!(policy["password_history"], json!(8), "{policy}");
    assert_eq!(policy["password_max_age_days"], json!(180), "{policy}");
    browser
        .fill("#security-policy [name=max_failed_logins]", "99")
        .await;
    browser.click("#security-policy [type=submit]").await;
    browser
        .wait_text("#security-policy .form-error", "max_failed_logins")
        .await;
    browser
        .fill("#new-ban [name=prefix]", "203.0.113.0/24")
        .await;
    browser.fill("#new-ban [name=reason]", "扫描").await;
    browser.click("#new-ban [type=submit]").await;
    browser
        .wait_for("#ip-bans tr[data-ban=\"203.0.113.0/24\"]")
        .await;
    browser
        .wait_text("#security-events", "security_policy_changed")
        .await;
    browser.screenshot("admin-security").await;
    centre(&browser, "#security-events").await;
    browser.screenshot("admin-security-events").await;
    browser.no_console_errors("security").await;

    // The keys: a rotation, confirmed, adds data key version 2.
    open_tab(&browser, "keys").await;
    browser.wait_for("tr[data-key=\"data-1\"]").await;
    browser.click("#rotate-key").await;
    confirm(&browser).await;
    browser.wait_for("tr[data-key=\"data-2\"]").await;
    let keys = api_get(&server, admin, "/api/v1/keys").await;
    let data = keys["keys"]
        .as_array()
        .map(|all| all.iter().filter(|k| k["purpose"] == "data").count());
    assert_eq!(data, Some(2), "{keys}");
    browser.screenshot("admin-keys").await;
    browser.no_console_errors("keys").await;

    // A phone: every page fits; the matrix scrolls inside its frame.
    browser.resize(390, 844).await;
    for (path, shot) in [
        (format!("/admin/groups/{group}"), "admin-group-phone"),
        ("/admin/users".to_owned(), "admin-users-phone"),
        ("/admin/departments".to_owned(), "admin-departments-phone"),
        ("/admin/security".to_owned(), "admin-security-phone"),
        ("/admin/keys".to_owned(), "admin-keys-phone"),
    ] {
        browser.goto(&server.url(&path)).await;
        browser.wait_for(".subnav").await;
        fits_the_width(&browser, &path).await;
        browser.screenshot(shot).await;
    }
    browser
        .goto(&server.url(&format!("/admin/groups/{group}")))
        .await;
    centre(&browser, "#grants-matrix").await;
    browser.screenshot("admin-group-matrix-phone").await;
    browser.no_console_errors("phone").await;
    browser.close().await;
    server.stop().await;
}
