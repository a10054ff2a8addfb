//! The web interface in real Chromium against the real server: an admin
//! signs in with a second factor, builds an app with a table and fields,
//! adds and edits records through the form and the grid, filters, imports
//! a CSV and sees it all in the audit viewer; a member sees a hidden and a
//! read-only field as their group says; the operator runs the console.
//! Each main page is saved as a screenshot under `target/screenshots/`.

mod browser_support;
mod common;
mod identity_support;

use browser_support::Browser;
use common::{Backend, STRONG_PASSWORD, TestServer};
use identity_support::{
    body, enrol_totp, field_id, member, members_may_do_nothing, now_secs, tenant, totp_code,
};
use reqwest::StatusCode;
use serde_json::json;

/// Adds a condition to the grid's filter box with the filter builder.
async fn add_condition(browser: &Browser, field: &str, op: &str, value: &str) {
    browser.select("[data-filter-field]", field).await;
    browser.select("[data-filter-op]", op).await;
    browser.fill("[data-filter-value]", value).await;
    browser.click("[data-filter-add]").await;
}

async fn sign_in(browser: &Browser, server: &TestServer, slug: &str, login: &str) {
    sign_in_as(browser, server, slug, login, STRONG_PASSWORD).await;
}

async fn sign_in_as(
    browser: &Browser,
    server: &TestServer,
    slug: &str,
    login: &str,
    password: &str,
) {
    browser.goto(&server.url("/sign-in")).await;
    browser.fill("[name=tenant]", slug).await;
    browser.fill("[name=login]", login).await;
    browser.fill("[name=password]", password).await;
    browser.click("#sign-in [type=submit]").await;
}

