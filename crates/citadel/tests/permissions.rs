//! Permission groups over HTTPS, on SQLite and PostgreSQL: a sales group
//! reaching its department's rows, with two hidden fields and one
//! read-only field; every path a hidden value could leave by (get, list,
//! export, history, filters, sorts, field lists, the table's definition)
//! checked; row scopes answering 404; explanations and previews.

mod common;
mod data_support;
mod identity_support;

use common::{Backend, TestServer};
use data_support::{Api, id, records};
use identity_support::{Member, Tenant, body, member, tenant};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The salary every record carries: it must never reach a sales member.
const SALARY: &str = "98765.43";
const ID_NUMBER: &str = "11010519491231002X";

struct World {
    tenant: Tenant,
    app: String,
    table: String,
    member_group: String,
    sales_group: String,
    alice: Member,
    bob: Member,
    carol: Member,
}

async fn department(api: &Api<'_>, name: &str, parent: Option<&str>) -> String {
    id(&api
        .create(
            "/api/v1/departments",
            json!({"name": name, "parent_id": parent}),
        )
        .await)
}

async fn place(api: &Api<'_>, user: &Member, department: &str) {
    api.ok(
        Method::PATCH,
        &format!("/api/v1/users/{}", user.id),
        json!({"department_id": department}),
        StatusCode::OK,
    )
    .await;
}

fn employee(name: &str) -> Value {
    json!({"fields": {"姓名": name, "工资": SALARY, "身份证": ID_NUMBER, "状态": "在职"}})
}

async fn world(server: &TestServer) -> World {
    let op = server.operator().await;
    let tenant = tenant(server, &op, "perm").await;
    let admin = Api::new(server, &tenant.admin);
    let app = id(&admin.create("/api/v1/apps", json!({"name": "人事"})).await);
    let table = id(&admin
        .create(
            &format!("/api/v1/apps/{app}/tables"),
            json!({"name": "员工", "fields": [
                {"name": "姓名", "type": "text", "filterable": true},
                {"name": "工资", "type": "currency", "filterable": true},
                {"name": "身份证", "type": "text"},
                {"name": "状态", "type": "text"},
            ]}),
        )
        .await);
    let sales = department(&admin, "销售部", None).await;
    let east = department(&admin, "华东", Some(&sales)).await;
    let alice = member(server, &tenant, "alice").await;
    let bob = member(server, &tenant, "bob").await;
    let carol = member(server, &tenant, "carol").await;
    place(&admin, &alice, &east).await;
    place(&admin, &bob, &sales).await;

    let groups = admin.get("/api/v1/groups").await;
    let builtin = |name: &str| {
        groups
            .as_array()
            .and_then(|all| all.iter().find(|g| g["builtin"] == name))
            .map(id)
            .expect("built-in group")
    };
    let member_group = builtin("member");
    assert_eq!(
        groups[0]["builtin"], "tenant_admin",
        "built-in groups come first"
    );
    // Members may do nothing until a group says otherwise.
    admin
        .ok(
            Method::PUT,
            &format!("/api/v1/groups/{member_group}"),
            json!({"name": "成员", "grants": {}}),
            StatusCode::OK,
        )
        .await;
    let fields = admin.get(&format!("/api/v1/tables/{table}")).await["fields"].clone();
    let field = |name: &str| {
        fields
            .as_array()
            .and_then(|all| all.iter().find(|f| f["name"] == name))
            .map(id)
            .expect("field")
    };
    let sales_group = id(&admin
        .create(
            "/api/v1/groups",
            json!({
                "name": "销售组",
                "members": [{"department": {"id": sales, "include_subdepartments": true}}],
                "grants": {"tables": {table.clone(): {
                    "operations": ["read", "create", "update", "export"],
                    "fields": {field("工资"): "hidden", field("身份证"): "hidden", field("状态"): "read_only"},
                    "rows": {"read": "my_department_tree", "update": "mine", "export": "my_department_tree"}
                }}}
            }),
        )
        .await);
    World {
        tenant,
        app,
        table,
        member_group,
        sales_group,
        alice,
        bob,
        carol,
    }
}

