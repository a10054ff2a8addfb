//! Records over HTTPS on SQLite and PostgreSQL: every field type in and
//! out in its normalised form; bad values and bad listing parameters
//! refused naming the field with nothing written; batches all or nothing;
//! If-Match, ETags, and history that outlives the record.

mod common;
mod data_support;
mod identity_support;

use common::{TestServer, expect_problem};
use data_support::{Api, id, records};
use identity_support::{body, me, tenant};
use reqwest::{Method, Response, StatusCode as S};
use serde_json::{Value, json};

crate::on_both_backends!(
    every_field_type_round_trips_normalised,
    bad_values_are_refused_naming_the_field_and_nothing_is_written,
    batches_are_all_or_nothing_under_versions_and_history_survives_deletion,
    listing_parameters_are_refused_naming_themselves,
    deleting_a_linked_record_clears_links_under_a_new_version,
);

const POST: Method = Method::POST;
const PATCH: Method = Method::PATCH;
const DELETE: Method = Method::DELETE;
/// No request body.
const NONE: Value = Value::Null;
const NOT_FOUND: (S, &str) = (S::NOT_FOUND, "not_found");
const STALE: (S, &str) = (S::PRECONDITION_FAILED, "version_mismatch");
const INVALID: (S, &str) = (S::BAD_REQUEST, "invalid_field");
const BATCH: (S, &str) = (S::BAD_REQUEST, "invalid_batch");

impl Api<'_> {
    /// A table with `fields` in a new app `app`; returns the table's id.
    async fn table(&self, app: &str, name: &str, fields: Value) -> String {
        let app = self.create("/api/v1/apps", json!({"name": app})).await;
        let path = format!("/api/v1/apps/{}/tables", app["id"].as_str().expect("id"));
        let table = json!({"name": name, "fields": fields});
        id(&self.create(&path, table).await)
    }

    /// Every record of a table, in id order.
    async fn all(&self, table: &str) -> Vec<Value> {
        let page = self.get(&format!("{}?limit=1000", records(table))).await;
        page["records"].as_array().expect("records").clone()
    }

    /// Lists records with `query`, every byte percent-encoded.
    async fn list(&self, table: &str, query: &[(&str, &str)]) -> Response {
        let mut path = format!("{}?", records(table));
        for (key, value) in query {
            let value: String = value.bytes().map(|b| format!("%{b:02X}")).collect();
            path.push_str(&format!("{key}={value}&"));
        }
        self.server.get(&path, Some(&self.cookie)).await
    }
}

fn etag(r: &Response) -> String {
    r.headers()["etag"].to_str().expect("etag").to_owned()
}

