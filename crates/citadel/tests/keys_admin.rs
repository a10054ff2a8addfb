//! A tenant's keys for its security administrators (`/api/v1/keys`) and
//! for the machine's operator (`citadel keys`): the status names the suite
//! and versions, a rotation adds a data key version, the re-encryption
//! moves the values (a TOTP seed here) and retires the old version, and a
//! member without the security duty is refused.

mod common;
mod identity_support;

use common::process::run;
use common::{Backend, TestServer};
use identity_support::{body, member, tenant};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn data_versions(status: &Value) -> Vec<(u64, String, u64)> {
    status["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["purpose"] == "data")
        .map(|k| {
            (
                k["version"].as_u64().expect("version"),
                k["state"].as_str().expect("state").to_owned(),
                k["values"].as_u64().expect("values"),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_security_admin_rotates_the_data_key_through_the_api() {
    let server = TestServer::start(Backend::Sqlite).await;
    let op = server.operator().await;
    let acme = tenant(&server, &op, "acme").await;
    // A pending second factor: a value sealed under the data key.
    let r = server
        .post(
            "/api/v1/me/totp",
            Some(&acme.admin),
            &json!({"password": common::STRONG_PASSWORD}),
        )
        .await;
    assert!(
        r.status().is_success(),
        "{}",
        r.text().await.unwrap_or_default()
    );

    let status = body(
        server.get("/api/v1/keys", Some(&acme.admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(status["suite"], "intl");
    assert_eq!(status["cipher"], "AES-256-GCM");
    assert_eq!(data_versions(&status), vec![(1, "active".into(), 1)]);
    assert_eq!(status["master_key"], "key file", "no path is shown");

    // Nothing else seals under this data directory's keys: retire at once.
    server.store.set_key_retire_grace(std::time::Duration::ZERO);
    let rotated = body(
        server
            .post("/api/v1/keys/rotate", Some(&acme.admin), &json!({}))
            .await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(data_versions(&rotated)[1], (2, "active".into(), 0));
    let mut settled = Vec::new();
    for _ in 0..100 {
        let status = body(
            server.get("/api/v1/keys", Some(&acme.admin)).await,
            StatusCode::OK,
        )
        .await;
        settled = data_versions(&status);
        if settled.first().is_some_and(|v| v.1 == "retired") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        settled,
        vec![(1, "retired".into(), 0), (2, "active".into(), 1)],
        "the seed moved and the old version was retired"
    );

    let clerk = member(&server, &acme, "clerk").await;
    for r in [
        server.get("/api/v1/keys", Some(&clerk.cookie)).await,
        server
            .post("/api/v1/keys/rotate", Some(&clerk.cookie), &json!({}))
            .await,
    ] {
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    server.stop().await;
}

#[test]
fn the_operator_rotates_keys_on_the_machine() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let data = data.to_str().expect("utf8");
    let out = run(&[
        "--data-dir",
        data,
        "tenant",
        "create",
        "guoban",
        "--admin",
        "boss@guoban.cn",
        "--suite",
        "sm",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run(&["--data-dir", data, "keys", "status", "--tenant", "guoban"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Suite sm (SM4-GCM, HMAC-SM3, SM3, SM2)"),
        "{text}"
    );

    let out = run(&[
        "--data-dir",
        data,
        "keys",
        "rotate",
        "--tenant",
        "guoban",
        "--retire-now",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Data key version 2 added"), "{text}");
    assert!(
        text.contains("Version 1 protects nothing any more"),
        "{text}"
    );

    let out = run(&[
        "--data-dir",
        data,
        "keys",
        "status",
        "--tenant",
        "guoban",
        "--json",
    ]);
    let status: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        data_versions(&status),
        vec![(1, "retired".into(), 0), (2, "active".into(), 0)]
    );

    let out = run(&["--data-dir", data, "keys", "status", "--tenant", "nobody"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no tenant nobody"));

    // A new master key: made at the path, everything re-sealed under it.
    let new_key = tmp.path().join("new.key");
    let new_key = new_key.to_str().expect("utf8");
    let out = run(&[
        "--data-dir",
        data,
        "keys",
        "rotate-master",
        "--new-key-file",
        new_key,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Re-sealed 5 tenant key(s)"),
        "retired keys hold nothing: {text}"
    );
    let out = run(&["--data-dir", data, "keys", "status", "--tenant", "guoban"]);
    assert!(
        !out.status.success(),
        "the old key no longer opens the store"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match"));
    let out = run(&[
        "--data-dir",
        data,
        "--master-key-file",
        new_key,
        "keys",
        "status",
        "--tenant",
        "guoban",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Suite sm"));
    // The audit keys (Ed25519 for the platform's log, SM2 for the sm
    // tenant's) were re-sealed too: the logs (the CLI's own key operations
    // among their events) still verify under the new key.
    assert!(text.contains("2 audit key(s)"), "{text}");
    for log in [vec![], vec!["--tenant", "guoban"]] {
        let mut argv = vec![
            "--data-dir",
            data,
            "--master-key-file",
            new_key,
            "audit",
            "verify",
        ];
        argv.extend(log);
        let out = run(&argv);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && said.contains("intact"), "{said}");
    }
}