#[tokio::test]
async fn an_admin_builds_an_app_and_works_with_its_records_in_chromium() {
    let server = TestServer::start(Backend::Sqlite).await;
    let operator = server.operator().await;
    let acme = tenant(&server, &operator, "acme").await;
    let (secret, _) = enrol_totp(&server, &acme.admin).await;
    let browser = Browser::launch().await;
    browser.resize(1280, 800).await;

    // A wrong password is refused in the interface's language.
    browser.goto(&server.url("/sign-in")).await;
    browser.fill("[name=tenant]", "acme").await;
    browser.fill("[name=login]", &acme.admin_login).await;
    browser.fill("[name=password]", "Wrong-Passw0rd!").await;
    browser.click("#sign-in [type=submit]").await;
    browser
        .wait_text("#sign-in .form-error", "租户、登录名或密码不正确")
        .await;
    browser.screenshot("sign-in-refused").await;
    // Sign-in: the password, then the second factor it asks for.
    sign_in(&browser, &server, "acme", &acme.admin_login).await;
    browser
        .wait_for(".totp-step:not([hidden]) [name=totp_code]")
        .await;
    browser.screenshot("sign-in-totp").await;
    // The enrolment used this step's code; the next step's is accepted.
    browser
        .fill("[name=totp_code]", &totp_code(&secret, now_secs() + 30))
        .await;
    browser.click("#sign-in [type=submit]").await;
    browser.wait_path("/apps").await;
    browser.no_console_errors("sign-in").await;

    // An app, a table, fields.
    browser.fill("#new-app [name=name]", "客户管理").await;
    browser.click("#new-app [type=submit]").await;
    browser.wait_for("#new-table").await;
    browser.fill("#new-table [name=name]", "客户").await;
    browser.click("#new-table [type=submit]").await;
    let schema = browser.wait_path("/tables/").await;
    assert!(schema.ends_with("/schema"), "{schema}");
    let table = schema
        .trim_start_matches("/tables/")
        .trim_end_matches("/schema")
        .to_owned();
    for (name, kind, extra) in [
        ("名称", "text", None),
        ("金额", "integer", None),
        ("状态", "single_select", Some("新, 跟进中, 成交")),
        // A relation: each customer may name its parent customer.
        ("上级", "link", None),
    ] {
        browser.fill("#new-field [name=name]", name).await;
        browser.select("#new-field [name=type]", kind).await;
        if let Some(choices) = extra {
            browser.fill("#new-field [name=choices]", choices).await;
        }
        if name == "名称" {
            browser.click("#new-field [name=required]").await;
        }
        browser.click("#new-field [type=submit]").await;
        browser
            .wait_for(&format!("tr[data-field-name=\"{name}\"]"))
            .await;
    }
    // A field name taken: the message stands next to the name, the input stays.
    browser.fill("#new-field [name=name]", "金额").await;
    browser.click("#new-field [type=submit]").await;
    browser
        .wait_for(
            "#new-field .form-error:not([hidden]), #new-field [data-error-for=name]:not([hidden])",
        )
        .await;
    let kept = browser
        .eval("return document.querySelector('#new-field [name=name]').value")
        .await;
    assert_eq!(kept, "金额", "the input is kept");
    // Edit a field: 状态 gets a fourth choice.
    browser
        .click("tr[data-field-name=\"状态\"] .field-edit > summary")
        .await;
    browser
        .fill(
            "tr[data-field-name=\"状态\"] .edit-field [name=choices]",
            "新, 跟进中, 成交, 流失",
        )
        .await;
    browser
        .click("tr[data-field-name=\"状态\"] .edit-field [type=submit]")
        .await;
    browser
        .wait_text("tr[data-field-name=\"状态\"]", "流失")
        .await;
    browser.screenshot("schema").await;
    browser.no_console_errors("schema").await;

    // A record through the form: first without its required name.
    browser
        .goto(&server.url(&format!("/tables/{table}/new")))
        .await;
    browser.fill("#record-form [name=金额]", "500").await;
    browser.click("#record-form [type=submit]").await;
    browser.wait_text("[data-error-for=名称]", "名称").await;
    browser.screenshot("record-invalid").await;
    browser.fill("#record-form [name=名称]", "华为").await;
    browser.select("#record-form [name=状态]", "新").await;
    browser.click("#record-form [type=submit]").await;
    browser.wait_for("#history").await;
    browser.screenshot("record").await;

    // A whole number past 2^53 arrives exact, and an edit sends only the
    // field changed.
    let big = "9007199254740993";
    browser.fill("#record-form [name=金额]", big).await;
    browser.click("#record-form [type=submit]").await;
    browser.wait_text("#history", big).await;
    // The grid: a second record, an inline edit, a refused inline edit.
    browser
        .goto(&server.url(&format!("/tables/{table}/new")))
        .await;
    browser.fill("#record-form [name=名称]", "中兴").await;
    browser.fill("#record-form [name=金额]", "50").await;
    browser.fill("#record-form [name=上级]", "1").await;
    browser.click("#record-form [type=submit]").await;
    browser.wait_text("#history", "上级").await;
    browser.goto(&server.url(&format!("/tables/{table}"))).await;
    browser.wait_text("#grid", "中兴").await;
    browser.wait_text("#grid", "#1").await;
    let edit_amount = "const cell = [...document.querySelectorAll('#grid tr')].find(r => r.textContent.includes('华为')).querySelector('[data-edit=\"金额\"]'); cell.dispatchEvent(new MouseEvent('dblclick', {bubbles: true})); return true";
    browser.eval(edit_amount).await;
    browser.fill(".cell-editor", "800\u{E007}").await;
    browser.wait_text("#grid", "800").await;
    browser.eval(edit_amount).await;
    browser.fill(".cell-editor", "八百\u{E007}").await;
    browser.wait_for("td.invalid .cell-error").await;
    browser.screenshot("grid-inline-error").await;
    browser.eval("document.querySelector('.cell-editor').dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true})); return true").await;
    browser.screenshot("grid").await;

    // The filter builder writes the condition; the grid shows the matches.
    // A condition added to a filter with `or` keeps that filter whole.
    browser
        .fill("#filter-text", "名称 = 'x' or 名称 = 'y'")
        .await;
    add_condition(&browser, "金额", ">=", "600").await;
    let filter = browser
        .eval("return document.querySelector('#filter-text').value")
        .await;
    assert_eq!(filter, "(名称 = 'x' or 名称 = 'y') and 金额 >= 600");
    browser.fill("#filter-text", "").await;
    add_condition(&browser, "金额", ">=", "600").await;
    let filter = browser
        .eval("return document.querySelector('#filter-text').value")
        .await;
    assert_eq!(filter, "金额 >= 600");
    browser.click("#filter [type=submit]").await;
    browser.wait_text(".count", "1").await;
    let grid = browser.text("#grid").await;
    assert!(grid.contains("华为") && !grid.contains("中兴"), "{grid}");
    browser.screenshot("grid-filtered").await;
    // The filter saved as a shared view, which the grid then shows by.
    browser.click("[data-save-view]").await;
    browser.fill("#view-name", "大单").await;
    browser.click("#view-shared").await;
    browser.click("#view-name-ok").await;
    browser
        .until("return location.search.startsWith('?view=')")
        .await;
    let picked = browser
        .eval("return document.querySelector('[name=view]').selectedOptions[0].textContent")
        .await;
    assert!(
        picked.as_str().is_some_and(|v| v.starts_with("大单")),
        "{picked}"
    );
    assert_eq!(browser.text(".count").await, "1", "the view filters");
    browser.no_console_errors("grid").await;

    // Import: a dry run with a bad row, then a good file.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "名称,金额,状态\n小米,30,新\n,abc,新\n").expect("csv");
    browser
        .goto(&server.url(&format!("/tables/{table}/import")))
        .await;
    let file_input = browser.wait_for("#import [name=file]").await;
    file_input
        .send_keys(&bad.display().to_string())
        .await
        .expect("file");
    browser.click("#import [data-step=check]").await;
    browser.wait_for("#import-errors tbody tr").await;
    browser.wait_for("#preview-table tr").await;
    browser.screenshot("import-errors").await;
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "名称,金额,状态\n小米,30,新\nOPPO,45,成交\n").expect("csv");
    browser
        .goto(&server.url(&format!("/tables/{table}/import")))
        .await;
    let file_input = browser.wait_for("#import [name=file]").await;
    file_input
        .send_keys(&good.display().to_string())
        .await
        .expect("file");
    browser.click("#import [data-step=check]").await;
    browser
        .click("#import [data-step=commit]:not([hidden])")
        .await;
    browser.click("#import-back").await;
    browser.wait_text("#grid", "OPPO").await;
    assert_eq!(browser.text(".count").await, "4");
    browser.no_console_errors("import").await;

    // The audit viewer lists those actions, and the chain verifies.
    browser.goto(&server.url("/admin/audit")).await;
    let events = browser.text("#audit-events").await;
    for action in [
        "auth.login",
        "app.create",
        "table.create",
        "field.create",
        "record.create",
        "record.update",
        "record.import",
    ] {
        assert!(events.contains(action), "{action} in {events}");
    }
    browser.click("[data-verify-chain]").await;
    browser.wait_for("#verify-result.ok").await;
    browser.screenshot("audit").await;
    browser.fill("#audit-filter [name=action]", "record.").await;
    browser.click("#audit-filter [type=submit]").await;
    // Blank filters are not sent: only the action is in the new address.
    browser
        .until("return location.search === '?action=record.'")
        .await;
    let filtered = browser.text("#audit-events").await;
    assert!(
        filtered.contains("record.update") && !filtered.contains("app.create"),
        "{filtered}"
    );

    browser.goto(&server.url("/account")).await;
    browser.wait_for("#sessions").await;
    browser.screenshot("account").await;
    browser.goto(&server.url("/apps")).await;
    browser.screenshot("apps").await;
    browser.resize(390, 844).await;
    browser.goto(&server.url(&format!("/tables/{table}"))).await;
    browser.wait_for("#grid").await;
    let overflow = browser
        .eval("return document.documentElement.scrollWidth <= window.innerWidth")
        .await;
    assert_eq!(
        overflow,
        json!(true),
        "the page fits a phone; the grid scrolls inside"
    );
    browser.screenshot("grid-phone").await;
    browser
        .goto(&server.url(&format!("/tables/{table}/new")))
        .await;
    browser.screenshot("record-phone").await;
    browser.no_console_errors("phone").await;
    browser.resize(1280, 800).await;

    // A table renamed, deleted to the recycle bin, and restored from it.
    let app_page = browser
        .eval("return document.querySelector('.crumbs a[href^=\"/apps/\"]').getAttribute('href')")
        .await;
    let app_page = app_page.as_str().expect("the app's page").to_owned();
    browser.goto(&server.url(&app_page)).await;
    browser.fill("#new-table [name=name]", "临时").await;
    browser.click("#new-table [type=submit]").await;
    browser.wait_for("#edit-table").await;
    browser.click("#edit-table > summary").await;
    browser.fill("#edit-table [name=name]", "临时表").await;
    browser.click("#edit-table [type=submit]").await;
    browser.wait_text("h1", "临时表").await;
    browser.click(".page-head button.danger").await;
    browser.click("dialog.confirm [data-dialog-confirm]").await;
    browser.wait_path(&app_page).await;
    browser.goto(&server.url("/recycle-bin")).await;
    browser.wait_text("#recycle-bin", "临时表").await;
    browser.screenshot("recycle-bin").await;
    browser.click("tr[data-recycled=\"临时表\"] button").await;
    browser.wait_for(".empty").await;
    browser.goto(&server.url(&app_page)).await;
    browser.wait_text("#tables", "临时表").await;
    browser.no_console_errors("recycle bin").await;
    browser.click("[data-sign-out]").await;
    browser.wait_path("/sign-in").await;

    // A member whose group hides 金额 and makes 名称 read-only.
    let bob = member(&server, &acme, "bob").await;
    narrow_to_group(&server, &acme.admin, &table, &bob.id).await;
    sign_in(&browser, &server, "acme", "bob").await;
    browser.wait_path("/apps").await;
    browser.goto(&server.url(&format!("/tables/{table}"))).await;
    let grid = browser.text("#grid").await;
    assert!(
        grid.contains("华为") && !grid.contains("金额") && !grid.contains("800"),
        "{grid}"
    );
    let read_only = browser
        .eval("return document.querySelectorAll('#grid [data-edit=\"名称\"]').length")
        .await;
    assert_eq!(read_only, json!(0), "名称 is not editable");
    let editable = browser
        .eval("return document.querySelectorAll('#grid [data-edit=\"状态\"]').length")
        .await;
    assert_eq!(editable, json!(4), "状态 is");
    browser.screenshot("grid-member").await;
    browser.click("#grid tbody tr .rowhead a").await;
    let locked = browser
        .eval("return document.querySelector('#record-form [name=名称]').readOnly")
        .await;
    assert_eq!(locked, json!(true));
    browser.screenshot("record-member").await;
    // Bob sets up two-step verification from the QR code the server drew.
    browser.goto(&server.url("/account")).await;
    browser.click("[data-begin-totp]").await;
    browser.wait_for("#totp-qr svg").await;
    let seed = browser.text("#totp-secret").await;
    browser.screenshot("account-totp").await;
    browser
        .fill("#confirm-totp [name=code]", &totp_code(&seed, now_secs()))
        .await;
    browser
        .fill("#confirm-totp [name=password]", STRONG_PASSWORD)
        .await;
    browser.click("#confirm-totp [type=submit]").await;
    browser.wait_for("#recovery-list:not([hidden]) li").await;
    let codes = browser
        .eval("return document.querySelectorAll('#recovery-list li').length")
        .await;
    assert_eq!(codes, json!(10), "ten recovery codes, shown once");
    let me = body(
        server.get("/api/v1/me", Some(&bob.cookie)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["user"]["totp_enabled"], true);
    browser.no_console_errors("member").await;
    browser.click("[data-sign-out]").await;
    browser.wait_path("/sign-in").await;

    // The operator's console: sign in, create a tenant, destroy it typed.
    browser.goto(&server.url("/platform/sign-in")).await;
    browser.fill("#operator-sign-in [name=login]", "ops").await;
    browser
        .fill("#operator-sign-in [name=password]", STRONG_PASSWORD)
        .await;
    browser.click("#operator-sign-in [type=submit]").await;
    browser.wait_for("#tenants").await;
    browser.fill("#new-tenant [name=slug]", "beta").await;
    browser
        .fill("#new-tenant [name=admin_email]", "boss@beta.cn")
        .await;
    browser.click("#new-tenant [type=submit]").await;
    browser.wait_for("#new-tenant-result:not([hidden])").await;
    browser.goto(&server.url("/platform")).await;
    browser.click("tr[data-tenant=beta] button.danger").await;
    browser.fill("dialog.confirm input", "beta").await;
    browser.click("dialog.confirm [data-dialog-confirm]").await;
    browser.wait_for("tr[data-tenant=acme]").await;
    let tenants = browser.wait_text("#tenants", "acme").await;
    assert!(
        !tenants.contains("beta") || tenants.contains("acme"),
        "{tenants}"
    );
    browser.fill("#new-operator [name=login]", "second").await;
    browser
        .fill("#new-operator [name=password]", STRONG_PASSWORD)
        .await;
    browser
        .fill("#new-operator [name=current_password]", STRONG_PASSWORD)
        .await;
    browser.click("#new-operator [type=submit]").await;
    browser.wait_text("#operators", "second").await;
    browser.screenshot("platform").await;
    browser.no_console_errors("platform").await;
    browser.close().await;
    server.stop().await;
}