async fn every_field_type_round_trips_normalised(backend: common::Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "types").await;
    let admin = Api::new(&server, &t.admin);
    let admin_id = me(&server, &t.admin).await["user"]["id"].clone();
    let department = admin
        .create("/api/v1/departments", json!({"name": "研发部"}))
        .await;
    let department = id(&department);
    let target = admin
        .table("目标", "目标", json!([{"name": "名称", "type": "text"}]))
        .await;
    let three = json!({"records": [{"fields": {"名称": "一"}}, {"fields": {"名称": "二"}},
        {"fields": {"名称": "三"}}]});
    let batch = admin
        .create(&format!("{}/batch", records(&target)), three)
        .await;
    let ids: Vec<i64> = (0..3)
        .map(|n| batch["records"][n]["id"].as_i64().expect("id"))
        .collect();
    let (t1, t2, t3) = (ids[0], ids[1], ids[2]);

    let fields = json!([
        {"name": "文本", "type": "text"}, {"name": "长文本", "type": "long_text"},
        {"name": "整数", "type": "integer"},
        {"name": "小数", "type": "decimal", "precision": 6, "scale": 3},
        {"name": "金额", "type": "currency"},
        {"name": "美元", "type": "currency", "currency": "USD", "scale": 0},
        {"name": "比例", "type": "percent", "scale": 1}, {"name": "布尔", "type": "boolean"},
        {"name": "日期", "type": "date"}, {"name": "时间", "type": "date_time"},
        {"name": "状态", "type": "single_select", "choices": [{"name": "新"}, {"name": "旧", "colour": "#00ff00"}]},
        {"name": "标签", "type": "multi_select", "choices": [{"name": "a"}, {"name": "b"}, {"name": "c"}]},
        {"name": "邮箱", "type": "email"}, {"name": "网址", "type": "url"},
        {"name": "手机", "type": "mobile_phone"}, {"name": "座机", "type": "landline"},
        {"name": "负责人", "type": "user"}, {"name": "部门", "type": "department"},
        {"name": "客户", "type": "link", "table": target},
        {"name": "相关", "type": "link", "table": target, "multiple": true},
        {"name": "编号", "type": "auto_number"}, {"name": "身份证", "type": "resident_id"},
        {"name": "银行卡", "type": "bank_card"}, {"name": "信用代码", "type": "social_credit_code"},
    ]);
    let table = admin.table("全类型", "样本", fields).await;
    let schema = admin.get(&format!("/api/v1/tables/{table}")).await;
    let fields = schema["fields"].as_array().expect("fields");
    assert_eq!(fields.len(), 24);
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .expect("field")
            .clone()
    };
    // The declarations come back with their defaults filled in.
    for (name, key, value) in [
        ("小数", "precision", json!(6)),
        ("小数", "scale", json!(3)),
        ("金额", "currency", json!("CNY")),
        ("金额", "scale", json!(2)),
        ("美元", "currency", json!("USD")),
        ("客户", "table", json!(target)),
        ("客户", "multiple", json!(false)),
        ("客户", "filterable", json!(true)),
        ("相关", "multiple", json!(true)),
        ("信用代码", "position", json!(24)),
        ("编号", "type", json!("auto_number")),
    ] {
        assert_eq!(field(name)[key], value, "{name}.{key}");
    }
    assert_eq!(field("状态")["choices"][0]["colour"], "grey");
    assert_eq!(field("状态")["choices"][1]["colour"], "#00ff00");

    let input = json!({"fields": {
        "文本": "你好 世界", "长文本": "第一行\n第二行", "整数": "42", "小数": 12.5,
        "金额": "1234.5", "美元": 7, "比例": "12.5", "布尔": true, "日期": " 2026-11-22 ",
        "时间": "2026-11-22 09:30", "状态": "旧", "标签": ["b", "a", "b"],
        "邮箱": " Zhang.San@Example.COM ", "网址": "HTTPS://example.com/路径?q=1",
        "手机": "+86 138 1234 5678", "座机": "(010)62345678", "负责人": admin_id,
        "部门": department, "客户": t1, "相关": [t3, t1, t3],
        "身份证": "11010519491231002x", "银行卡": "4111 1111-1111 1111",
        "信用代码": "91350100m000100y43",
    }});
    let expected = json!({
        "文本": "你好 世界", "长文本": "第一行\n第二行", "整数": 42, "小数": "12.500",
        "金额": "1234.50", "美元": "7", "比例": "12.5", "布尔": true, "日期": "2026-11-22",
        "时间": "2026-11-22T01:30:00.000Z", "状态": "旧", "标签": ["b", "a"],
        "邮箱": "Zhang.San@example.com", "网址": "https://example.com/路径?q=1",
        "手机": "13812345678", "座机": "010-62345678", "负责人": admin_id,
        "部门": department, "客户": t1, "相关": [t3, t1], "编号": 1,
        "身份证": "11010519491231002X", "银行卡": "4111111111111111",
        "信用代码": "91350100M000100Y43",
    });
    let r = admin.send(POST, &records(&table), input).await;
    assert_eq!(etag(&r), "\"1\"");
    let first = body(r, S::CREATED).await;
    assert_eq!(first["fields"], expected, "{first}");
    assert_eq!(first["version"], 1);
    assert_eq!(first["created_by"], admin_id);
    assert_eq!(first["updated_by"], admin_id);
    assert_eq!(first["updated_at"], first["created_at"]);
    let one = format!("{}/{}", records(&table), first["id"]);
    assert_eq!(admin.get(&one).await, first, "read as written");

    // Date-times with an offset keep the instant; empty inputs clear.
    let cleared = json!({"fields": {"时间": "2026-11-22T09:30:00+05:00", "文本": "",
        "标签": [], "相关": [], "邮箱": "  "}});
    let second = admin.create(&records(&table), cleared).await;
    assert_eq!(second["fields"]["时间"], "2026-11-22T04:30:00.000Z");
    assert_eq!(second["fields"]["编号"], 2, "numbered in order");
    for empty in ["文本", "标签", "邮箱", "整数", "客户", "布尔", "部门"] {
        assert_eq!(second["fields"][empty], NONE, "{empty}: {second}");
    }
    assert_eq!(second["fields"]["相关"], json!([]));
    let utc = json!({"fields": {"时间": "2026-11-22T09:30:00Z", "比例": -0.5}});
    let third = admin.create(&records(&table), utc).await;
    assert_eq!(third["fields"]["时间"], "2026-11-22T09:30:00.000Z");
    assert_eq!(third["fields"]["比例"], "-0.5");

    // A change writes only what it names, normalised the same way.
    let change = json!({"fields": {"小数": "-0.001", "标签": ["c"], "相关": [t2], "客户": null,
        "座机": "0571-87654321 ext. 123", "布尔": false}});
    let r = admin.send(PATCH, &one, change).await;
    assert_eq!(etag(&r), "\"2\"");
    let changed = body(r, S::OK).await;
    let mut want = expected.clone();
    want["小数"] = json!("-0.001");
    want["标签"] = json!(["c"]);
    want["相关"] = json!([t2]);
    want["客户"] = NONE;
    want["座机"] = json!("0571-87654321-123");
    want["布尔"] = json!(false);
    assert_eq!(changed["fields"], want);
    let listed = admin.all(&table).await;
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0], changed, "the listing shows the same record");
    server.stop().await;
}

