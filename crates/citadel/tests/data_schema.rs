//! The schema side of the data model API on SQLite and PostgreSQL: apps,
//! tables and fields changed online with conflicts refused, the recycle
//! bin, and the choke point between admins and members (sessions and
//! access tokens).

mod common;
mod data_support;
mod identity_support;

use common::{STRONG_PASSWORD, TestServer, expect_problem};
use data_support::{Api, id, records};
use identity_support::{body, member, tenant, with_bearer};
use reqwest::{Method, StatusCode as S};
use serde_json::{Value, json};

crate::on_both_backends!(
    fields_change_online_with_conflicts_refused,
    the_recycle_bin_keeps_apps_and_tables_for_thirty_days,
    members_work_with_records_but_not_the_schema,
);

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PATCH: Method = Method::PATCH;
const PUT: Method = Method::PUT;
const DELETE: Method = Method::DELETE;
/// No request body.
const NONE: Value = Value::Null;
const CONFLICT: (S, &str) = (S::CONFLICT, "conflict");
const NOT_FOUND: (S, &str) = (S::NOT_FOUND, "not_found");
const FORBIDDEN: (S, &str) = (S::FORBIDDEN, "forbidden");
const INVALID: (S, &str) = (S::BAD_REQUEST, "invalid_field");
const INPUT: (S, &str) = (S::BAD_REQUEST, "invalid_input");
const SPEC: (S, &str) = (S::BAD_REQUEST, "invalid_body");

impl Api<'_> {
    async fn app(&self, name: &str) -> String {
        id(&self.create("/api/v1/apps", json!({"name": name})).await)
    }

    async fn table(&self, app: &str, name: &str, fields: Value) -> Value {
        let path = format!("/api/v1/apps/{app}/tables");
        self.create(&path, json!({"name": name, "fields": fields}))
            .await
    }

    /// The values of `field` over a listing (`query` after `?`), in order.
    async fn column(&self, table: &str, query: &str, field: &str) -> Vec<Value> {
        let page = self.get(&format!("{}?{query}", records(table))).await;
        let list = page["records"].as_array().expect("records");
        list.iter().map(|r| r["fields"][field].clone()).collect()
    }
}

fn names(table: &Value) -> Vec<String> {
    let fields = table["fields"].as_array().expect("fields");
    let name = |f: &Value| f["name"].as_str().unwrap_or_default().to_owned();
    fields.iter().map(name).collect()
}