/// Changes a group's grants, keeping its name and members.
async fn regrant(admin: &Api<'_>, group: &str, edit: impl FnOnce(&mut Value)) {
    let path = format!("/api/v1/groups/{group}");
    let current = admin.get(&path).await;
    let mut grants = current["grants"].clone();
    edit(&mut grants);
    admin
        .ok(
            Method::PUT,
            &path,
            json!({"name": current["name"], "members": current["members"], "grants": grants}),
            StatusCode::OK,
        )
        .await;
}

fn names(page: &Value) -> Vec<String> {
    let mut names: Vec<String> = page["records"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|r| r["fields"]["姓名"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn assert_no_secret(text: &str, what: &str) {
    for secret in [SALARY, ID_NUMBER, "工资", "身份证"] {
        assert!(!text.contains(secret), "{what} leaks {secret}: {text}");
    }
}

async fn story(backend: Backend) {
    let server = TestServer::start(backend).await;
    let w = world(&server).await;
    let admin = Api::new(&server, &w.tenant.admin);
    let alice = Api::new(&server, &w.alice.cookie);
    let bob = Api::new(&server, &w.bob.cookie);
    let carol = Api::new(&server, &w.carol.cookie);
    let rec = records(&w.table);

    // The admin's record; alice writes two (hidden and read-only fields
    // refused by name), bob one; carol is in no group.
    let boss = admin.create(&rec, employee("老板")).await["id"].to_string();
    let refused = alice
        .refused(
            Method::POST,
            &rec,
            employee("甲"),
            (StatusCode::FORBIDDEN, "fields_not_writable"),
        )
        .await;
    let detail = refused["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("工资") && detail.contains("身份证") && detail.contains("状态"),
        "{detail}"
    );
    let a1 = alice.create(&rec, json!({"fields": {"姓名": "甲"}})).await;
    assert_no_secret(&a1.to_string(), "a created record");
    let a1 = a1["id"].to_string();
    alice.create(&rec, json!({"fields": {"姓名": "乙"}})).await;
    bob.create(&rec, json!({"fields": {"姓名": "丙"}})).await;
    carol
        .refused(
            Method::GET,
            &rec,
            Value::Null,
            (StatusCode::FORBIDDEN, "forbidden"),
        )
        .await;
    assert_eq!(carol.get("/api/v1/apps").await, json!([]));
    admin
        .ok(
            Method::PATCH,
            &format!("{rec}/{a1}"),
            json!({"fields": {"工资": SALARY, "身份证": ID_NUMBER}}),
            StatusCode::OK,
        )
        .await;

    // Rows: alice's department tree is 华东 (hers); bob's is 销售部 and 华东.
    let mine = alice.get(&rec).await;
    assert_eq!(names(&mine), ["乙", "甲"]);
    assert_no_secret(&mine.to_string(), "a list");
    assert_eq!(names(&bob.get(&rec).await), ["丙", "乙", "甲"]);
    assert_eq!(names(&admin.get(&rec).await), ["丙", "乙", "甲", "老板"]);
    alice
        .refused(
            Method::GET,
            &format!("{rec}/{boss}"),
            Value::Null,
            (StatusCode::NOT_FOUND, "not_found"),
        )
        .await;
    let got = alice.get(&format!("{rec}/{a1}")).await;
    assert_eq!(got["fields"]["姓名"], "甲");
    assert_no_secret(&got.to_string(), "a record");
    // Bob reads alice's record but may update only his own.
    bob.get(&format!("{rec}/{a1}")).await;
    bob.refused(
        Method::PATCH,
        &format!("{rec}/{a1}"),
        json!({"fields": {"姓名": "改"}}),
        (StatusCode::NOT_FOUND, "not_found"),
    )
    .await;
    alice
        .ok(
            Method::PATCH,
            &format!("{rec}/{a1}"),
            json!({"fields": {"姓名": "甲一"}}),
            StatusCode::OK,
        )
        .await;
    alice
        .refused(
            Method::DELETE,
            &format!("{rec}/{a1}"),
            Value::Null,
            (StatusCode::FORBIDDEN, "forbidden"),
        )
        .await;

    // Hidden fields cannot be probed by filter, sort or field list.
    for query in [
        "filter=工资%20%3E%200",
        "sort=-工资",
        "fields=工资",
        "filter=身份证%20is%20empty",
    ] {
        let r = alice
            .send(Method::GET, &format!("{rec}?{query}"), Value::Null)
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query}");
        let text = r.text().await.unwrap_or_default();
        assert!(
            !text.contains(SALARY) && !text.contains(ID_NUMBER),
            "{text}"
        );
    }
    // A shared view filtering and sorting on a hidden field: its
    // conditions are withheld, and using it is refused without a name.
    let view = admin
        .create(
            &format!("/api/v1/tables/{}/views", w.table),
            json!({"name": "高薪", "shared": true, "filter": "工资 > 1000", "sort": "-工资"}),
        )
        .await;
    let views = alice
        .get(&format!("/api/v1/tables/{}/views", w.table))
        .await;
    assert_no_secret(&views.to_string(), "views");
    assert_eq!(views[0]["filter"], "(on fields hidden from you)", "{views}");
    let r = alice
        .send(
            Method::GET,
            &format!("{rec}?view={}", id(&view)),
            Value::Null,
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_no_secret(&r.text().await.unwrap_or_default(), "a view's refusal");
    // History leaves out the hidden fields' changes.
    let history = alice.get(&format!("{rec}/{a1}/history")).await;
    assert_no_secret(&history.to_string(), "history");
    assert_eq!(history.as_array().map(Vec::len), Some(3));
    assert!(
        admin
            .get(&format!("{rec}/{a1}/history"))
            .await
            .to_string()
            .contains(SALARY)
    );
    // The table's definition and exports.
    let definition = alice.get(&format!("/api/v1/tables/{}", w.table)).await;
    assert_no_secret(&definition.to_string(), "the table definition");
    assert_eq!(definition["fields"].as_array().map(Vec::len), Some(2));
    let export = alice
        .send(
            Method::GET,
            &format!("/api/v1/tables/{}/export?format=csv", w.table),
            Value::Null,
        )
        .await;
    assert_eq!(export.status(), StatusCode::OK);
    let csv = export.text().await.unwrap_or_default();
    assert_no_secret(&csv, "an export");
    assert!(csv.contains("甲一") && !csv.contains("老板"), "{csv}");

    // Explain: why alice sees no salary and not the boss's record.
    let explained = admin
        .get(&format!(
            "/api/v1/authz/explain?user={}&operation=read&table={}&field=工资&record={boss}",
            w.alice.id, w.table
        ))
        .await;
    assert_eq!(explained["allowed"], true, "{explained}");
    assert_eq!(explained["field"]["rule"], "hidden");
    assert_eq!(explained["record_within_scope"], false);
    assert_eq!(explained["reachable_rows"], 2);
    let sales = explained["groups"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["name"] == "销售组"))
        .cloned()
        .unwrap_or_default();
    assert!(
        sales["membership"]
            .as_str()
            .is_some_and(|m| m.starts_with("department:")),
        "{sales}"
    );
    assert_eq!(sales["rows"], "my_department_tree");
    let denied = admin
        .get(&format!(
            "/api/v1/authz/explain?user={}&operation=delete&table={}",
            w.alice.id, w.table
        ))
        .await;
    assert_eq!(denied["allowed"], false);
    alice
        .refused(
            Method::GET,
            &format!(
                "/api/v1/authz/explain?user={}&operation=read&table={}",
                w.alice.id, w.table
            ),
            Value::Null,
            (StatusCode::FORBIDDEN, "forbidden"),
        )
        .await;

    // Preview: letting the member group read everything shows carol gaining
    // read on four rows, and alice and bob gaining nothing on fields.
    let preview = admin
        .ok(
            Method::POST,
            &format!("/api/v1/groups/{}/preview", w.member_group),
            json!({"name": "成员", "grants": {"all_apps": ["read"]}}),
            StatusCode::OK,
        )
        .await;
    let change = |login: &str| {
        preview["changes"]
            .as_array()
            .and_then(|all| all.iter().find(|c| c["login"] == login))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(change("carol")["gained"], json!(["read"]), "{preview}");
    assert_eq!(change("carol")["readable_rows_after"], 4);
    assert_eq!(
        change("alice")["fields_shown"],
        json!(["工资", "身份证"]),
        "{preview}"
    );
    assert_eq!(change("alice")["readable_rows_after"], 4);
    // Nothing was saved.
    carol
        .refused(
            Method::GET,
            &rec,
            Value::Null,
            (StatusCode::FORBIDDEN, "forbidden"),
        )
        .await;

    // A record can fail for a hidden field (required, no default): the
    // error does not name it.
    let secret = admin
        .create(
            &format!("/api/v1/apps/{}/tables", w.app),
            json!({"name": "机密", "fields": [
                {"name": "标题", "type": "text"},
                {"name": "口令密文", "type": "text", "required": true},
            ]}),
        )
        .await;
    let hidden = secret["fields"][1]["id"]
        .as_str()
        .expect("field")
        .to_owned();
    let secret = id(&secret);
    regrant(&admin, &w.sales_group, |grants| {
        grants["tables"][secret.as_str()] =
            json!({"operations": ["read", "create"], "fields": {hidden: "hidden"}});
    })
    .await;
    let r = alice
        .send(
            Method::POST,
            &records(&secret),
            json!({"fields": {"标题": "甲"}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let text = r.text().await.unwrap_or_default();
    assert!(
        !text.contains("口令密文") && text.contains("hidden from you"),
        "{text}"
    );

    // A schema manager retyping a field hidden from their reads learns
    // which records would not convert, but not their values.
    regrant(&admin, &w.sales_group, |grants| {
        grants["tables"][w.table.as_str()]["operations"] =
            json!(["read", "create", "update", "export", "manage_schema"]);
    })
    .await;
    let dry = alice
        .ok(
            Method::POST,
            &format!(
                "/api/v1/tables/{}/fields/工资/type-change?dry_run=true",
                w.table
            ),
            json!({"type": "integer"}),
            StatusCode::OK,
        )
        .await;
    assert!(dry["failed"].as_u64().is_some_and(|n| n > 0), "{dry}");
    assert!(!dry["failures"].to_string().contains(SALARY), "{dry}");
    assert_eq!(
        dry["failures"][0]["reason"], "the value does not convert to the new type",
        "{dry}"
    );

    // Built-in groups stay what they are; removing the sales group takes
    // its rights away at once.
    let groups = admin.get("/api/v1/groups").await;
    let admin_group = id(&groups[0]);
    admin
        .refused(
            Method::PUT,
            &format!("/api/v1/groups/{admin_group}"),
            json!({"name": "管理员", "grants": {"all_apps": ["read"]}}),
            (StatusCode::CONFLICT, "conflict"),
        )
        .await;
    admin
        .refused(
            Method::DELETE,
            &format!("/api/v1/groups/{admin_group}"),
            Value::Null,
            (StatusCode::CONFLICT, "conflict"),
        )
        .await;
    let r = admin
        .send(
            Method::DELETE,
            &format!("/api/v1/groups/{}", w.sales_group),
            Value::Null,
        )
        .await;
    body(r, StatusCode::NO_CONTENT).await;
    alice
        .refused(
            Method::GET,
            &rec,
            Value::Null,
            (StatusCode::FORBIDDEN, "forbidden"),
        )
        .await;
    server.stop().await;
}

#[tokio::test]
async fn permission_groups_on_sqlite() {
    story(Backend::Sqlite).await;
}

#[tokio::test]
async fn permission_groups_on_postgres() {
    story(Backend::Postgres).await;
}
