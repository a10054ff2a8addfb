//! `citadel tenant …` against the data directory, also while the server
//! runs, on SQLite and PostgreSQL.

mod common;

use common::process::{citadel, run, serve};
use common::{Backend, STRONG_PASSWORD, https_client};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn args<'a>(data: &'a str, db: Option<&'a str>, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--data-dir", data];
    if let Some(url) = db {
        v.extend(["--database", url]);
    }
    v.extend(rest);
    v
}

async fn tenant_commands(backend: Backend) {
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(citadel_testkit::TestDatabase::create().await),
    };
    let db = pg.as_ref().map(|d| d.url.as_str());
    let tmp = tempfile::tempdir().expect("tempdir");
    let data_path = tmp.path().join("data");
    let data = data_path.to_str().expect("utf8");

    let out = run(&args(
        data,
        db,
        &[
            "tenant",
            "create",
            "acme",
            "--admin",
            "boss@acme.cn",
            "--suite",
            "sm",
            "--json",
        ],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).expect("json output");
    assert_eq!(created["tenant"]["slug"], "acme");
    assert_eq!(created["tenant"]["suite"], "sm");
    assert_eq!(created["admin_login"], "boss@acme.cn");
    let otp = created["one_time_password"]
        .as_str()
        .expect("otp")
        .to_owned();
    assert!(otp.len() >= 20);
    let id = created["tenant"]["id"].as_str().expect("id").to_owned();

    let out = run(&args(
        data,
        db,
        &["tenant", "create", "acme", "--admin", "x@acme.cn"],
    ));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    let out = run(&args(
        data,
        db,
        &["tenant", "create", "Bad_Slug", "--admin", "x@acme.cn"],
    ));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("slug"));

    let out = run(&args(
        data,
        db,
        &["tenant", "create", "bravo", "--admin", "ops@bravo.cn"],
    ));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("One-time password: "), "{text}");

    let out = run(&args(data, db, &["tenant", "list", "--json"]));
    let list: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(common::slugs(&list), ["acme", "bravo"]);

    // With the server running, the CLI's changes take effect at once.
    let mut cmd = citadel();
    cmd.args(args(data, db, &["serve", "--listen", "127.0.0.1:0"]));
    let served = serve(&mut cmd).expect("server");
    let client = https_client(&data_path.join("tls/cert.pem"));
    let login = |password: String| {
        client
            .post(format!("{}/api/v1/auth/login", served.base))
            .json(&json!({"tenant": "acme", "login": "boss@acme.cn", "password": password}))
            .send()
    };
    let r = login(otp.clone()).await.expect("login");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["user"]["must_change_password"], true);

    let out = run(&args(data, db, &["tenant", "suspend", "acme"]));
    assert!(out.status.success());
    assert_eq!(
        login(otp.clone()).await.expect("login").status(),
        StatusCode::FORBIDDEN
    );
    let out = run(&args(data, db, &["tenant", "resume", "acme"]));
    assert!(out.status.success());
    assert_eq!(
        login(otp.clone()).await.expect("login").status(),
        StatusCode::OK
    );

    // Destroy demands the slug again; without a terminal it needs --confirm.
    let out = run(&args(data, db, &["tenant", "destroy", "acme"]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--confirm acme"));
    let out = run(&args(
        data,
        db,
        &["tenant", "destroy", "acme", "--confirm", "acne"],
    ));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was destroyed"));
    assert_eq!(
        login(otp.clone()).await.expect("login").status(),
        StatusCode::OK,
        "still there"
    );
    let out = run(&args(
        data,
        db,
        &["tenant", "destroy", "acme", "--confirm", "acme"],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        login(otp.clone()).await.expect("login").status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(STRONG_PASSWORD.into()).await.expect("login").status(),
        StatusCode::UNAUTHORIZED
    );
    let out = run(&args(data, db, &["tenant", "list", "--json"]));
    let list: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    match &pg {
        None => assert!(!data_path.join("tenants").join(&id).exists()),
        Some(d) => assert_eq!(
            d.tenant_storage_left(&id.replace('-', "")).await,
            0,
            "schema and role dropped"
        ),
    }
    drop(served);
    if let Some(d) = pg {
        d.drop_now().await;
    }
}

on_both_backends!(tenant_commands);

/// At a terminal, destroy asks for the slug to be typed again.
#[test]
fn destroy_asks_for_the_slug_at_a_terminal() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let data = data.to_str().expect("utf8");
    assert!(
        run(&[
            "--data-dir",
            data,
            "tenant",
            "create",
            "acme",
            "--admin",
            "a@acme.cn"
        ])
        .status
        .success()
    );
    let bin = env!("CARGO_BIN_EXE_citadel");
    // util-linux `script` gives the command a pseudo-terminal.
    let at_terminal = |typed: &str| {
        let mut child = Command::new("script")
            .args([
                "-qec",
                &format!("{bin} --data-dir {data} tenant destroy acme"),
                "/dev/null",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script(1) from util-linux");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{typed}\n").as_bytes())
            .expect("type");
        child.wait_with_output().expect("wait")
    };
    let out = at_terminal("acne");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Type the slug to confirm"), "{text}");
    assert!(!out.status.success());
    assert!(text.contains("nothing was destroyed"), "{text}");
    let list: Value =
        serde_json::from_slice(&run(&["--data-dir", data, "tenant", "list", "--json"]).stdout)
            .expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(1));

    let out = at_terminal("acme");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let list: Value =
        serde_json::from_slice(&run(&["--data-dir", data, "tenant", "list", "--json"]).stdout)
            .expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(0));
}
