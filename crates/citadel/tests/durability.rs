//! An acknowledged write is on disk: the real server is killed with
//! SIGKILL in the middle of a write load (single creates and batches from
//! many clients at once, sharing group commits), restarted on the same
//! directory, and every record it acknowledged is there, unchanged, in a
//! database that passes SQLite's integrity check.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::process::{citadel, serve};
use common::{STRONG_PASSWORD, https_client};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

struct Api {
    client: Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request")
    }
}

async fn expect_json(response: reqwest::Response, status: StatusCode) -> Value {
    let got = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

fn serve_on(data: &std::path::Path) -> common::process::Served {
    let mut cmd = citadel();
    cmd.arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"]);
    serve(&mut cmd).expect("server starts")
}

/// Bootstraps an operator, a tenant and its admin, and returns an access
/// token of the admin's.
async fn admin_token(client: &Client, base: &str, bootstrap: &str) -> String {
    let post = |path: &str, cookie: Option<&str>, body: Value| {
        let mut r = client.post(format!("{base}{path}")).json(&body);
        if let Some(c) = cookie {
            r = r
                .header("cookie", c)
                .header("x-csrf-token", common::csrf_for(c).expect("csrf"));
        }
        r.send()
    };
    let r = post(
        "/api/v1/platform/bootstrap",
        None,
        json!({"token": bootstrap, "login": "ops", "password": STRONG_PASSWORD}),
    )
    .await
    .expect("bootstrap");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = post(
        "/api/v1/platform/login",
        None,
        json!({"login": "ops", "password": STRONG_PASSWORD}),
    )
    .await
    .expect("login");
    let op = common::cookie_from(&r, "citadel_operator").expect("operator cookie");
    let created = post(
        "/api/v1/platform/tenants",
        Some(&op),
        json!({"slug": "durable", "admin_email": "admin@durable.cn"}),
    )
    .await
    .expect("tenant");
    let created = expect_json(created, StatusCode::CREATED).await;
    let otp = created["one_time_password"]
        .as_str()
        .expect("otp")
        .to_owned();
    let r = post(
        "/api/v1/auth/login",
        None,
        json!({"tenant": "durable", "login": "admin@durable.cn", "password": otp}),
    )
    .await
    .expect("login");
    let admin = common::cookie_from(&r, "citadel_session").expect("session");
    let r = post(
        "/api/v1/auth/password",
        Some(&admin),
        json!({"current_password": otp, "new_password": STRONG_PASSWORD}),
    )
    .await
    .expect("password");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let token = post(
        "/api/v1/me/tokens",
        Some(&admin),
        json!({"name": "load", "expires_in_days": 1, "password": STRONG_PASSWORD}),
    )
    .await
    .expect("token");
    expect_json(token, StatusCode::CREATED).await["secret"]
        .as_str()
        .expect("secret")
        .to_owned()
}

/// One writer: creates records until the server goes away, noting each
/// acknowledged one as (id, name).
async fn write_until_gone(
    api: Arc<Api>,
    table: String,
    writer: usize,
    acked: Arc<Mutex<Vec<(i64, String)>>>,
) {
    for n in 0.. {
        let (path, body) = if n % 5 == 4 {
            let records: Vec<Value> = (0..20)
                .map(|k| json!({"fields": {"名称": format!("w{writer}-{n}-{k}"), "数量": k}}))
                .collect();
            (
                format!("/api/v1/tables/{table}/records/batch"),
                json!({"records": records}),
            )
        } else {
            (
                format!("/api/v1/tables/{table}/records"),
                json!({"fields": {"名称": format!("w{writer}-{n}"), "数量": n}}),
            )
        };
        let sent = api
            .client
            .post(format!("{}{path}", api.base))
            .bearer_auth(&api.token)
            .json(&body)
            .send()
            .await;
        let Ok(response) = sent else { return };
        if response.status() != StatusCode::CREATED {
            return;
        }
        let Ok(created) = response.json::<Value>().await else {
            return;
        };
        let rows = match created["records"].as_array() {
            Some(list) => list.clone(),
            None => vec![created],
        };
        let mut acked = acked.lock().expect("lock");
        for row in rows {
            let name = row["fields"]["名称"].as_str().expect("name").to_owned();
            acked.push((row["id"].as_i64().expect("id"), name));
        }
    }
}

#[tokio::test]
async fn acknowledged_records_survive_sigkill() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let first = serve_on(&data);
    let bootstrap = first
        .stdout
        .iter()
        .find_map(|l| {
            l.strip_prefix("Bootstrap token (one-time; creates the first platform operator): ")
        })
        .expect("bootstrap token")
        .to_owned();
    let client = https_client(&data.join("tls/cert.pem"));
    let token = admin_token(&client, &first.base, &bootstrap).await;
    let api = Arc::new(Api {
        client,
        base: first.base.clone(),
        token,
    });
    let app = expect_json(
        api.call(
            reqwest::Method::POST,
            "/api/v1/apps",
            Some(&json!({"name": "耐久"})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let table = expect_json(
        api.call(
            reqwest::Method::POST,
            &format!(
                "/api/v1/apps/{}/tables",
                app["id"].as_str().expect("app id")
            ),
            Some(&json!({"name": "记录", "fields": [
                {"name": "名称", "type": "text", "unique": true},
                {"name": "数量", "type": "integer"}
            ]})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let table = table["id"].as_str().expect("table id").to_owned();

    let acked = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            tokio::spawn(write_until_gone(
                api.clone(),
                table.clone(),
                w,
                acked.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut first = first;
    first.child.kill().expect("SIGKILL");
    first.child.wait().expect("reaped");
    for w in writers {
        w.await.expect("writer");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() > 50,
        "the load was running when the server died: {}",
        acked.len()
    );

    let second = serve_on(&data);
    let api = Api {
        client: https_client(&data.join("tls/cert.pem")),
        base: second.base.clone(),
        token: api.token.clone(),
    };
    let mut stored = std::collections::HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path =
            format!("/api/v1/tables/{table}/records?limit=1000&fields=%E5%90%8D%E7%A7%B0");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = expect_json(
            api.call(reqwest::Method::GET, &path, None).await,
            StatusCode::OK,
        )
        .await;
        for row in page["records"].as_array().expect("records") {
            stored.insert(
                row["id"].as_i64().expect("id"),
                row["fields"]["名称"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    for (id, name) in &acked {
        assert_eq!(
            stored.get(id),
            Some(name),
            "acknowledged record {id} ({name}) is there after SIGKILL"
        );
    }
    drop(second);

    // The tenant's database file itself is sound.
    let tenants = data.join("tenants");
    let tenant_dir = std::fs::read_dir(&tenants)
        .expect("tenants")
        .next()
        .expect("one tenant")
        .expect("entry")
        .path();
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(tenant_dir.join("data.db"));
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options)
        .await
        .expect("open");
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .expect("check");
    assert_eq!(check, "ok");
}
