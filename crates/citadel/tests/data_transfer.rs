//! Import and export of records over HTTPS, on SQLite and PostgreSQL: CSV
//! with Chinese headers and a mapping, a dry run naming every bad row, an
//! all-or-nothing import, XLSX in, CSV and XLSX out and back in again.
//! Large imports and the limits are in data_transfer_limits.rs.

mod common;
mod transfer_support;

use common::{Backend, expect_problem};
use reqwest::StatusCode;
use serde_json::{Value, json};
use transfer_support::*;

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

on_both_backends!(csv_import_story, xlsx_and_round_trips);