async fn bad_values_are_refused_naming_the_field_and_nothing_is_written(backend: common::Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "strict").await;
    let admin = Api::new(&server, &t.admin);
    let text = json!([{"name": "名称", "type": "text"}]);
    let target = admin.table("目标", "目标", text).await;
    let fields = json!([
        {"name": "名称", "type": "text", "required": true, "unique": true},
        {"name": "编码", "type": "text", "pattern": "^[A-Z]{2}[0-9]{3}$"},
        {"name": "数量", "type": "integer", "min": 1, "max": 100},
        {"name": "价格", "type": "decimal", "precision": 5, "scale": 2},
        {"name": "状态", "type": "single_select", "choices": [{"name": "新"}, {"name": "旧"}]},
        {"name": "开始", "type": "date"}, {"name": "标志", "type": "boolean"},
        {"name": "号码", "type": "auto_number"}, {"name": "负责人", "type": "user"},
        {"name": "关联", "type": "link", "table": target},
    ]);
    let table = admin.table("校验", "客户", fields).await;
    let list = records(&table);
    let seed = admin.create(&list, json!({"fields": {"名称": "甲"}})).await;
    let seed_path = format!("{list}/{}", seed["id"]);
    let stranger = "01890000-0000-7000-8000-000000000000";

    for (fields, field) in [
        (json!({"名称": 5}), "名称"),
        (json!({"名称": "乙", "数量": "many"}), "数量"),
        (json!({"名称": "乙", "数量": 1.5}), "数量"),
        (json!({"名称": "乙", "标志": "yes"}), "标志"),
        (json!({"名称": "乙", "开始": "2026-13-01"}), "开始"),
        (json!({"名称": "乙", "价格": "1.234"}), "价格"),
        (json!({"名称": "乙", "价格": "1234.5"}), "价格"),
        (json!({"名称": "乙", "没有": 1}), "没有"),
        (json!({"名称": "乙", "id": 5}), "id"),
        (json!({"名称": "乙", "version": 9}), "version"),
        (json!({"名称": "乙", "created_by": stranger}), "created_by"),
        (json!({"名称": "乙", "号码": 7}), "号码"),
        (json!({"数量": 3}), "名称"),
        (json!({"名称": "   "}), "名称"),
        (json!({"名称": "甲"}), "名称"),
        (json!({"名称": "乙", "数量": 0}), "数量"),
        (json!({"名称": "乙", "数量": 101}), "数量"),
        (json!({"名称": "乙", "编码": "ab123"}), "编码"),
        (json!({"名称": "乙", "状态": "关闭"}), "状态"),
        (json!({"名称": "乙", "关联": 999}), "关联"),
        (json!({"名称": "乙", "关联": -1}), "关联"),
        (json!({"名称": "乙", "负责人": stranger}), "负责人"),
        (json!({"名称": "乙", "负责人": "nobody"}), "负责人"),
    ] {
        let input = json!({"fields": fields});
        let problem = admin.refused(POST, &list, input.clone(), INVALID).await;
        assert_eq!(problem["field"], field, "{input}: {problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with(&format!("{field}: ")), "{problem}");
        // Refused as a change too, where it would be one (the seed is 甲).
        if ![json!({"名称": "甲"}), json!({"数量": 3})].contains(&fields) {
            let problem = admin.refused(PATCH, &seed_path, input, INVALID).await;
            assert_eq!(problem["field"], field, "PATCH {fields}: {problem}");
        }
    }

    // Batches: a bad item is named by its index and field.
    let batch = format!("{list}/batch");
    let items = json!({"records": [{"fields": {"名称": "乙"}},
        {"fields": {"名称": "丙", "数量": 500}}]});
    let problem = admin.refused(POST, &batch, items, INVALID).await;
    assert_eq!(problem["field"], "records[1].数量");
    // Unique within the batch, and links, are checked by the database.
    for (items, field) in [
        (
            json!([{"fields": {"名称": "丙"}}, {"fields": {"名称": "丙"}}]),
            "名称",
        ),
        (
            json!([{"fields": {"名称": "丁"}}, {"fields": {"名称": "戊", "关联": 4242}}]),
            "关联",
        ),
    ] {
        let items = json!({"records": items});
        let problem = admin.refused(POST, &batch, items, INVALID).await;
        let named = problem["field"].as_str().unwrap_or_default();
        assert!(named.ends_with(field), "{problem}");
    }
    let too_many: Vec<Value> = (0..1001)
        .map(|n| json!({"fields": {"名称": format!("批{n}")}}))
        .collect();
    for items in [json!(too_many), json!([])] {
        let items = json!({"records": items});
        let problem = admin.refused(POST, &batch, items, BATCH).await;
        assert_eq!(problem["field"], "records");
    }
    let not_a_record = json!({"fields": ["名称"]});
    let invalid_body = (S::BAD_REQUEST, "invalid_body");
    admin.refused(POST, &list, not_a_record, invalid_body).await;
    // A 10 MB body is cut off at the limit.
    let huge = json!({"records": [{"fields": {"名称": "x".repeat(10 * 1024 * 1024)}}]});
    let too_large = (S::PAYLOAD_TOO_LARGE, "payload_too_large");
    admin.refused(POST, &batch, huge, too_large).await;

    // Nothing of it was written: one record, unchanged, with one revision.
    assert_eq!(admin.all(&table).await, std::slice::from_ref(&seed));
    let history = admin.get(&format!("{seed_path}/history")).await;
    assert_eq!(history.as_array().map(Vec::len), Some(1), "{history}");
    // Refused writes used up no auto number.
    let next = admin.create(&list, json!({"fields": {"名称": "乙"}})).await;
    assert_eq!(next["fields"]["号码"], 2, "{next}");
    server.stop().await;
}

