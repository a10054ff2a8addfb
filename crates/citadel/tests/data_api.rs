//! The data model API over HTTPS, on SQLite and PostgreSQL: an app with
//! tables and fields, records written singly and in batches, listed with a
//! filter, sort and cursor, changed under If-Match, and their history; the
//! filter language, sorts, field selection and cursors checked against an
//! oracle; query parameters refused naming themselves. Saved views are in
//! data_views.rs.

mod common;
mod data_support;
mod identity_support;
mod listing_support;

use common::{Backend, TestServer, expect_problem};
use data_support::Api;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn body(r: reqwest::Response, status: StatusCode) -> Value {
    let got = r.status();
    let value: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{value}");
    value
}

async fn crm_flow(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let admin = server.tenant_admin(&op, "crm").await;

    let app = body(
        server
            .post("/api/v1/apps", Some(&admin), &json!({"name": "客户管理"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let app_id = app["id"].as_str().expect("id");
    let table = body(
        server
            .post(
                &format!("/api/v1/apps/{app_id}/tables"),
                Some(&admin),
                &json!({"name": "客户", "fields": [
                    {"name": "名称", "type": "text", "required": true, "unique": true},
                    {"name": "金额", "type": "currency", "filterable": true},
                    {"name": "状态", "type": "single_select", "default": "新",
                     "choices": [{"name": "新"}, {"name": "成交", "colour": "green"}]},
                    {"name": "身份证号", "type": "resident_id"},
                ]}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let table_id = table["id"].as_str().expect("id").to_owned();
    assert_eq!(table["fields"].as_array().map(Vec::len), Some(4));
    let records = format!("/api/v1/tables/{table_id}/records");

    let batch: Vec<Value> = (1..=60)
        .map(|n| {
            json!({"fields": {"名称": format!("客户{n:02}"), "金额": n * 10,
            "状态": if n % 2 == 0 { "成交" } else { "新" }}})
        })
        .collect();
    let created = body(
        server
            .post(
                &format!("{records}/batch"),
                Some(&admin),
                &json!({"records": batch}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["records"].as_array().map(Vec::len), Some(60));
    assert_eq!(created["records"][0]["fields"]["金额"], "10.00");

    // A bad record anywhere in a batch refuses the batch, naming it.
    let r = server
        .post(
            &format!("{records}/batch"),
            Some(&admin),
            &json!({"records": [{"fields": {"名称": "甲"}}, {"fields": {"名称": "乙", "身份证号": "110105194912310021"}}]}),
        )
        .await;
    let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_field").await;
    assert_eq!(problem["field"], "records[1].身份证号", "{problem}");

    // Filter, sort, cursor pages.
    let mut seen = Vec::new();
    let mut url = format!("{records}?filter=状态%20%3D%20'成交'&sort=-金额&limit=7&count=true");
    loop {
        let page = body(server.get(&url, Some(&admin)).await, StatusCode::OK).await;
        if seen.is_empty() {
            assert_eq!(page["total"], 30);
        } else {
            assert_eq!(page["total"], Value::Null, "counted only on request");
        }
        for r in page["records"].as_array().expect("records") {
            seen.push(r["fields"]["金额"].as_str().expect("amount").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => {
                url = format!("{records}?filter=状态%20%3D%20'成交'&sort=-金额&limit=7&cursor={c}")
            }
            None => break,
        }
    }
    let expected: Vec<String> = (1..=30).rev().map(|n| format!("{}.00", n * 20)).collect();
    assert_eq!(seen, expected);

    // If-Match: a stale version changes nothing.
    let first = created["records"][0]["id"].as_i64().expect("id");
    let one = format!("{records}/{first}");
    let r = server.get(&one, Some(&admin)).await;
    assert_eq!(r.headers()["etag"], "\"1\"");
    let mut patch = server
        .client
        .request(Method::PATCH, server.url(&one))
        .header("cookie", &admin)
        .header("x-csrf-token", common::csrf_for(&admin).expect("csrf"))
        .header("if-match", "\"1\"")
        .json(&json!({"fields": {"金额": "99.5"}}))
        .send()
        .await
        .expect("patch");
    assert_eq!(patch.status(), StatusCode::OK);
    assert_eq!(patch.headers()["etag"], "\"2\"");
    patch = server
        .client
        .request(Method::PATCH, server.url(&one))
        .header("cookie", &admin)
        .header("x-csrf-token", common::csrf_for(&admin).expect("csrf"))
        .header("if-match", "\"1\"")
        .json(&json!({"fields": {"金额": "1"}}))
        .send()
        .await
        .expect("patch");
    expect_problem(patch, StatusCode::PRECONDITION_FAILED, "version_mismatch").await;
    let now = body(server.get(&one, Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(now["fields"]["金额"], "99.50");
    let history = body(
        server.get(&format!("{one}/history"), Some(&admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(history[1]["changes"]["金额"], json!(["10.00", "99.50"]));
    server.stop().await;
}

#[tokio::test]
async fn crm_flow_on_sqlite() {
    crm_flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn crm_flow_on_postgres() {
    crm_flow(Backend::Postgres).await;
}

crate::on_both_backends!(
    the_filter_language_sorts_fields_and_cursors_match_an_oracle,
    contains_ignores_ascii_case_alike,
);

/// Today in the tenant's zone (+08:00), as days since 1970-01-01.
fn today() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let secs = i64::try_from(now.expect("after 1970").as_secs()).expect("seconds");
    (secs + 8 * 3600).div_euclid(86_400)
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (H. Hinnant's algorithm).
fn date(days: i64) -> String {
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// One seeded record, as the oracle sees it.
struct Row {
    name: String,
    /// In fen (0.01 yuan).
    amount: Option<i64>,
    count: i64,
    tags: Vec<&'static str>,
    /// Days from today.
    day: i64,
    /// Days from today to this week's Monday (the same for every row).
    monday: i64,
    note: Option<String>,
    state: &'static str,
}

impl Row {
    fn note_has(&self, text: &str) -> bool {
        self.note
            .as_deref()
            .is_some_and(|n| n.to_lowercase().contains(text))
    }

    fn this_week(&self) -> bool {
        (self.monday..self.monday + 7).contains(&self.day)
    }

    fn amount_in(&self, low: i64, high: i64) -> bool {
        self.amount.is_some_and(|a| (low..=high).contains(&a))
    }
}

fn seed_rows(monday: i64) -> Vec<Row> {
    let notes = |n: i64| match n % 4 {
        0 => None,
        1 => Some(format!("打折 50% 第{n}")),
        2 => Some(format!("ABC 客户 {n}")),
        _ => Some(format!("abc-{n}")),
    };
    let tags = |n: i64| match n % 3 {
        0 => vec!["红"],
        1 => vec!["绿", "蓝"],
        _ => vec![],
    };
    let states = ["新", "跟进中", "成交"];
    (0..24_i64)
        .map(|n| Row {
            name: format!("客户{n:02}"),
            amount: (n % 7 != 3).then_some((n % 5) * 10_000 + n),
            count: n % 4,
            tags: tags(n),
            day: n - 12,
            monday,
            note: notes(n),
            state: states[usize::try_from(n % 3).expect("index")],
        })
        .collect()
}

/// `filter => predicate` pairs; kept out of rustfmt's way.
macro_rules! cases {
    ($($filter:expr => $predicate:expr),* $(,)?) => {{
        fn case(p: impl Fn(&Row) -> bool + 'static) -> Box<dyn Fn(&Row) -> bool> {
            Box::new(p)
        }
        vec![$(($filter, case($predicate))),*]
    }};
}

async fn the_filter_language_sorts_fields_and_cursors_match_an_oracle(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let api = Api {
        server: &server,
        cookie: server.tenant_admin(&op, "lists").await,
    };
    let t0 = today();
    let monday = -(t0 + 3).rem_euclid(7);
    let rows = seed_rows(monday);
    let choices = |names: &[&str]| names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>();
    let fields = json!([
        {"name": "名称", "type": "text", "unique": true},
        {"name": "金额", "type": "currency"},
        {"name": "数量", "type": "integer", "filterable": true},
        {"name": "标签", "type": "multi_select", "choices": choices(&["红", "绿", "蓝"])},
        {"name": "日期", "type": "date"},
        {"name": "时间", "type": "date_time"},
        {"name": "备注", "type": "text"},
        {"name": "状态", "type": "single_select", "choices": choices(&["新", "跟进中", "成交"])},
    ]);
    let yuan = |fen: i64| format!("{}.{:02}", fen / 100, fen % 100);
    let records: Vec<Value> = rows
        .iter()
        .map(|r| {
            let (day, noon) = (date(t0 + r.day), format!("{} 12:00", date(t0 + r.day)));
            json!({"fields": {"名称": r.name, "金额": r.amount.map(yuan), "数量": r.count,
                "标签": r.tags, "日期": day, "时间": noon, "备注": r.note, "状态": r.state}})
        })
        .collect();
    let table = api.table("列表", fields, records).await;

    // Conditions, combined, against the same predicates in Rust.
    let dates = format!("日期 between '{}' and '{}'", date(t0 - 5), date(t0 + 2));
    let cases = cases![
        "状态 = '成交' and 数量 >= 2" => |r| r.state == "成交" && r.count >= 2,
        "状态 = '新' OR 金额 > 300" => |r| r.state == "新" || r.amount > Some(30_000),
        "not 状态 = '新'" => |r| r.state != "新",
        "NOT (状态 = '新' or 数量 = 0)" => |r| r.state != "新" && r.count != 0,
        "状态 = '新' or 状态 = '成交' and 数量 = 1" => |r| r.state == "新" || (r.state == "成交" && r.count == 1),
        "(状态 = '新' or 状态 = '成交') and 数量 = 1" => |r| r.state != "跟进中" && r.count == 1,
        "金额 != 100.01" => |r| r.amount != Some(10_001),
        "金额 <> 0" => |r| r.amount != Some(0),
        "金额 < 200" => |r| r.amount.is_some_and(|a| a < 20_000),
        "金额 <= 200.02" => |r| r.amount.is_some_and(|a| a <= 20_002),
        "金额 > 200" => |r| r.amount.is_some_and(|a| a > 20_000),
        "金额≥200.07" => |r| r.amount.is_some_and(|a| a >= 20_007),
        "金额 between 100 and 300.13" => |r| r.amount_in(10_000, 30_013),
        "金额 not between 100 and 300" => |r| !r.amount_in(10_000, 30_000),
        "金额 is empty" => |r| r.amount.is_none(),
        "备注 contains 'abc'" => |r| r.note_has("abc"),
        "备注 contains '50%'" => |r| r.note_has("50%"),
        "备注 contains '_'" => |r| r.note_has("_"),
        "备注 not contains '客户'" => |r| !r.note_has("客户"),
        "名称 starts with '客户1'" => |r| r.name.starts_with("客户1"),
        "备注 starts with 'abc'" => |r| r.note.as_deref().is_some_and(|n| n.to_lowercase().starts_with("abc")),
        "数量 in (0, 3)" => |r| [0, 3].contains(&r.count),
        "数量 not in (0, 3)" => |r| ![0, 3].contains(&r.count),
        "状态 in ('新', '成交')" => |r| r.state != "跟进中",
        "备注 is empty" => |r| r.note.is_none(),
        "备注 is not empty" => |r| r.note.is_some(),
        "标签 is empty" => |r| r.tags.is_empty(),
        "标签 = '红'" => |r| r.tags.contains(&"红"),
        "标签 != '红'" => |r| !r.tags.contains(&"红"),
        "标签 contains '绿'" => |r| r.tags.contains(&"绿"),
        "标签 in ('红', '蓝')" => |r| r.tags.iter().any(|t| ["红", "蓝"].contains(t)),
        dates.as_str() => |r| (-5..=2).contains(&r.day),
        "日期 = today" => |r| r.day == 0,
        "日期 = yesterday" => |r| r.day == -1,
        "日期 < today" => |r| r.day < 0,
        "日期 <= today" => |r| r.day <= 0,
        "日期 > tomorrow" => |r| r.day > 1,
        "日期 >= today" => |r| r.day >= 0,
        "日期 != today" => |r| r.day != 0,
        "日期 = this_week" => Row::this_week,
        "日期 = last_week" => |r| (r.monday - 7..r.monday).contains(&r.day),
        "日期 = last 7 days" => |r| (-6..=0).contains(&r.day),
        "日期 = next 3 days" => |r| (0..=2).contains(&r.day),
        "日期 between last 3 days and tomorrow" => |r| (-2..=1).contains(&r.day),
        "时间 = today" => |r| r.day == 0,
        "时间 < today" => |r| r.day < 0,
        "时间 <= today" => |r| r.day <= 0,
        "时间 > today" => |r| r.day > 0,
        "时间 = last 3 days" => |r| (-2..=0).contains(&r.day),
        "时间 = this_week and 状态 = '新'" => |r| r.this_week() && r.state == "新",
    ];
    let mut wrong = Vec::new();
    for (filter, predicate) in &cases {
        let got = api
            .column(&table, &[("filter", filter), ("limit", "1000")], "名称")
            .await;
        let want: Vec<Value> = rows
            .iter()
            .filter(|r| predicate(r))
            .map(|r| json!(r.name))
            .collect();
        if got != want {
            wrong.push(format!("{filter}: got {got:?}, want {want:?}"));
        }
        let counted = [("filter", *filter), ("count", "true"), ("limit", "2")];
        assert_eq!(
            api.list(&table, &counted).await["total"],
            want.len(),
            "count of {filter}"
        );
    }
    assert!(wrong.is_empty(), "{wrong:#?}");

    // Sorts on several keys with ties; empty values first ascending.
    let names = |rows: Vec<&Row>| rows.iter().map(|r| json!(r.name)).collect::<Vec<_>>();
    let mut sorted: Vec<&Row> = rows.iter().collect();
    let down = |r: &Row| std::cmp::Reverse(r.amount.unwrap_or(i64::MIN));
    sorted.sort_by(|a, b| (a.state, down(a), &a.name).cmp(&(b.state, down(b), &b.name)));
    let query = [("sort", "状态,-金额,名称"), ("limit", "1000")];
    assert_eq!(api.column(&table, &query, "名称").await, names(sorted));
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by_key(|r| (r.count, r.amount));
    let query = [("sort", " 数量 , 金额"), ("limit", "1000")];
    assert_eq!(api.column(&table, &query, "名称").await, names(sorted));

    // Field selection: the fields asked for; system fields always.
    let page = api
        .list(&table, &[("fields", "金额,名称,id"), ("limit", "1")])
        .await;
    let record = &page["records"][0];
    assert_eq!(record["fields"], json!({"名称": "客户00", "金额": "0.00"}));
    assert!(record["id"].is_i64() && record["version"] == 1 && record["created_at"].is_string());

    // A cursor walk over several pages is the unpaged listing.
    for sort in [
        "-金额,名称",
        "金额",
        "状态,-时间",
        "-备注",
        "id",
        "-updated_at",
    ] {
        let all = api
            .column(&table, &[("sort", sort), ("limit", "1000")], "名称")
            .await;
        let (mut walked, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            let mut query = vec![("sort", sort), ("limit", "3")];
            query.extend(cursor.as_deref().map(|c| ("cursor", c)));
            let page = api.list(&table, &query).await;
            pages += 1;
            let list = page["records"].as_array().expect("records");
            walked.extend(list.iter().map(|r| r["fields"]["名称"].clone()));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!((pages, &walked), (8, &all), "{sort}");
    }
    server.stop().await;
}

/// `contains` and `starts with` ignore the case of ASCII letters, and only
/// of those, on both backends alike (SQLite's LIKE folds ASCII; PostgreSQL
/// folds under the columns' "C" collation), and text sorts in byte order.
async fn contains_ignores_ascii_case_alike(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let api = Api {
        server: &server,
        cookie: server.tenant_admin(&op, "cases").await,
    };
    let names = ["Ärger", "ÉCOLE", "Straße", "plain", "apple", "Zebra"];
    let rows = names
        .iter()
        .map(|n| json!({"fields": {"名称": n}}))
        .collect();
    let table = api
        .table("大小写", json!([{"name": "名称", "type": "text"}]), rows)
        .await;
    for (filter, want) in [
        ("名称 contains 'PLAIN'", vec!["plain"]),
        ("名称 starts with 'STR'", vec!["Straße"]),
        ("名称 contains 'Är'", vec!["Ärger"]),
        ("名称 contains 'är'", vec![]),
        ("名称 starts with 'éc'", vec![]),
    ] {
        let got = api.column(&table, &[("filter", filter)], "名称").await;
        assert_eq!(got, want, "{filter}");
    }
    let sorted = api.column(&table, &[("sort", "名称")], "名称").await;
    assert_eq!(
        sorted,
        ["Straße", "Zebra", "apple", "plain", "Ärger", "ÉCOLE"]
    );
    server.stop().await;
}
