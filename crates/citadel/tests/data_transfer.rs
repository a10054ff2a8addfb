//! Import and export of records over HTTPS, on SQLite and PostgreSQL: CSV
//! with Chinese headers and a mapping, a dry run naming every bad row, an
//! all-or-nothing import, 20,000 rows at once, XLSX in, CSV and XLSX out
//! and back in again, and the limits.

mod common;

use std::time::Instant;

use common::{Backend, TestServer, csrf_for, expect_problem};
use reqwest::header::{CONTENT_TYPE, COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

async fn body(r: Response, status: StatusCode) -> Value {
    let got = r.status();
    let value: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{value}");
    value
}

struct Tenant {
    server: TestServer,
    admin: String,
    app: String,
}

impl Tenant {
    async fn start(backend: Backend) -> Self {
        let server = TestServer::start(backend).await;
        let op = server.operator().await;
        let admin = server.tenant_admin(&op, "shop").await;
        let app = body(
            server
                .post("/api/v1/apps", Some(&admin), &json!({"name": "销售"}))
                .await,
            StatusCode::CREATED,
        )
        .await;
        let app = app["id"].as_str().expect("app id").to_owned();
        Self { server, admin, app }
    }

    async fn table(&self, name: &str, fields: Value) -> String {
        let table = body(
            self.server
                .post(
                    &format!("/api/v1/apps/{}/tables", self.app),
                    Some(&self.admin),
                    &json!({"name": name, "fields": fields}),
                )
                .await,
            StatusCode::CREATED,
        )
        .await;
        table["id"].as_str().expect("table id").to_owned()
    }

    async fn create(&self, table: &str, records: Value) -> Value {
        body(
            self.server
                .post(
                    &format!("/api/v1/tables/{table}/records/batch"),
                    Some(&self.admin),
                    &json!({ "records": records }),
                )
                .await,
            StatusCode::CREATED,
        )
        .await
    }

    async fn import(
        &self,
        table: &str,
        query: &[(&str, &str)],
        content_type: &str,
        file: impl Into<reqwest::Body>,
    ) -> Response {
        self.server
            .client
            .post(self.server.url(&format!("/api/v1/tables/{table}/import")))
            .query(query)
            .header(COOKIE, &self.admin)
            .header("x-csrf-token", csrf_for(&self.admin).expect("csrf"))
            .header(CONTENT_TYPE, content_type)
            .body(file)
            .send()
            .await
            .expect("import request")
    }

    async fn count(&self, table: &str) -> i64 {
        let page = body(
            self.server
                .get(
                    &format!("/api/v1/tables/{table}/records?limit=1&count=true"),
                    Some(&self.admin),
                )
                .await,
            StatusCode::OK,
        )
        .await;
        page["total"].as_i64().expect("total")
    }

    /// Every record's fields, sorted by `sort`.
    async fn all(&self, table: &str, sort: &str) -> Vec<Value> {
        let page = body(
            self.server
                .get(
                    &format!("/api/v1/tables/{table}/records?limit=1000&sort={sort}"),
                    Some(&self.admin),
                )
                .await,
            StatusCode::OK,
        )
        .await;
        page["records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| r["fields"].clone())
            .collect()
    }

    async fn export(&self, table: &str, query: &str) -> Response {
        self.server
            .get(
                &format!("/api/v1/tables/{table}/export?{query}"),
                Some(&self.admin),
            )
            .await
    }
}

/// The customer table, with contacts to link to; returns (customers,
/// contacts, ids of two contacts).
async fn customers(t: &Tenant) -> (String, String, Vec<i64>) {
    let contacts = t
        .table("联系人", json!([{"name": "姓名", "type": "text"}]))
        .await;
    let made = t
        .create(
            &contacts,
            json!([{"fields": {"姓名": "王"}}, {"fields": {"姓名": "李"}}]),
        )
        .await;
    let ids = made["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    let customers = t.table("客户", customer_fields(&contacts)).await;
    (customers, contacts, ids)
}

fn customer_fields(contacts: &str) -> Value {
    json!([
        {"name": "名称", "type": "text", "required": true, "unique": true},
        {"name": "金额", "type": "currency"},
        {"name": "数量", "type": "integer"},
        {"name": "状态", "type": "single_select", "default": "新",
         "choices": [{"name": "新"}, {"name": "成交", "colour": "green"}]},
        {"name": "签约日", "type": "date"},
        {"name": "签约时间", "type": "date_time"},
        {"name": "标签", "type": "multi_select", "choices": [{"name": "vip"}, {"name": "重点"}]},
        {"name": "已回款", "type": "boolean"},
        {"name": "折扣", "type": "percent"},
        {"name": "联系人", "type": "link", "table": contacts},
    ])
}

fn csv_file(lines: &[String]) -> Vec<u8> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    out.extend(lines.join("\r\n").as_bytes());
    out.extend(b"\r\n");
    out
}

async fn csv_import_story(backend: Backend) {
    let t = Tenant::start(backend).await;
    let (customers, _, people) = customers(&t).await;
    t.create(&customers, json!([{"fields": {"名称": "老客户"}}]))
        .await;
    let mapping =
        json!({"客户名称": "名称", "合同金额": "金额", "日期": "签约日", "备注": null}).to_string();
    let header = "客户名称,合同金额,数量,状态,日期,标签,已回款,联系人,备注".to_owned();
    let good_rows: Vec<String> = vec![
        format!(
            "甲公司,\"1,234.50\",3,成交,2026/11/22,vip；重点,是,{},随便",
            people[0]
        ),
        format!("乙公司,88,,,2026年1月5日,,否,{},", people[1]),
        "丙公司,-¥12,1,新,2026-02-03,vip,1,,".to_owned(),
    ];
    let bad_rows: Vec<String> = vec![
        "丁公司,abc,1,新,2026-01-01,,,,".to_owned(),
        ",5,1,新,2026-01-01,,,,".to_owned(),
        "戊公司,5,1,取消,2026-01-01,,,,".to_owned(),
        "甲公司,5,1,新,2026-01-01,,,,".to_owned(),
        "老客户,5,1,新,2026-01-01,,,,".to_owned(),
        "己公司,5".to_owned(),
        "庚公司,5,1,新,2026-01-01,,,999999,".to_owned(),
    ];
    let mut lines = vec![header.clone()];
    lines.extend(good_rows.iter().cloned());
    lines.extend(bad_rows.iter().cloned());
    let file = csv_file(&lines);
    let before = t.count(&customers).await;

    // The dry run names every failing row and why, and writes nothing.
    let report = body(
        t.import(
            &customers,
            &[
                ("format", "csv"),
                ("dry_run", "true"),
                ("mapping", &mapping),
            ],
            "text/csv",
            file.clone(),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(report["rows"], 10, "{report}");
    assert_eq!(report["valid_rows"], 3, "{report}");
    assert_eq!(report["error_count"], 7, "{report}");
    let errors: Vec<(i64, String, String)> = report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().expect("row"),
                e["column"].as_str().unwrap_or_default().to_owned(),
                e["reason"].as_str().expect("reason").to_owned(),
            )
        })
        .collect();
    let expect = [
        (5, "合同金额", "must be a number"),
        (6, "客户名称", "is required"),
        (7, "状态", "not one of"),
        (8, "客户名称", "must be unique: row 2 has the same value"),
        (9, "客户名称", "a stored record has this value"),
        (10, "", "has 2 cells, but the header row has 9"),
        (11, "联系人", "record that does not exist: 999999"),
    ];
    for ((row, column, reason), got) in expect.iter().zip(&errors) {
        assert_eq!((got.0, got.1.as_str()), (*row, *column), "{got:?}");
        assert!(got.2.contains(reason), "{got:?}");
    }
    assert_eq!(
        report["columns"][8],
        json!({"column": "备注", "field": null})
    );
    assert_eq!(t.count(&customers).await, before);

    // The real import of the same file refuses it whole, naming the row.
    let r = t
        .import(
            &customers,
            &[("format", "csv"), ("mapping", &mapping)],
            "text/csv",
            file,
        )
        .await;
    let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_row").await;
    assert_eq!(problem["field"], "row 5.合同金额", "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .starts_with("row 5, 合同金额: must be a number"),
        "{problem}"
    );
    assert_eq!(t.count(&customers).await, before, "nothing written");

    // One bad row deep in a file of several chunks: still nothing written.
    let mut long = vec![header.clone()];
    long.extend((0..2500).map(|n| format!("客户{n},{n},{n},新,2026-01-01,,,,")));
    long.push("坏行,1.234,1,新,2026-01-01,,,,".to_owned());
    let r = t
        .import(
            &customers,
            &[("mapping", &mapping)],
            "text/csv; charset=utf-8",
            csv_file(&long),
        )
        .await;
    let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_row").await;
    assert_eq!(
        problem["detail"],
        "row 2502, 合同金额: has more than 2 decimal places"
    );
    assert_eq!(
        t.count(&customers).await,
        before,
        "earlier chunks rolled back"
    );

    // The good rows import, typed.
    let mut lines = vec![header];
    lines.extend(good_rows);
    let done = body(
        t.import(
            &customers,
            &[("format", "csv"), ("mapping", &mapping)],
            "text/csv",
            csv_file(&lines),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(done, json!({"imported": 3}));
    let rows = t.all(&customers, "名称").await;
    let first = rows
        .iter()
        .find(|r| r["名称"] == "甲公司")
        .expect("imported");
    assert_eq!(first["金额"], "1234.50");
    assert_eq!(first["状态"], "成交");
    assert_eq!(first["签约日"], "2026-11-22");
    assert_eq!(first["标签"], json!(["vip", "重点"]));
    assert_eq!(first["已回款"], true);
    assert_eq!(first["联系人"], people[0]);
    let second = rows
        .iter()
        .find(|r| r["名称"] == "乙公司")
        .expect("imported");
    assert_eq!(second["状态"], "新", "an empty cell takes the default");
    assert_eq!(second["签约日"], "2026-01-05");
    let third = rows
        .iter()
        .find(|r| r["名称"] == "丙公司")
        .expect("imported");
    assert_eq!(third["金额"], "-12.00");
    t.server.stop().await;
}

async fn twenty_thousand_rows(backend: Backend) {
    let t = Tenant::start(backend).await;
    let (customers, _, _) = customers(&t).await;
    let mut lines = vec!["名称,金额,数量,状态,签约日,已回款".to_owned()];
    lines.extend((0..20_000).map(|n| {
        format!(
            "客户{n:05},{}.{:02},{n},{},2026-{:02}-{:02},{}",
            n * 3,
            n % 100,
            if n % 2 == 0 { "新" } else { "成交" },
            n % 12 + 1,
            n % 28 + 1,
            n % 2 == 0
        )
    }));
    let file = csv_file(&lines);
    let started = Instant::now();
    let report = body(
        t.import(
            &customers,
            &[("format", "csv"), ("dry_run", "true")],
            "text/csv",
            file.clone(),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    eprintln!(
        "dry run of 20,000 rows ({backend:?}): {:?}",
        started.elapsed()
    );
    assert_eq!(report["valid_rows"], 20_000, "{report}");
    let started = Instant::now();
    let done = body(
        t.import(&customers, &[("format", "csv")], "text/csv", file)
            .await,
        StatusCode::CREATED,
    )
    .await;
    let took = started.elapsed();
    eprintln!("imported 20,000 rows ({backend:?}) in {took:?}");
    assert_eq!(done, json!({"imported": 20_000}));
    assert_eq!(t.count(&customers).await, 20_000);
    t.server.stop().await;
}

fn xlsx_file(people: &[i64]) -> Vec<u8> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("客户").expect("name");
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let time = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    let headers = [
        "名称",
        "金额",
        "数量",
        "状态",
        "签约日",
        "签约时间",
        "标签",
        "已回款",
        "折扣",
        "联系人",
    ];
    for (col, h) in headers.iter().enumerate() {
        sheet.write_string(0, col as u16, *h).expect("header");
    }
    for n in 0..12u32 {
        let row = n + 1;
        sheet
            .write_string(row, 0, format!("表格客户{n:02}"))
            .expect("cell");
        sheet
            .write_number(row, 1, f64::from(n) * 100.25)
            .expect("cell");
        sheet.write_number(row, 2, f64::from(n)).expect("cell");
        sheet
            .write_string(row, 3, if n % 2 == 0 { "新" } else { "成交" })
            .expect("cell");
        let day = ExcelDateTime::from_ymd(2026, 3, (n + 1) as u8).expect("date");
        sheet
            .write_datetime_with_format(row, 4, &day, &date)
            .expect("cell");
        let at = ExcelDateTime::from_ymd(2026, 3, 1)
            .expect("date")
            .and_hms(9, n as u8, 0)
            .expect("time");
        sheet
            .write_datetime_with_format(row, 5, &at, &time)
            .expect("cell");
        sheet
            .write_string(row, 6, if n % 3 == 0 { "vip;重点" } else { "" })
            .expect("cell");
        sheet.write_boolean(row, 7, n % 2 == 1).expect("cell");
        sheet
            .write_number(row, 8, f64::from(n) + 0.5)
            .expect("cell");
        sheet
            .write_number(row, 9, people[(n % 2) as usize] as f64)
            .expect("cell");
    }
    workbook.save_to_buffer().expect("xlsx")
}

async fn xlsx_and_round_trips(backend: Backend) {
    let t = Tenant::start(backend).await;
    let (customers, contacts, people) = customers(&t).await;
    let done = body(
        t.import(&customers, &[("format", "xlsx")], XLSX, xlsx_file(&people))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(done, json!({"imported": 12}));
    let rows = t.all(&customers, "名称").await;
    assert_eq!(rows[1]["金额"], "100.25");
    assert_eq!(rows[1]["签约日"], "2026-03-02");
    assert_eq!(rows[1]["签约时间"], "2026-03-01T01:01:00.000Z");
    assert_eq!(rows[1]["已回款"], true);
    assert_eq!(rows[1]["折扣"], "1.50");
    assert_eq!(rows[3]["标签"], json!(["vip", "重点"]));
    assert_eq!(rows[0]["联系人"], people[0]);

    // A sheet that is not there is named.
    let r = t
        .import(
            &customers,
            &[("format", "xlsx"), ("sheet", "Sheet9")],
            XLSX,
            xlsx_file(&people),
        )
        .await;
    expect_problem(r, StatusCode::BAD_REQUEST, "invalid_query").await;

    // A filtered view exported as CSV and as XLSX imports back the same.
    let view = body(
        t.server
            .post(
                &format!("/api/v1/tables/{customers}/views"),
                Some(&t.admin),
                &json!({"name": "大单", "filter": "金额 >= 300", "sort": "名称"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let view_id = view["id"].as_str().expect("view id");
    let original: Vec<Value> = rows
        .iter()
        .filter(|r| r["金额"].as_str().and_then(|a| a.parse::<f64>().ok()) >= Some(300.0))
        .cloned()
        .collect();
    assert_eq!(original.len(), 9);
    for (format, content_type) in [("csv", "text/csv"), ("xlsx", XLSX)] {
        let r = t
            .export(&customers, &format!("format={format}&view={view_id}"))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let disposition = r.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(
            disposition.ends_with(&format!("filename*=UTF-8''%E5%AE%A2%E6%88%B7.{format}")),
            "{disposition}"
        );
        assert!(
            r.headers()["content-type"]
                .to_str()
                .expect("type")
                .starts_with(content_type)
        );
        let file = r.bytes().await.expect("file").to_vec();
        if format == "csv" {
            assert!(file.starts_with("\u{feff}id,名称,金额".as_bytes()));
        }
        let copy = t
            .table(&format!("副本{format}"), customer_fields(&contacts))
            .await;
        let done = body(
            t.import(&copy, &[("format", format)], content_type, file)
                .await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(done, json!({"imported": 9}), "{format}");
        assert_eq!(t.all(&copy, "名称").await, original, "{format}");
    }

    // A filter and a field list narrow the export.
    let r = t
        .export(
            &customers,
            "format=csv&filter=数量%20%3C%202&fields=名称,数量",
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.expect("csv");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].ends_with("id,名称,数量,created_at,updated_at"),
        "{text}"
    );
    t.server.stop().await;
}

async fn limits_and_refusals(backend: Backend) {
    let t = Tenant::start(backend).await;
    let (customers, _, _) = customers(&t).await;
    let csv = csv_file(&["名称".to_owned(), "甲".to_owned()]);
    let r = t
        .import(&customers, &[("format", "ods")], "text/csv", csv.clone())
        .await;
    let problem = expect_problem(r, StatusCode::BAD_REQUEST, "invalid_query").await;
    assert_eq!(problem["field"], "format");
    let r = t
        .import(&customers, &[("mapping", "[1]")], "text/csv", csv.clone())
        .await;
    expect_problem(r, StatusCode::BAD_REQUEST, "invalid_query").await;
    let r = t.export(&customers, "format=pdf").await;
    expect_problem(r, StatusCode::BAD_REQUEST, "invalid_query").await;
    let header_only = t
        .import(&customers, &[], "text/csv", "名称\n".as_bytes().to_vec())
        .await;
    assert_eq!(
        body(header_only, StatusCode::CREATED).await,
        json!({"imported": 0})
    );
    let r = t
        .import(&customers, &[], "text/csv", b"\xc3\x28name\n1".to_vec())
        .await;
    let problem = expect_problem(r, StatusCode::BAD_REQUEST, "unreadable_file").await;
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("UTF-8")
    );
    let r = t
        .import(
            &customers,
            &[("format", "xlsx")],
            XLSX,
            b"not a zip".to_vec(),
        )
        .await;
    expect_problem(r, StatusCode::BAD_REQUEST, "unreadable_file").await;

    // Past 100 MB, streamed without a length: refused before the end.
    let chunk = vec![b'a'; 1 << 20];
    let chunks = (0..101).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
    let stream = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let r = t.import(&customers, &[], "text/csv", stream).await;
    expect_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // The choke point: no session, no import or export.
    let r = t
        .server
        .client
        .post(t.server.url(&format!("/api/v1/tables/{customers}/import")))
        .header(CONTENT_TYPE, "text/csv")
        .body(csv)
        .send()
        .await
        .expect("request");
    expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let r = t
        .server
        .get(&format!("/api/v1/tables/{customers}/export"), None)
        .await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    t.server.stop().await;
}

on_both_backends!(
    csv_import_story,
    twenty_thousand_rows,
    xlsx_and_round_trips,
    limits_and_refusals
);