async fn batches_are_all_or_nothing_under_versions_and_history_survives_deletion(
    backend: common::Backend,
) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "batch").await;
    let admin = Api::new(&server, &t.admin);
    let admin_id = me(&server, &t.admin).await["user"]["id"].clone();
    let fields = json!([{"name": "名称", "type": "text", "unique": true},
        {"name": "数量", "type": "integer"}]);
    let table = admin.table("任务", "任务", fields).await;
    let list = records(&table);
    let batch = format!("{list}/batch");
    let three = json!({"records": [{"fields": {"名称": "A", "数量": 1}},
        {"fields": {"名称": "B", "数量": 2}}, {"fields": {"名称": "C", "数量": 3}}]});
    let created = admin.create(&batch, three).await;
    let ids: Vec<i64> = (0..3)
        .map(|n| created["records"][n]["id"].as_i64().expect("id"))
        .collect();
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let path = |n: i64| format!("{list}/{n}");

    // Each change is a new ETag; a change that changes nothing is not.
    let mut tags = vec![etag(&server.get(&path(a), Some(&t.admin)).await)];
    for value in [5, 6, 6] {
        let change = json!({"fields": {"数量": value}});
        let r = admin.send(PATCH, &path(a), change).await;
        assert_eq!(r.status(), S::OK);
        tags.push(etag(&r));
    }
    assert_eq!(tags, ["\"1\"", "\"2\"", "\"3\"", "\"3\""]);

    // A batch update with versions: all or nothing.
    let items = json!({"records": [{"id": a, "version": 3, "fields": {"数量": 10}},
        {"id": b, "version": 1, "fields": {"数量": 20}}]});
    let ok = admin.ok(PATCH, &batch, items, S::OK).await;
    assert_eq!(ok["records"][0]["version"], 4);
    assert_eq!(ok["records"][1]["version"], 2);
    assert_eq!(ok["records"][1]["fields"]["数量"], 20);
    let snapshot = admin.all(&table).await;
    let every_a: Vec<Value> = (0..1001).map(|_| json!({"id": a, "fields": {}})).collect();
    for (items, want) in [
        (
            json!([{"id": a, "version": 4, "fields": {"数量": 11}},
                {"id": b, "version": 1, "fields": {"数量": 21}}]),
            STALE,
        ),
        (
            json!([{"id": a, "fields": {"数量": 12}}, {"id": b, "fields": {"数量": "x"}}]),
            INVALID,
        ),
        (
            json!([{"id": a, "fields": {"数量": 13}}, {"id": c, "fields": {"名称": "B"}}]),
            INVALID,
        ),
        (
            json!([{"id": a, "fields": {"数量": 14}}, {"id": 9999, "fields": {"数量": 1}}]),
            NOT_FOUND,
        ),
        (
            json!([{"id": a, "fields": {"数量": 15}}, {"id": 0, "fields": {}}]),
            INVALID,
        ),
        (json!([]), BATCH),
        (json!(every_a), BATCH),
    ] {
        let items = json!({"records": items});
        let problem = admin.refused(PATCH, &batch, items, want).await;
        if want == INVALID {
            assert!(problem["field"].is_string(), "{problem}");
        }
        assert_eq!(admin.all(&table).await, snapshot, "after {problem}");
    }

    // Batch delete: a missing record or a stale version deletes nothing.
    let delete_batch = format!("{list}/batch-delete");
    for (items, want) in [
        (json!([{"id": a}, {"id": 9999}]), NOT_FOUND),
        (
            json!([{"id": a, "version": 4}, {"id": b, "version": 1}]),
            STALE,
        ),
        (json!([]), BATCH),
    ] {
        let items = json!({"records": items});
        admin.refused(POST, &delete_batch, items, want).await;
        assert_eq!(admin.all(&table).await, snapshot);
    }

    // Delete and change with If-Match: malformed, stale, then right.
    for bad in ["abc", "W/\"1\"", "\"x\"", "1"] {
        let r = admin.send_if(DELETE, &path(c), Some(bad), NONE).await;
        let problem = expect_problem(r, S::BAD_REQUEST, "invalid_if_match").await;
        assert_eq!(problem["field"], "If-Match");
        let change = json!({"fields": {"数量": 99}});
        let r = admin.send_if(PATCH, &path(c), Some(bad), change).await;
        expect_problem(r, S::BAD_REQUEST, "invalid_if_match").await;
    }
    let r = admin.send_if(DELETE, &path(c), Some("\"2\""), NONE).await;
    expect_problem(r, STALE.0, STALE.1).await;
    assert_eq!(admin.all(&table).await, snapshot);
    let r = admin.send_if(DELETE, &path(c), Some("\"1\""), NONE).await;
    assert_eq!(r.status(), S::NO_CONTENT);
    admin.refused(Method::GET, &path(c), NONE, NOT_FOUND).await;
    admin.refused(DELETE, &path(c), NONE, NOT_FOUND).await;

    // The history of a deleted record stays readable.
    let history = admin.get(&format!("{}/history", path(c))).await;
    let actions: Vec<&Value> = (0..2).map(|n| &history[n]["action"]).collect();
    assert_eq!(actions, ["create", "delete"], "{history}");
    assert_eq!(history[1]["version"], 2);
    assert_eq!(history[1]["actor"], admin_id);
    assert_eq!(history[1]["changes"]["名称"], json!(["C", null]));
    assert_eq!(history[0]["changes"]["数量"], json!([null, 3]));

    // If-Match: * matches any version; a batch delete with versions works.
    let change = json!({"fields": {"数量": 21}});
    let r = admin.send_if(PATCH, &path(b), Some("*"), change).await;
    assert_eq!(etag(&r), "\"3\"");
    let both = json!({"records": [{"id": a, "version": 4}, {"id": b, "version": 3}]});
    admin.ok(POST, &delete_batch, both, S::NO_CONTENT).await;
    assert!(admin.all(&table).await.is_empty());
    let history = admin.get(&format!("{}/history", path(a))).await;
    let versions: Vec<&Value> = history
        .as_array()
        .expect("list")
        .iter()
        .map(|r| &r["version"])
        .collect();
    assert_eq!(versions, [1, 2, 3, 4, 5], "{history}");
    assert_eq!(history[1]["changes"]["数量"], json!([1, 5]));
    assert_eq!(history[4]["action"], "delete");
    // A record that never existed has no history.
    let never = format!("{}/history", path(4242));
    admin.refused(Method::GET, &never, NONE, NOT_FOUND).await;

    // `Prefer: return=minimal`: ids and versions only, the same records
    // written, and the preference said to be applied; for other
    // preferences the whole records.
    let minimal = [("prefer", "respond-async, return=minimal")];
    let two = json!({"records": [{"fields": {"名称": "D", "数量": 4}},
        {"fields": {"名称": "E", "数量": 5}}]});
    let r = admin.send_with(POST, &batch, &minimal, two).await;
    assert_eq!(r.headers()["preference-applied"], "return=minimal");
    let created = body(r, S::CREATED).await;
    let refs = created["records"].as_array().expect("records").clone();
    assert_eq!(refs.len(), 2, "{created}");
    for (n, item) in refs.iter().enumerate() {
        assert_eq!(item.as_object().map(|o| o.len()), Some(2), "{item}");
        assert_eq!(item["version"], 1);
        let stored = admin.get(&path(item["id"].as_i64().expect("id"))).await;
        assert_eq!(stored["fields"]["数量"], json!(4 + n), "{stored}");
    }
    let (d, e) = (refs[0]["id"].clone(), refs[1]["id"].clone());
    let change = json!({"records": [{"id": d, "version": 1, "fields": {"数量": 40}},
        {"id": e, "fields": {"数量": 50}}]});
    let changed = body(
        admin.send_with(PATCH, &batch, &minimal, change).await,
        S::OK,
    )
    .await;
    assert_eq!(
        changed,
        json!({"records": [{"id": d, "version": 2}, {"id": e, "version": 2}]})
    );
    let whole = [("prefer", "return=representation")];
    let change = json!({"records": [{"id": d, "fields": {"数量": 41}}]});
    let r = admin.send_with(PATCH, &batch, &whole, change).await;
    assert!(r.headers().get("preference-applied").is_none());
    let changed = body(r, S::OK).await;
    assert_eq!(changed["records"][0]["fields"]["数量"], 41, "{changed}");
    server.stop().await;
}

