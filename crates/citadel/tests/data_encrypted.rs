//! Encrypted fields over HTTPS, on SQLite and PostgreSQL: sensitive kinds
//! encrypted by default and shown so; values in and out in plaintext;
//! equality filters through the blind index, range, substring and sort
//! refused naming the field; import sealed with the dry run finding taken
//! unique values; export opened; encryption turned off and on again.

mod common;
mod transfer_support;

use common::expect_problem;
use reqwest::StatusCode as S;
use serde_json::{Value, json};
use transfer_support::{Tenant, body};

crate::on_both_backends!(encrypted_fields_work_through_the_api);

const ID_A: &str = "11010519491231002X";
const ID_B: &str = "110105199003071239";

fn encoded(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

async fn listed(t: &Tenant, table: &str, query: &str) -> reqwest::Response {
    t.server
        .get(
            &format!("/api/v1/tables/{table}/records?{query}"),
            Some(&t.admin),
        )
        .await
}

async fn names(t: &Tenant, table: &str, filter: &str) -> Vec<Value> {
    let page = body(
        listed(t, table, &format!("filter={}", encoded(filter))).await,
        S::OK,
    )
    .await;
    page["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["fields"]["姓名"].clone())
        .collect()
}

async fn encrypted_fields_work_through_the_api(backend: common::Backend) {
    let t = Tenant::start(backend).await;
    let staff = t
        .table(
            "员工",
            json!([
                {"name": "姓名", "type": "text"},
                {"name": "身份证", "type": "resident_id", "unique": true},
                {"name": "工资", "type": "decimal", "scale": 2, "encrypted": true},
                {"name": "备注", "type": "text", "encrypted": false},
            ]),
        )
        .await;
    let schema = body(
        t.server
            .get(&format!("/api/v1/tables/{staff}"), Some(&t.admin))
            .await,
        S::OK,
    )
    .await;
    let encrypted: Vec<(String, bool)> = schema["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            (
                f["name"].as_str().expect("name").to_owned(),
                f["encrypted"].as_bool().expect("encrypted is always shown"),
            )
        })
        .collect();
    assert_eq!(
        encrypted,
        vec![
            ("姓名".to_owned(), false),
            ("身份证".to_owned(), true),
            ("工资".to_owned(), true),
            ("备注".to_owned(), false),
        ]
    );
    // A boolean cannot be encrypted.
    let refused = t
        .server
        .post(
            &format!("/api/v1/tables/{staff}/fields"),
            Some(&t.admin),
            &json!({"name": "在职", "type": "boolean", "encrypted": true}),
        )
        .await;
    expect_problem(refused, S::BAD_REQUEST, "invalid_input").await;

    t.create(
        &staff,
        json!([
            {"fields": {"姓名": "张三", "身份证": ID_A.to_lowercase(), "工资": "12000.50"}},
            {"fields": {"姓名": "李四", "身份证": ID_B, "工资": 9000}},
        ]),
    )
    .await;
    assert_eq!(
        t.all(&staff, "姓名").await[0]["身份证"],
        json!(ID_A),
        "read back in plaintext, normalised"
    );
    assert_eq!(
        names(&t, &staff, &format!("身份证 = '{ID_A}'")).await,
        vec![json!("张三")]
    );
    assert_eq!(
        names(&t, &staff, &format!("身份证 not in ('{ID_A}')")).await,
        vec![json!("李四")]
    );
    for (query, what) in [
        (format!("filter={}", encoded("工资 > 100")), "range"),
        (
            format!("filter={}", encoded("身份证 starts with '1101'")),
            "prefix",
        ),
        (
            format!("filter={}", encoded("身份证 contains '1949'")),
            "substring",
        ),
        (format!("sort={}", encoded("工资")), "sort"),
    ] {
        let problem = expect_problem(
            listed(&t, &staff, &query).await,
            S::BAD_REQUEST,
            "invalid_query",
        )
        .await;
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(
            (detail.contains("工资") || detail.contains("身份证")) && detail.contains("encrypted"),
            "{what}: {problem}"
        );
    }

    // Import: the dry run finds a taken ID through the blind index; the
    // real import seals what it writes.
    let file = format!("姓名,身份证,工资\n王五,{ID_B},1\n赵六,,2\n");
    let report = body(
        t.import(
            &staff,
            &[("format", "csv"), ("dry_run", "true")],
            "text/csv",
            file.clone(),
        )
        .await,
        S::OK,
    )
    .await;
    assert_eq!(report["error_count"], 1, "{report}");
    let file = "姓名,身份证,工资\n赵六,,2\n".to_owned();
    body(
        t.import(&staff, &[("format", "csv")], "text/csv", file)
            .await,
        S::CREATED,
    )
    .await;
    assert_eq!(names(&t, &staff, "工资 = 2").await, vec![json!("赵六")]);

    // Export opens the values.
    let export = t.export(&staff, "format=csv").await;
    assert_eq!(export.status(), S::OK);
    let csv = export.text().await.expect("csv");
    assert!(csv.contains(ID_A) && csv.contains("12000.50"), "{csv}");

    // Off and on again: the data moves, filters follow.
    let patch = |encrypted: bool| {
        let t = &t;
        let staff = staff.clone();
        async move {
            body(
                t.server
                    .send_json(
                        reqwest::Method::PATCH,
                        &format!("/api/v1/tables/{staff}/fields/{}", encoded("工资")),
                        Some(&t.admin),
                        &json!({ "encrypted": encrypted }),
                    )
                    .await,
                S::OK,
            )
            .await
        }
    };
    // Encryption is switched by saying which, never by removing the key.
    let cleared = t
        .server
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v1/tables/{staff}/fields/{}", encoded("工资")),
            Some(&t.admin),
            &json!({ "encrypted": null }),
        )
        .await;
    expect_problem(cleared, S::BAD_REQUEST, "invalid_field").await;
    patch(false).await;
    assert_eq!(names(&t, &staff, "工资 > 5000").await.len(), 2);
    patch(true).await;
    assert_eq!(names(&t, &staff, "工资 = 9000").await, vec![json!("李四")]);
    assert_eq!(t.all(&staff, "姓名").await[0]["工资"], json!("12000.50"));
}