async fn fields_change_online_with_conflicts_refused(backend: common::Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "schema").await;
    let admin = Api::new(&server, &t.admin);

    // Apps: names are unique without regard to case.
    let crm = admin.app("CRM").await;
    let sales = admin.app("销售").await;
    admin
        .refused(POST, "/api/v1/apps", json!({"name": "crm"}), CONFLICT)
        .await;
    let sales_path = format!("/api/v1/apps/{sales}");
    admin
        .refused(PATCH, &sales_path, json!({"name": "Crm"}), CONFLICT)
        .await;
    let app_path = format!("/api/v1/apps/{crm}");
    let described = json!({"description": "客户关系"});
    let app = admin.ok(PATCH, &app_path, described, S::OK).await;
    assert_eq!(
        (&app["name"], &app["description"]),
        (&json!("CRM"), &json!("客户关系"))
    );
    let app = admin
        .ok(PATCH, &app_path, json!({"description": null}), S::OK)
        .await;
    assert_eq!(app["description"], Value::Null);
    assert_eq!(admin.get(&app_path).await, app);
    assert_eq!(
        admin.get("/api/v1/apps").await.as_array().map(Vec::len),
        Some(2)
    );

    // Tables: every declaration is checked before anything is made.
    let tables = format!("/api/v1/apps/{crm}/tables");
    let missing = "01890000-0000-7000-8000-000000000000";
    for (fields, want, field) in [
        (
            json!([{"name": "a", "type": "text"}, {"name": "A", "type": "text"}]),
            CONFLICT,
            None,
        ),
        (
            json!([{"name": "b", "type": "spreadsheet"}]),
            INPUT,
            Some("fields[0]"),
        ),
        (
            json!([{"name": "a", "type": "text"}, {"name": "id", "type": "text"}]),
            INPUT,
            Some("fields[1]"),
        ),
        (
            json!([{"name": "a", "type": "link", "table": missing}]),
            INVALID,
            Some("fields[0].table"),
        ),
        (
            json!([{"name": "a", "type": "text", "colour": "red"}]),
            SPEC,
            Some("fields[0]"),
        ),
    ] {
        let value = json!({"name": "坏表", "fields": fields});
        let problem = admin.refused(POST, &tables, value, want).await;
        assert_eq!(problem["field"].as_str(), field, "{problem}");
    }
    assert_eq!(admin.get(&tables).await, json!([]), "no table was made");
    let fields = json!([{"name": "名称", "type": "text"}, {"name": "金额", "type": "currency"}]);
    let tid = id(&admin.table(&crm, "客户", fields).await);
    admin
        .refused(POST, &tables, json!({"name": "客户"}), CONFLICT)
        .await;
    let other = id(&admin.table(&crm, "订单", json!([])).await);
    let other = format!("/api/v1/tables/{other}");
    admin
        .refused(PATCH, &other, json!({"name": "客户"}), CONFLICT)
        .await;
    let renamed = admin
        .ok(PATCH, &other, json!({"name": "订单二"}), S::OK)
        .await;
    assert_eq!(renamed["name"], "订单二");
    let batch = json!({"records": [{"fields": {"名称": "a", "金额": 1}},
        {"fields": {"名称": "b", "金额": 2}}, {"fields": {"名称": "a", "金额": 3}}]});
    let rows = admin
        .create(&format!("{}/batch", records(&tid)), batch)
        .await;
    let third = format!("{}/{}", records(&tid), rows["records"][2]["id"]);

    // A field with a default fills the records there are.
    let fields = format!("/api/v1/tables/{tid}/fields");
    let state = json!({"name": "状态", "type": "single_select", "default": "新",
        "choices": [{"name": "新"}, {"name": "旧"}]});
    let after = admin.create(&fields, state).await;
    assert_eq!(names(&after), ["名称", "金额", "状态"]);
    assert_eq!(after["fields"][2]["position"], 3);
    assert_eq!(after["fields"][2]["default"], "新");
    let count = json!({"name": "数量", "type": "integer", "default": 0});
    admin.create(&fields, count).await;
    let note = json!({"name": "备注", "type": "text"});
    admin.create(&fields, note).await;
    assert_eq!(admin.column(&tid, "", "状态").await, vec![json!("新"); 3]);
    assert_eq!(admin.column(&tid, "", "数量").await, vec![json!(0); 3]);
    assert_eq!(admin.column(&tid, "", "备注").await, vec![Value::Null; 3]);
    let new = json!({"fields": {"名称": "d"}});
    let new = admin.create(&records(&tid), new).await;
    assert_eq!(new["fields"]["状态"], "新");
    assert_eq!(new["fields"]["数量"], 0);
    let new = format!("{}/{}", records(&tid), new["id"]);
    admin.ok(DELETE, &new, NONE, S::NO_CONTENT).await;
    for (spec, want) in [
        (json!({"name": "名称", "type": "text"}), CONFLICT),
        (json!({"name": " 金额 ", "type": "integer"}), CONFLICT),
        (json!({"name": "x", "type": "text", "surprise": 1}), SPEC),
        (json!({"name": "version", "type": "text"}), INPUT),
        (
            json!({"name": "x", "type": "integer", "default": "many"}),
            INVALID,
        ),
        (
            json!({"name": "x", "type": "decimal", "precision": 19}),
            INPUT,
        ),
        (json!({"name": "x", "type": "text", "precision": 2}), INPUT),
    ] {
        admin.refused(POST, &fields, spec, want).await;
    }
    let schema = admin.get(&format!("/api/v1/tables/{tid}")).await;
    assert_eq!(names(&schema), ["名称", "金额", "状态", "数量", "备注"]);

    // Renames, by name or by id; name clashes and type changes refused.
    let amount = format!("{fields}/金额");
    let name = format!("{fields}/名称");
    admin
        .refused(PATCH, &amount, json!({"name": "名称"}), CONFLICT)
        .await;
    admin
        .refused(PATCH, &name, json!({"type": "integer"}), CONFLICT)
        .await;
    let amount_id = after["fields"][1]["id"].as_str().expect("id");
    let by_id = format!("{fields}/{amount_id}");
    let renamed = admin
        .ok(PATCH, &by_id, json!({"name": "合同金额"}), S::OK)
        .await;
    assert_eq!(names(&renamed)[1], "合同金额");
    let amounts = admin.column(&tid, "sort=id", "合同金额").await;
    assert_eq!(amounts, ["1.00", "2.00", "3.00"]);
    let nowhere = format!("{fields}/没有");
    admin
        .refused(PATCH, &nowhere, json!({"name": "x"}), NOT_FOUND)
        .await;

    // Choices in use stay; unused ones may go.
    let state = format!("{fields}/状态");
    let only_old = json!({"default": null, "choices": [{"name": "旧"}]});
    let problem = admin.refused(PATCH, &state, only_old, CONFLICT).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains('新'),
        "{problem}"
    );
    let choices = json!({"choices": [{"name": "新"}, {"name": "关闭", "colour": "red"}]});
    let changed = admin.ok(PATCH, &state, choices, S::OK).await;
    let want = json!([{"name": "新", "colour": "grey"}, {"name": "关闭", "colour": "red"}]);
    assert_eq!(changed["fields"][2]["choices"], want);
    let dropped = json!({"fields": {"状态": "旧"}});
    admin.refused(PATCH, &third, dropped, INVALID).await;

    // Unique only when the values already are.
    let problem = admin
        .refused(PATCH, &name, json!({"unique": true}), INVALID)
        .await;
    assert_eq!(problem["field"], "名称");
    let schema = admin.get(&format!("/api/v1/tables/{tid}")).await;
    assert_eq!(schema["fields"][0]["unique"], false);
    admin
        .ok(PATCH, &third, json!({"fields": {"名称": "c"}}), S::OK)
        .await;
    let unique = admin.ok(PATCH, &name, json!({"unique": true}), S::OK).await;
    assert_eq!(unique["fields"][0]["unique"], true);
    let twin = json!({"fields": {"名称": "b"}});
    let problem = admin.refused(POST, &records(&tid), twin, INVALID).await;
    assert_eq!(problem["field"], "名称");

    // Order: every field once, by name or id.
    let order = format!("/api/v1/tables/{tid}/field-order");
    let reversed = json!({"fields": ["备注", "数量", "状态", amount_id, "名称"]});
    let reordered = admin.ok(PUT, &order, reversed, S::OK).await;
    assert_eq!(
        names(&reordered),
        ["备注", "数量", "状态", "合同金额", "名称"]
    );
    admin
        .refused(PUT, &order, json!({"fields": ["名称"]}), INVALID)
        .await;
    let unknown = json!({"fields": ["名称", "没有"]});
    let problem = admin.refused(PUT, &order, unknown, INVALID).await;
    assert_eq!(problem["field"], "没有");

    // Deleting a field drops its data; filters on it are refused.
    let count = format!("{fields}/数量");
    admin.ok(DELETE, &count, NONE, S::NO_CONTENT).await;
    admin.refused(DELETE, &count, NONE, NOT_FOUND).await;
    let schema = admin.get(&format!("/api/v1/tables/{tid}")).await;
    assert_eq!(names(&schema), ["备注", "状态", "合同金额", "名称"]);
    let listed = admin.get(&records(&tid)).await;
    let first = listed["records"][0]["fields"].as_object().expect("fields");
    assert_eq!(first.len(), 4, "{listed}");
    assert!(!first.contains_key("数量"));
    let filtered = format!("{}?filter=数量%20%3D%200", records(&tid));
    let problem = admin
        .refused(GET, &filtered, NONE, (S::BAD_REQUEST, "invalid_query"))
        .await;
    assert_eq!(problem["field"], "filter");
    assert_eq!(
        problem["detail"],
        "filter: 数量: no such field in this table"
    );
    server.stop().await;
}

