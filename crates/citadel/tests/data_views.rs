//! Saved views over HTTPS, on SQLite and PostgreSQL: personal views seen
//! only by their owner, shared views made by those who manage the table,
//! and a view's filter, sort and fields shaping a listing.

mod common;
mod data_support;
mod identity_support;
mod listing_support;

use common::{Backend, TestServer};
use data_support::Api;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

crate::on_both_backends!(views_are_personal_or_shared_and_shape_listings);

const NONE: Value = Value::Null;
const NOT_FOUND: (StatusCode, &str) = (StatusCode::NOT_FOUND, "not_found");
const FORBIDDEN: (StatusCode, &str) = (StatusCode::FORBIDDEN, "forbidden");

async fn views_are_personal_or_shared_and_shape_listings(backend: Backend) {
    use identity_support::{member, tenant};
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "views").await;
    let (m1, m2) = (
        member(&server, &t, "zhang").await,
        member(&server, &t, "li").await,
    );
    let api = |cookie: &str| Api {
        server: &server,
        cookie: cookie.to_owned(),
    };
    let (admin, zhang, li) = (api(&t.admin), api(&m1.cookie), api(&m2.cookie));
    let rows = [
        ("甲", 50, "成交"),
        ("乙", 20, "新"),
        ("丙", 40, "成交"),
        ("丁", 10, "成交"),
        ("戊", 30, "新"),
    ];
    let rows = rows
        .iter()
        .map(|(n, a, s)| json!({"fields": {"名称": n, "金额": a, "状态": s}}));
    let fields = json!([{"name": "名称", "type": "text"}, {"name": "金额", "type": "integer"},
        {"name": "状态", "type": "single_select", "choices": [{"name": "新"}, {"name": "成交"}]},
        {"name": "标签", "type": "multi_select", "choices": [{"name": "重点"}]}]);
    let table = admin.table("视图", fields, rows.collect()).await;
    let views = format!("/api/v1/tables/{table}/views");

    let shared = json!({"name": "成交", "shared": true, "filter": "状态=='成交'", "sort": "-金额",
        "fields": ["名称", "金额"]});
    let shared = admin.create(&views, shared).await;
    let summary = (&shared["shared"], &shared["filter"], &shared["fields"]);
    assert_eq!(
        summary,
        (
            &json!(true),
            &json!("状态 = '成交'"),
            &json!(["名称", "金额"])
        )
    );
    let steal = json!({"name": "偷", "shared": true});
    zhang.refused(Method::POST, &views, steal, FORBIDDEN).await;
    let mine = json!({"name": "我的", "filter": "金额 >= 30", "sort": "名称"});
    let mine = zhang.create(&views, mine).await;
    assert_eq!(mine["shared"], false);
    let (s, m) = (
        shared["id"].as_str().expect("id"),
        mine["id"].as_str().expect("id"),
    );
    let (shared_path, mine_path) = (format!("/api/v1/views/{s}"), format!("/api/v1/views/{m}"));
    let seen = |list: Value| {
        list.as_array()
            .map(|l| l.iter().map(|v| v["name"].clone()).collect())
    };
    assert_eq!(
        seen(zhang.get(&views).await),
        Some(vec![json!("成交"), json!("我的")])
    );
    assert_eq!(seen(li.get(&views).await), Some(vec![json!("成交")]));
    assert_eq!(seen(admin.get(&views).await), Some(vec![json!("成交")]));

    // Another's personal view does not exist for them, admins included.
    for other in [&li, &admin] {
        other
            .refused(Method::GET, &mine_path, NONE, NOT_FOUND)
            .await;
        let grab = json!({"name": "抢"});
        other
            .refused(Method::PATCH, &mine_path, grab, NOT_FOUND)
            .await;
        other
            .refused(Method::DELETE, &mine_path, NONE, NOT_FOUND)
            .await;
        let listing = format!("/api/v1/tables/{table}/records?view={m}");
        other.refused(Method::GET, &listing, NONE, NOT_FOUND).await;
    }
    // Members use shared views but do not change them.
    assert_eq!(zhang.get(&shared_path).await, shared);
    let rename = json!({"name": "改"});
    zhang
        .refused(Method::PATCH, &shared_path, rename, FORBIDDEN)
        .await;
    zhang
        .refused(Method::DELETE, &shared_path, NONE, FORBIDDEN)
        .await;
    assert_eq!(admin.get(&shared_path).await, shared, "unchanged");
    let change = json!({"name": "我的二", "filter": null});
    let changed = zhang
        .ok(Method::PATCH, &mine_path, change, StatusCode::OK)
        .await;
    let summary = (&changed["name"], &changed["filter"], &changed["sort"]);
    assert_eq!(summary, (&json!("我的二"), &NONE, &json!("名称")));
    let resort = json!({"sort": "金额"});
    let resorted = admin
        .ok(Method::PATCH, &shared_path, resort, StatusCode::OK)
        .await;
    assert_eq!(
        (&resorted["sort"], &resorted["filter"]),
        (&json!("金额"), &shared["filter"])
    );
    let back = json!({"sort": "-金额"});
    admin
        .ok(Method::PATCH, &shared_path, back, StatusCode::OK)
        .await;

    // A view applies its filter, sort and fields; the query adds to it.
    assert_eq!(
        zhang.column(&table, &[("view", s)], "名称").await,
        ["甲", "丙", "丁"]
    );
    let page = li.list(&table, &[("view", s)]).await;
    assert_eq!(
        page["records"][0]["fields"],
        json!({"名称": "甲", "金额": 50})
    );
    let narrowed = [("view", s), ("filter", "金额 > 15")];
    assert_eq!(zhang.column(&table, &narrowed, "名称").await, ["甲", "丙"]);
    let counted = zhang
        .list(&table, &[("view", s), ("count", "true"), ("limit", "1")])
        .await;
    assert_eq!(counted["total"], 3);
    let by_name = [("view", s), ("sort", "名称")];
    assert_eq!(
        zhang.column(&table, &by_name, "名称").await,
        ["丁", "丙", "甲"]
    );
    let states = zhang
        .column(&table, &[("view", s), ("fields", "状态")], "状态")
        .await;
    assert_eq!(states, vec![json!("成交"); 3]);
    let all = ["丁", "丙", "乙", "戊", "甲"];
    assert_eq!(zhang.column(&table, &[("view", m)], "名称").await, all);

    // Views that do not fit the table are refused.
    let elsewhere = admin.table("其他", json!([]), Vec::new()).await;
    let listing = format!("/api/v1/tables/{elsewhere}/records?view={s}");
    admin.refused(Method::GET, &listing, NONE, NOT_FOUND).await;
    for bad in [
        json!({"name": "坏", "filter": "金额 >"}),
        json!({"name": "坏", "sort": "标签"}),
        json!({"name": "坏", "fields": ["没有"]}),
        json!({"name": "坏", "filter": "没有 = 1"}),
        json!({"name": ""}),
    ] {
        let r = zhang.send(Method::POST, &views, bad.clone()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    zhang
        .ok(Method::DELETE, &mine_path, NONE, StatusCode::NO_CONTENT)
        .await;
    zhang
        .refused(Method::GET, &mine_path, NONE, NOT_FOUND)
        .await;
    assert_eq!(seen(zhang.get(&views).await), Some(vec![json!("成交")]));
    server.stop().await;
}
