//! Imports at scale and at the limits, over HTTPS on SQLite and
//! PostgreSQL: 20,000 rows at once, files past 100 MB, bad formats and
//! mappings, and what a refused import leaves (nothing).

mod common;
mod transfer_support;

use std::time::Instant;

use common::{Backend, expect_problem};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;
use transfer_support::*;

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

on_both_backends!(twenty_thousand_rows, limits_and_refusals);