/// Members may do nothing but what one group grants on `table`: read and
/// update, with 金额 hidden and 名称 read-only.
async fn narrow_to_group(server: &TestServer, admin: &str, table: &str, user: &str) {
    members_may_do_nothing(server, admin).await;
    let amount = field_id(server, admin, table, "金额").await;
    let name = field_id(server, admin, table, "名称").await;
    let r = server
        .post(
            "/api/v1/groups",
            Some(admin),
            &json!({"name": "查看", "members": [{"user": user}],
                "grants": {"tables": {table: {"operations": ["read", "update"],
                    "fields": {amount: "hidden", name: "read_only"}}}}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

/// First start in the browser: the bootstrap token makes the first
/// operator, who creates a tenant; its admin signs in with the one-time
/// password shown once and must choose a new one before anything else.
#[tokio::test]
async fn the_first_operator_and_the_first_admin_start_in_chromium() {
    let server = TestServer::start(Backend::Sqlite).await;
    let token = server.bootstrap_token.clone().expect("bootstrap token");
    let browser = Browser::launch().await;
    browser.goto(&server.url("/platform")).await;
    browser.wait_path("/platform/sign-in").await;
    browser.fill("#bootstrap [name=token]", &token).await;
    browser.fill("#bootstrap [name=login]", "root").await;
    browser
        .fill("#bootstrap [name=password]", STRONG_PASSWORD)
        .await;
    browser.screenshot("bootstrap").await;
    browser.click("#bootstrap [type=submit]").await;
    browser.wait_for("#operator-sign-in").await;
    browser.fill("#operator-sign-in [name=login]", "root").await;
    browser
        .fill("#operator-sign-in [name=password]", STRONG_PASSWORD)
        .await;
    browser.click("#operator-sign-in [type=submit]").await;
    browser.wait_path("/platform").await;
    browser.fill("#new-tenant [name=slug]", "acme").await;
    browser
        .fill("#new-tenant [name=admin_email]", "boss@acme.cn")
        .await;
    browser.select("#new-tenant [name=suite]", "sm").await;
    browser.click("#new-tenant [type=submit]").await;
    browser.wait_for("#new-tenant-result:not([hidden])").await;
    let shown = browser.text("#new-tenant-result code").await;
    let (login, otp) = shown.split_once(" / ").expect("login / password");
    assert_eq!(login, "boss@acme.cn");
    browser.click("[data-sign-out]").await;
    browser.wait_path("/platform/sign-in").await;

    sign_in_as(&browser, &server, "acme", login, otp).await;
    browser.wait_path("/password").await;
    browser.wait_for("#password .notice, .notice").await;
    browser.screenshot("password-forced").await;
    // Anything else first sends the admin back here.
    browser.goto(&server.url("/apps")).await;
    browser.wait_path("/password").await;
    browser.fill("[name=current_password]", otp).await;
    browser.fill("[name=new_password]", STRONG_PASSWORD).await;
    browser
        .fill("[name=confirm_password]", "Not-The-Same-1!")
        .await;
    browser.click("#password [type=submit]").await;
    browser
        .wait_for("[data-error-for=confirm_password]:not([hidden])")
        .await;
    browser
        .fill("[name=confirm_password]", STRONG_PASSWORD)
        .await;
    browser.click("#password [type=submit]").await;
    browser.wait_path("/apps").await;
    browser.wait_for("#new-app").await;
    browser.no_console_errors("first start").await;
    browser.close().await;
    server.stop().await;
}
