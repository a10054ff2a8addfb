//! Start-up of the real binary: first and later starts, the master key's
//! protection, transport rules and configuration layering.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::process::{citadel, mode, serve};
use common::{STRONG_PASSWORD, https_client};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn serve_cmd(data: &std::path::Path) -> std::process::Command {
    let mut cmd = citadel();
    cmd.arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"]);
    cmd
}

/// `/readyz` of a server whose data directory holds its certificate.
async fn readiness(data: &std::path::Path, base: &str) -> Value {
    https_client(&data.join("tls/cert.pem"))
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

fn bootstrap_token(lines: &[String]) -> Option<String> {
    lines
        .iter()
        .find_map(|l| {
            l.strip_prefix("Bootstrap token (one-time; creates the first platform operator): ")
        })
        .map(str::to_owned)
}

#[tokio::test]
async fn first_start_then_restart_on_the_same_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");

    // A data directory made beforehand with a loose mode is tightened.
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let first = serve(&mut serve_cmd(&data)).expect("first start");
    assert!(
        first.base.starts_with("https://127.0.0.1:"),
        "{}",
        first.base
    );
    assert!(
        first
            .stdout
            .iter()
            .any(|l| l.starts_with("Created master key")),
        "{:?}",
        first.stdout
    );
    let token = bootstrap_token(&first.stdout).expect("bootstrap token printed");
    assert_eq!(mode(&data.join("master.key")), 0o600);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("tls/key.pem")), 0o600);
    assert_eq!(mode(&data.join("tls")), 0o700);
    let client = https_client(&data.join("tls/cert.pem"));
    let ready = client
        .get(format!("{}/readyz", first.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    drop(first);

    // The same directory again: same key, a fresh bootstrap token while
    // there is still no operator.
    let key_before = std::fs::read(data.join("master.key")).expect("key");
    let second = serve(&mut serve_cmd(&data)).expect("second start");
    assert!(
        !second
            .stdout
            .iter()
            .any(|l| l.starts_with("Created master key"))
    );
    assert_eq!(
        std::fs::read(data.join("master.key")).expect("key"),
        key_before
    );
    let token2 = bootstrap_token(&second.stdout).expect("new token");
    assert_ne!(token, token2, "each start issues a new token");
    let client = https_client(&data.join("tls/cert.pem"));
    let old = client
        .post(format!("{}/api/v1/platform/bootstrap", second.base))
        .json(&json!({"token": token, "login": "ops", "password": STRONG_PASSWORD}))
        .send()
        .await
        .expect("bootstrap");
    assert_eq!(
        old.status(),
        StatusCode::FORBIDDEN,
        "the earlier token is void"
    );
    let ok = client
        .post(format!("{}/api/v1/platform/bootstrap", second.base))
        .json(&json!({"token": token2, "login": "ops", "password": STRONG_PASSWORD}))
        .send()
        .await
        .expect("bootstrap");
    assert_eq!(ok.status(), StatusCode::CREATED);
    drop(second);

    let third = serve(&mut serve_cmd(&data)).expect("third start");
    assert!(
        bootstrap_token(&third.stdout).is_none(),
        "no token once an operator exists"
    );
}

#[test]
fn a_master_key_readable_by_others_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    drop(serve(&mut serve_cmd(&data)).expect("first start"));
    std::fs::set_permissions(
        data.join("master.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let err = serve(&mut serve_cmd(&data)).err().expect("must refuse");
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn a_wrong_or_missing_master_key_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    drop(serve(&mut serve_cmd(&data)).expect("first start"));
    let key_path = data.join("master.key");
    let original = std::fs::read(&key_path).expect("key");

    std::fs::write(
        &key_path,
        format!("citadel-master-key-v1:{}\n", "ab".repeat(32)),
    )
    .expect("write");
    let err = serve(&mut serve_cmd(&data))
        .err()
        .expect("wrong key must refuse");
    assert!(err.contains("does not match"), "{err}");

    std::fs::remove_file(&key_path).expect("rm");
    let err = serve(&mut serve_cmd(&data))
        .err()
        .expect("missing key must refuse");
    assert!(err.contains("master.key"), "{err}");
    assert!(!key_path.exists(), "no new key is made for existing data");

    std::fs::write(&key_path, "not a key").expect("write");
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let err = serve(&mut serve_cmd(&data))
        .err()
        .expect("garbage key must refuse");
    assert!(err.contains("not a Citadel master key"), "{err}");

    std::fs::write(&key_path, original).expect("restore");
    assert!(
        serve(&mut serve_cmd(&data)).is_ok(),
        "the right key starts again"
    );
}

#[test]
fn an_explicit_master_key_file_must_exist() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cmd = serve_cmd(&tmp.path().join("data"));
    cmd.args(["--master-key-file", "/nonexistent/master.key"]);
    let err = serve(&mut cmd).err().expect("refused");
    assert!(err.contains("/nonexistent/master.key"), "{err}");
}

#[tokio::test]
async fn plain_http_only_when_asked_and_only_on_loopback() {
    common::install_crypto();
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let mut cmd = citadel();
    cmd.arg("--data-dir").arg(&data).args([
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--insecure-plain-http",
    ]);
    let err = serve(&mut cmd).err().expect("refused");
    assert!(err.contains("loopback"), "{err}");

    let mut cmd = citadel();
    cmd.arg("--data-dir").arg(&data).args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--insecure-plain-http",
    ]);
    let served = serve(&mut cmd).expect("plain http on loopback");
    assert!(served.base.starts_with("http://"), "{}", served.base);
    let r = reqwest::get(format!("{}/healthz", served.base))
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn tls_1_2_and_1_3_are_served_with_h2() {
    common::install_crypto();
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let served = serve(&mut serve_cmd(&data)).expect("start");
    let pem = std::fs::read(data.join("tls/cert.pem")).expect("cert");
    for (min, max) in [
        (
            reqwest::tls::Version::TLS_1_2,
            reqwest::tls::Version::TLS_1_2,
        ),
        (
            reqwest::tls::Version::TLS_1_3,
            reqwest::tls::Version::TLS_1_3,
        ),
    ] {
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("pem")])
            .tls_version_min(min)
            .tls_version_max(max)
            .build()
            .expect("client");
        let r = client
            .get(format!("{}/healthz", served.base))
            .send()
            .await
            .expect("handshake");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.version(), reqwest::Version::HTTP_2);
    }
}

