//! Alerts over HTTPS, on SQLite and PostgreSQL: the tenant's audit policy
//! (thresholds, working hours, webhook, retention) and the alerts it
//! raises, as security events in the audit log, notifications to the
//! security administrators and calls to the webhook.

mod common;
mod data_support;
mod identity_support;

use std::time::Duration;

use common::{Backend, TestServer};
use data_support::Api;
use identity_support::{member, sign_in_with, tenant};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

crate::on_both_backends!(alerts_reach_security_admins_and_the_webhook);

async fn events(api: &Api<'_>, query: &str) -> Vec<Value> {
    let page = api.get(&format!("/api/v1/audit/events?{query}")).await;
    page["events"].as_array().expect("events").clone()
}

/// A webhook receiver on 127.0.0.1: every request body it got.
async fn webhook_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let bodies = std::sync::Arc::clone(&got);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Headers, then as many body bytes as Content-Length says.
            let body = loop {
                let n = socket.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break Some(body.to_owned());
                    }
                }
            };
            if let Some(body) = body.and_then(|b| serde_json::from_str(&b).ok()) {
                bodies.lock().expect("lock").push(body);
            }
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    (url, got)
}

/// Waits until `check` holds, or fails with `what`.
async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never: {what}");
}

async fn alerts_reach_security_admins_and_the_webhook(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "alerted").await;
    let admin = Api::new(&server, &t.admin);
    let (url, hooks) = webhook_receiver().await;
    // Hours the present is outside of, in UTC.
    let hour = (identity_support::now_secs() / 3600 % 24) as u8;
    let (start, end) = if hour < 12 { (12, 24) } else { (0, 12) };
    let policy = json!({
        "failed_logins_per_account": 3, "failed_logins_per_address": 20,
        "failed_login_window_minutes": 15, "downloads_per_minute": 10,
        "working_hours": {"start_hour": start, "end_hour": end, "weekdays_only": false,
                          "utc_offset_minutes": 0},
        "webhook_url": url, "retention_days": 365
    });
    let saved = admin
        .ok(Method::PUT, "/api/v1/audit-policy", policy, StatusCode::OK)
        .await;
    assert_eq!(saved["failed_logins_per_account"], 3);
    for bad in [
        json!({"retention_days": 179}),
        json!({"webhook_url": "http://example.com/x"}),
    ] {
        let mut body = saved.clone();
        for (k, v) in bad.as_object().expect("object") {
            body[k] = v.clone();
        }
        let r = admin.send(Method::PUT, "/api/v1/audit-policy", body).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }

    // Three failed sign-ins for the admin: one alert, not three.
    for n in 0..4 {
        let r = sign_in_with(
            &server,
            &t.slug,
            &t.admin_login,
            &format!("wrong {n}"),
            json!({}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // Duties granted: an escalation. A sign-in now: outside working hours.
    let clerk = member(&server, &t, "clerk2").await;
    admin
        .ok(
            Method::PATCH,
            &format!("/api/v1/users/{}", clerk.id),
            json!({"audit_admin": true}),
            StatusCode::OK,
        )
        .await;

    let kinds = |events: Vec<Value>| -> Vec<String> {
        events
            .iter()
            .map(|e| e["action"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    eventually("three alerts in the log", || async {
        let seen = kinds(events(&admin, "action=security.").await);
        [
            "alert_failed_logins_account",
            "alert_permission_escalation",
            "alert_outside_working_hours",
        ]
        .iter()
        .all(|k| seen.contains(&format!("security.{k}")))
    })
    .await;
    let seen = kinds(events(&admin, "action=security.").await);
    assert_eq!(
        seen.iter()
            .filter(|k| *k == "security.alert_failed_logins_account")
            .count(),
        1,
        "{seen:?}"
    );
    // The admin (a security administrator) was notified, the clerk not.
    let notes = admin.get("/api/v1/me/notifications").await;
    let notes = serde_json::to_string(&notes).expect("json");
    assert!(
        notes.contains("alert_failed_logins_account")
            && notes.contains("alert_permission_escalation"),
        "{notes}"
    );
    let clerk_notes = Api::new(&server, &clerk.cookie)
        .get("/api/v1/me/notifications")
        .await;
    assert!(
        !serde_json::to_string(&clerk_notes)
            .expect("json")
            .contains("alert_")
    );
    eventually("the webhook got the alerts", || async {
        let got = hooks.lock().expect("lock").clone();
        got.iter()
            .any(|h| h["kind"] == "alert_failed_logins_account")
            && got
                .iter()
                .any(|h| h["kind"] == "alert_permission_escalation")
            && got.iter().all(|h| h["tenant"] == t.id.as_str())
    })
    .await;
    server.stop().await;
}