/// Each bad listing parameter is a 400 whose `field` names it (a filter
/// on an unknown field names that field); nothing is listed.
async fn listing_parameters_are_refused_naming_themselves(backend: common::Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let admin = Api::new(&server, &server.tenant_admin(&op, "queries").await);
    let fields = json!([{"name": "名称", "type": "text"}, {"name": "标签", "type": "multi_select",
        "choices": [{"name": "红"}]}, {"name": "说明", "type": "long_text"}]);
    let table = admin.table("查询", "表", fields).await;
    let rows: Vec<Value> = (0..3)
        .map(|n| json!({"fields": {"名称": format!("记录{n}")}}))
        .collect();
    let batch = format!("{}/batch", records(&table));
    admin.create(&batch, json!({"records": rows})).await;
    let page = body(
        admin
            .list(&table, &[("limit", "1"), ("sort", "名称")])
            .await,
        S::OK,
    )
    .await;
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let nest = |n: usize| format!("{}名称 = 'x'{}", "(".repeat(n), ")".repeat(n));
    let ten = body(admin.list(&table, &[("filter", &nest(10))]).await, S::OK).await;
    assert_eq!(ten["records"], json!([]), "ten levels are allowed");
    let deep = nest(11);
    let mut wrong = Vec::new();
    for (query, field) in [
        (vec![("filter", "名称 >")], "filter"),
        (vec![("filter", "名称 = 新")], "filter"),
        (vec![("filter", "(名称 = 'x'")], "filter"),
        (vec![("filter", "")], "filter"),
        (vec![("filter", deep.as_str())], "filter"),
        (vec![("filter", "没有 = 1")], "filter"),
        (vec![("filter", "名称 = 'x' and 标签 > '红'")], "filter"),
        (vec![("filter", "标签 = '紫'")], "filter"),
        (vec![("sort", "标签")], "sort"),
        (vec![("sort", "说明")], "sort"),
        (vec![("sort", "没有")], "sort"),
        (vec![("sort", "a,b,c,d,e,f")], "sort"),
        (vec![("fields", "没有")], "fields"),
        (vec![("cursor", "not-a-cursor")], "cursor"),
        (
            vec![("cursor", cursor.as_str()), ("sort", "-名称")],
            "cursor",
        ),
        (vec![("limit", "0")], "limit"),
        (vec![("limit", "1001")], "limit"),
        (vec![("limit", "ten")], "limit"),
        (vec![("surprise", "1")], "surprise"),
        (vec![("view", "nope")], "view"),
    ] {
        let r = admin.list(&table, &query).await;
        let status = r.status();
        let content_type = r.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(content_type, "application/problem+json", "{query:?}");
        let problem: Value = r.json().await.unwrap_or(NONE);
        assert_eq!(status, S::BAD_REQUEST, "{query:?}: {problem}");
        if problem["field"] != field {
            wrong.push(format!("{query:?}: {problem}"));
        }
    }
    let unknown = [("view", "01890000-0000-7000-8000-000000000000")];
    let r = admin.list(&table, &unknown).await;
    expect_problem(r, S::NOT_FOUND, "not_found").await;
    assert_eq!(admin.all(&table).await.len(), 3);
    assert!(
        wrong.is_empty(),
        "refused without naming the parameter: {wrong:#?}"
    );
    server.stop().await;
}