/// `at` (RFC 3339, UTC) plus `days`, in the same form.
fn plus_days(at: &str, days: i64) -> String {
    let (date, time) = at.split_once('T').expect("date and time");
    let parts: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().expect("number"))
        .collect();
    let (y, m, d) = (parts[0], parts[1], parts[2]);
    // Days from the civil date and back (H. Hinnant's algorithms).
    let y0 = if m <= 2 { y - 1 } else { y };
    let (era, yoe) = (y0.div_euclid(400), y0.rem_euclid(400));
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let z = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy + days;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{time}")
}

async fn the_recycle_bin_keeps_apps_and_tables_for_thirty_days(backend: common::Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "bin").await;
    let admin = Api::new(&server, &t.admin);
    assert_eq!(
        plus_days("2024-02-15T23:59:59.999Z", 30),
        "2024-03-16T23:59:59.999Z"
    );
    assert_eq!(
        plus_days("2026-12-20T00:00:00.000Z", 30),
        "2027-01-19T00:00:00.000Z"
    );
    let (a, b) = (admin.app("甲应用").await, admin.app("乙应用").await);
    let text = json!([{"name": "名称", "type": "text"}]);
    let customers = id(&admin.table(&a, "客户", text).await);
    let link = json!([{"name": "客户", "type": "link", "table": customers}]);
    let orders = id(&admin.table(&a, "订单", link).await);
    let many = json!([{"name": "客户", "type": "link", "table": customers, "multiple": true}]);
    let contracts = id(&admin.table(&b, "合同", many).await);
    let customer = admin
        .create(&records(&customers), json!({"fields": {"名称": "华为"}}))
        .await;
    let order = json!({"fields": {"客户": customer["id"]}});
    admin.create(&records(&orders), order).await;

    // A table others link to stays.
    let customers_path = format!("/api/v1/tables/{customers}");
    let problem = admin.refused(DELETE, &customers_path, NONE, CONFLICT).await;
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("订单.客户") && detail.contains("合同.客户"),
        "{problem}"
    );

    // A deleted table leaves its app for the bin.
    let orders_path = format!("/api/v1/tables/{orders}");
    admin.ok(DELETE, &orders_path, NONE, S::NO_CONTENT).await;
    admin.refused(GET, &orders_path, NONE, NOT_FOUND).await;
    admin.refused(GET, &records(&orders), NONE, NOT_FOUND).await;
    admin.refused(DELETE, &orders_path, NONE, NOT_FOUND).await;
    let tables = admin.get(&format!("/api/v1/apps/{a}/tables")).await;
    assert_eq!(names(&json!({"fields": tables})), ["客户"]);
    let bin = admin.get("/api/v1/recycle-bin").await;
    assert_eq!(bin.as_array().map(Vec::len), Some(1), "{bin}");
    let entry = (
        &bin[0]["kind"],
        &bin[0]["id"],
        &bin[0]["name"],
        &bin[0]["app_id"],
    );
    assert_eq!(
        entry,
        (&json!("table"), &json!(orders), &json!("订单"), &json!(a))
    );
    let deleted_at = bin[0]["deleted_at"].as_str().expect("deleted_at");
    assert_eq!(bin[0]["purge_at"], plus_days(deleted_at, 30));

    // Restoring needs its name free.
    let stand_in = id(&admin.table(&a, "订单", json!([])).await);
    let restore = format!("{orders_path}/restore");
    admin.refused(POST, &restore, NONE, CONFLICT).await;
    let stand_in = format!("/api/v1/tables/{stand_in}");
    admin
        .ok(PATCH, &stand_in, json!({"name": "订单二"}), S::OK)
        .await;
    let back = admin.ok(POST, &restore, NONE, S::OK).await;
    assert_eq!(names(&back), ["客户"]);
    let rows = admin.get(&records(&orders)).await;
    assert_eq!(rows["records"][0]["fields"]["客户"], customer["id"]);
    assert_eq!(admin.get("/api/v1/recycle-bin").await, json!([]));
    admin.refused(POST, &restore, NONE, NOT_FOUND).await;

    // An app another app links into stays; once unlinked it goes whole.
    let app_a = format!("/api/v1/apps/{a}");
    admin.refused(DELETE, &app_a, NONE, CONFLICT).await;
    let link_field = format!("/api/v1/tables/{contracts}/fields/客户");
    admin.ok(DELETE, &link_field, NONE, S::NO_CONTENT).await;
    admin.ok(DELETE, &app_a, NONE, S::NO_CONTENT).await;
    admin.refused(GET, &app_a, NONE, NOT_FOUND).await;
    admin.refused(GET, &customers_path, NONE, NOT_FOUND).await;
    admin
        .refused(GET, &records(&customers), NONE, NOT_FOUND)
        .await;
    let apps = admin.get("/api/v1/apps").await;
    assert_eq!(apps.as_array().map(Vec::len), Some(1));
    let bin = admin.get("/api/v1/recycle-bin").await;
    assert_eq!(
        bin.as_array().map(Vec::len),
        Some(1),
        "its tables go with it: {bin}"
    );
    let entry = (
        &bin[0]["kind"],
        &bin[0]["id"],
        &bin[0]["name"],
        &bin[0]["app_id"],
    );
    assert_eq!(
        entry,
        (&json!("app"), &json!(a), &json!("甲应用"), &Value::Null)
    );
    let deleted_at = bin[0]["deleted_at"].as_str().expect("deleted_at");
    assert_eq!(bin[0]["purge_at"], plus_days(deleted_at, 30));
    let r = admin
        .send(POST, &format!("{customers_path}/restore"), NONE)
        .await;
    assert!(
        r.status().is_client_error(),
        "a table of a deleted app: {}",
        r.status()
    );
    let back = admin
        .ok(POST, &format!("{app_a}/restore"), NONE, S::OK)
        .await;
    assert_eq!(back["name"], "甲应用");
    let rows = admin.get(&records(&customers)).await;
    assert_eq!(rows["records"][0]["fields"]["名称"], "华为");

    // An app's name taken meanwhile blocks its restore.
    let app_b = format!("/api/v1/apps/{b}");
    admin.ok(DELETE, &app_b, NONE, S::NO_CONTENT).await;
    admin.app("乙应用").await;
    admin
        .refused(POST, &format!("{app_b}/restore"), NONE, CONFLICT)
        .await;
    server.stop().await;
}