#[tokio::test]
async fn flags_beat_environment_beats_config_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file_dir = tmp.path().join("from-file");
    let env_dir = tmp.path().join("from-env");
    let config = tmp.path().join("citadel.toml");
    std::fs::write(
        &config,
        format!("data_dir = \"{}\"\nlisten = \"127.0.0.1:0\"\nmax_body_bytes = 2048\nunknown_key = true\n", file_dir.display()),
    )
    .expect("config");

    // File only.
    let mut cmd = citadel();
    cmd.arg("--config").arg(&config).arg("serve");
    let served = serve(&mut cmd).expect("start from file");
    assert!(file_dir.join("master.key").exists());
    let client = https_client(&file_dir.join("tls/cert.pem"));
    let big = json!({"login": "x".repeat(4000), "password": "y"});
    let r = client
        .post(format!("{}/api/v1/platform/login", served.base))
        .json(&big)
        .send()
        .await
        .expect("post");
    assert_eq!(
        r.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "max_body_bytes from the file applies"
    );
    drop(served);

    // The environment beats the file.
    let mut cmd = citadel();
    cmd.env("CITADEL_DATA_DIR", &env_dir)
        .arg("--config")
        .arg(&config)
        .arg("serve");
    drop(serve(&mut cmd).expect("start from env"));
    assert!(env_dir.join("master.key").exists());

    // A flag beats the environment.
    let flag_dir = tmp.path().join("from-flag");
    let mut cmd = citadel();
    cmd.env("CITADEL_DATA_DIR", &env_dir)
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&flag_dir)
        .arg("serve");
    let served = serve(&mut cmd).expect("start from flag");
    assert!(flag_dir.join("master.key").exists());
    let body = readiness(&flag_dir, &served.base).await;
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn serves_on_postgres_when_configured() {
    let db = citadel_testkit::TestDatabase::create().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let mut cmd = serve_cmd(&data);
    cmd.env("CITADEL_DATABASE", &db.url);
    let served = serve(&mut cmd).expect("start on postgres");
    assert!(
        served
            .stdout
            .iter()
            .any(|l| l.contains("storage: postgres")),
        "{:?}",
        served.stdout
    );
    assert!(
        !data.join("platform.db").exists(),
        "nothing embedded when PostgreSQL is configured"
    );
    let body = readiness(&data, &served.base).await;
    assert_eq!(body["backend"], "postgres");
    drop(served);

    // Another data directory against the same database: its fresh key
    // cannot match, the start is refused and no key file is left behind.
    let other = tmp.path().join("other");
    let mut cmd = serve_cmd(&other);
    cmd.env("CITADEL_DATABASE", &db.url);
    let err = serve(&mut cmd).err().expect("refused");
    assert!(err.contains("does not match"), "{err}");
    assert!(!other.join("master.key").exists());
    // With the original key it starts.
    let mut cmd = serve_cmd(&other);
    cmd.env("CITADEL_DATABASE", &db.url)
        .arg("--master-key-file")
        .arg(data.join("master.key"));
    assert!(serve(&mut cmd).is_ok());
    db.drop_now().await;
}