/// Deleting a record clears the single and multiple links to it. Those
/// records then read differently, so their version (the strong ETag) must
/// move on and their history say so.
async fn deleting_a_linked_record_clears_links_under_a_new_version(backend: common::Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "links").await;
    let admin = Api::new(&server, &t.admin);
    let text = json!([{"name": "名称", "type": "text"}]);
    let target = admin.table("目标", "目标", text).await;
    let gone = admin
        .create(&records(&target), json!({"fields": {"名称": "去"}}))
        .await;
    let fields = json!([{"name": "一", "type": "link", "table": target},
        {"name": "多", "type": "link", "table": target, "multiple": true}]);
    let table = admin.table("来源", "来源", fields).await;
    let linking = json!({"fields": {"一": gone["id"], "多": [gone["id"]]}});
    let before = admin.create(&records(&table), linking).await;
    let path = format!("{}/{}", records(&target), gone["id"]);
    admin.ok(DELETE, &path, NONE, S::NO_CONTENT).await;
    let after = admin.all(&table).await;
    assert_eq!(after[0]["fields"], json!({"一": null, "多": []}));
    assert_ne!(
        after[0]["version"], before["version"],
        "same ETag, other content"
    );
    let history = format!("{}/{}/history", records(&table), before["id"]);
    assert_eq!(admin.get(&history).await.as_array().map(Vec::len), Some(2));
    server.stop().await;
}