async fn members_work_with_records_but_not_the_schema(backend: common::Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "roles").await;
    let admin = Api::new(&server, &t.admin);
    let m = member(&server, &t, "wang").await;
    let member = Api::new(&server, &m.cookie);
    let app = admin.app("项目").await;
    let fields = json!([{"name": "名称", "type": "text"}]);
    let table = id(&admin.table(&app, "任务", fields).await);
    let list = records(&table);
    let views = format!("/api/v1/tables/{table}/views");

    // Members read and write records and keep views of their own.
    for path in [
        "/api/v1/apps".to_owned(),
        format!("/api/v1/apps/{app}"),
        format!("/api/v1/apps/{app}/tables"),
        format!("/api/v1/tables/{table}"),
        list.clone(),
        views.clone(),
    ] {
        assert_eq!(member.get(&path).await, admin.get(&path).await, "{path}");
    }
    let mine = member
        .create(&list, json!({"fields": {"名称": "写"}}))
        .await;
    assert_eq!(mine["created_by"], m.id.as_str());
    let one = format!("{list}/{}", mine["id"]);
    let changed = json!({"fields": {"名称": "改"}});
    member.ok(PATCH, &one, changed, S::OK).await;
    let two = json!({"records": [{"fields": {"名称": "一"}}, {"fields": {"名称": "二"}}]});
    let batch = member.create(&format!("{list}/batch"), two).await;
    let ids: Vec<Value> = (0..2).map(|n| batch["records"][n]["id"].clone()).collect();
    let change = json!({"records": [{"id": ids[0], "fields": {"名称": "一改"}}]});
    let updated = member
        .ok(PATCH, &format!("{list}/batch"), change, S::OK)
        .await;
    assert_eq!(updated["records"][0]["updated_by"], m.id.as_str());
    let gone = json!({"records": [{"id": ids[1]}]});
    member
        .ok(POST, &format!("{list}/batch-delete"), gone, S::NO_CONTENT)
        .await;
    member.ok(DELETE, &one, NONE, S::NO_CONTENT).await;
    let history = member.get(&format!("{one}/history")).await;
    assert_eq!(history[2]["action"], "delete");
    assert_eq!(history[2]["actor"], m.id.as_str());
    let view = member.create(&views, json!({"name": "我的"})).await;
    assert_eq!(view["shared"], false);

    // Nothing of the schema, by session or by token.
    let schema_before = admin.get(&format!("/api/v1/tables/{table}")).await;
    let field = format!("/api/v1/tables/{table}/fields/名称");
    let forbidden: Vec<(Method, String, Value)> = vec![
        (POST, "/api/v1/apps".into(), json!({"name": "私"})),
        (PATCH, format!("/api/v1/apps/{app}"), json!({"name": "私"})),
        (DELETE, format!("/api/v1/apps/{app}"), NONE),
        (POST, format!("/api/v1/apps/{app}/restore"), NONE),
        (
            POST,
            format!("/api/v1/apps/{app}/tables"),
            json!({"name": "私"}),
        ),
        (
            PATCH,
            format!("/api/v1/tables/{table}"),
            json!({"name": "私"}),
        ),
        (DELETE, format!("/api/v1/tables/{table}"), NONE),
        (POST, format!("/api/v1/tables/{table}/restore"), NONE),
        (
            POST,
            format!("/api/v1/tables/{table}/fields"),
            json!({"name": "私", "type": "text"}),
        ),
        (PATCH, field.clone(), json!({"name": "私"})),
        (DELETE, field, NONE),
        (
            PUT,
            format!("/api/v1/tables/{table}/field-order"),
            json!({"fields": ["名称"]}),
        ),
        (GET, "/api/v1/recycle-bin".into(), NONE),
        (POST, views.clone(), json!({"name": "共享", "shared": true})),
    ];
    for (method, path, value) in &forbidden {
        member
            .refused(method.clone(), path, value.clone(), FORBIDDEN)
            .await;
    }

    // A personal access token works for records, not for the schema.
    let token = json!({"name": "导入脚本", "expires_in_days": 7, "password": STRONG_PASSWORD});
    let token = member.create("/api/v1/me/tokens", token).await;
    let token = token["secret"].as_str().expect("secret");
    let new = json!({"fields": {"名称": "脚本"}});
    let r = with_bearer(&server, POST, &list, token, Some(&new)).await;
    let scripted = body(r, S::CREATED).await;
    assert_eq!(scripted["created_by"], m.id.as_str());
    let query = format!("{list}?filter=%E5%90%8D%E7%A7%B0%20%3D%20'%E8%84%9A%E6%9C%AC'");
    let found = body(with_bearer(&server, GET, &query, token, None).await, S::OK).await;
    assert_eq!(found["records"].as_array().map(Vec::len), Some(1));
    assert_eq!(found["records"][0]["id"], scripted["id"]);
    let path = format!("{list}/{}", scripted["id"]);
    let change = json!({"fields": {"名称": "脚本二"}});
    let r = with_bearer(&server, PATCH, &path, token, Some(&change)).await;
    assert_eq!(body(r, S::OK).await["version"], 2);
    for (method, path, value) in &forbidden {
        let value = (!value.is_null()).then_some(value);
        let r = with_bearer(&server, method.clone(), path, token, value).await;
        expect_problem(r, S::FORBIDDEN, "forbidden").await;
    }
    let r = with_bearer(&server, DELETE, &path, token, None).await;
    assert_eq!(r.status(), S::NO_CONTENT);
    assert_eq!(
        admin.get(&format!("/api/v1/tables/{table}")).await,
        schema_before
    );
    let apps = admin.get("/api/v1/apps").await;
    assert_eq!(apps.as_array().map(Vec::len), Some(1));
    assert_eq!(admin.get("/api/v1/recycle-bin").await, json!([]));
    server.stop().await;
}
