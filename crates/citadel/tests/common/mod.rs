//! The test harness: the real server, in process, on port 0, with a fresh
//! data directory, spoken to over HTTPS that verifies its certificate.

#![allow(dead_code)]

pub mod process;

use std::path::PathBuf;

use citadel_server::{Application, ServerConfig};
use citadel_testkit::TestDatabase;
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    pub base: String,
    pub client: Client,
    pub data_dir: tempfile::TempDir,
    pub bootstrap_token: Option<String>,
    pub backend: Backend,
    pub database_url: Option<String>,
    /// The running server's store, to drive its housekeeping directly.
    pub store: std::sync::Arc<citadel_store::Store>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pg: Option<TestDatabase>,
}

pub const STRONG_PASSWORD: &str = "Sturdy-Passw0rd!";

pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client that trusts exactly the server's own certificate.
pub fn https_client(cert: &std::path::Path) -> Client {
    install_crypto();
    let pem = std::fs::read(cert).expect("server certificate");
    let cert = reqwest::Certificate::from_pem(&pem).expect("pem");
    Client::builder()
        .tls_certs_only([cert])
        .build()
        .expect("client")
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        install_crypto();
        let data_dir = tempfile::tempdir().expect("tempdir");
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(TestDatabase::create().await),
        };
        let mut config = ServerConfig::embedded(data_dir.path().join("data"));
        config.listen = "127.0.0.1:0".parse().expect("addr");
        config.database_url = pg.as_ref().map(|d| d.url.clone());
        adjust(&mut config);
        let database_url = config.database_url.clone();
        let app = Application::build(config.clone())
            .await
            .expect("server starts");
        let scheme = if app.is_tls() { "https" } else { "http" };
        let base = format!("{scheme}://{}", app.local_addr());
        let bootstrap_token = app.bootstrap_token().map(|t| t.expose().to_owned());
        let client = if app.is_tls() {
            https_client(&config.data_dir.join("tls/cert.pem"))
        } else {
            Client::new()
        };
        let store = app.shared_store();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        Self {
            base,
            client,
            data_dir,
            bootstrap_token,
            backend,
            database_url,
            store,
            shutdown: Some(tx),
            task: Some(task),
            pg,
        }
    }

    /// Runs `sql` in a tenant's own database (file or schema), as the
    /// tests' way of letting time pass: `sql` moves stored timestamps back.
    pub async fn tenant_sql(&self, tenant_id: &str, sql: &str) {
        match &self.pg {
            None => {
                let path = self
                    .data_path()
                    .join("tenants")
                    .join(tenant_id)
                    .join("data.db");
                citadel_testkit::sqlite_exec(&path, sql).await;
            }
            Some(pg) => {
                let schema = format!("t_{}", tenant_id.replace('-', ""));
                pg.as_superuser(&format!("SET search_path = \"{schema}\"; {sql}"))
                    .await;
            }
        }
    }

    /// A client that trusts the server and connects from `ip` (any
    /// 127.x.y.z address works on Linux loopback), to sign in from
    /// another network.
    pub fn client_from(&self, ip: std::net::IpAddr) -> Client {
        let pem = std::fs::read(self.data_path().join("tls/cert.pem")).expect("server certificate");
        let cert = reqwest::Certificate::from_pem(&pem).expect("pem");
        Client::builder()
            .tls_certs_only([cert])
            .local_address(ip)
            .build()
            .expect("client")
    }

    /// The PostgreSQL test database, on that backend.
    pub fn postgres(&self) -> Option<&TestDatabase> {
        self.pg.as_ref()
    }

    pub fn data_path(&self) -> PathBuf {
        self.data_dir.path().join("data")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(pg) = self.pg.take() {
            pg.drop_now().await;
        }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        req.send().await.expect("request")
    }

    /// Sends a JSON request with a session cookie but without the anti-CSRF
    /// header, as a forged cross-site request would.
    pub async fn send_without_csrf(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: &str,
        body: &Value,
    ) -> Response {
        self.client
            .request(method, self.url(path))
            .json(body)
            .header(COOKIE, cookie)
            .send()
            .await
            .expect("request")
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: Option<&str>,
        body: &Value,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path)).json(body);
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
            if let Some(csrf) = csrf_for(c) {
                req = req.header("x-csrf-token", csrf);
            }
        }
        req.send().await.expect("request")
    }

    pub async fn post(&self, path: &str, cookie: Option<&str>, body: &Value) -> Response {
        self.send_json(reqwest::Method::POST, path, cookie, body)
            .await
    }

    /// Bootstraps the first operator and signs in; returns their cookie.
    pub async fn operator(&self) -> String {
        let token = self
            .bootstrap_token
            .clone()
            .expect("fresh server has a bootstrap token");
        let r = self
            .post(
                "/api/v1/platform/bootstrap",
                None,
                &json!({"token": token, "login": "ops", "password": STRONG_PASSWORD}),
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{}",
            r.text().await.unwrap_or_default()
        );
        self.operator_login("ops", STRONG_PASSWORD)
            .await
            .expect("operator login")
    }

    pub async fn operator_login(&self, login: &str, password: &str) -> Option<String> {
        let r = self
            .post(
                "/api/v1/platform/login",
                None,
                &json!({"login": login, "password": password}),
            )
            .await;
        (r.status() == StatusCode::OK)
            .then(|| cookie_from(&r, "citadel_operator"))
            .flatten()
    }

    /// Creates a tenant through the API; returns (tenant JSON, admin login, one-time password).
    pub async fn create_tenant(&self, operator: &str, slug: &str) -> (Value, String, String) {
        self.create_tenant_in_suite(operator, slug, "intl").await
    }

    /// [`TestServer::create_tenant`] with the algorithm suite `suite`.
    pub async fn create_tenant_in_suite(
        &self,
        operator: &str,
        slug: &str,
        suite: &str,
    ) -> (Value, String, String) {
        let r = self
            .post(
                "/api/v1/platform/tenants",
                Some(operator),
                &json!({"slug": slug, "admin_email": format!("admin@{slug}.cn"), "suite": suite}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let body: Value = r.json().await.expect("json");
        let login = body["admin_login"].as_str().expect("login").to_owned();
        let otp = body["one_time_password"].as_str().expect("otp").to_owned();
        (body["tenant"].clone(), login, otp)
    }

    /// Signs in; returns the response.
    pub async fn login(&self, tenant: &str, login: &str, password: &str) -> Response {
        self.post(
            "/api/v1/auth/login",
            None,
            &json!({"tenant": tenant, "login": login, "password": password}),
        )
        .await
    }

    /// A tenant with its admin signed in and past the forced password
    /// change; returns the admin's session cookie.
    pub async fn tenant_admin(&self, operator: &str, slug: &str) -> String {
        self.tenant_admin_in_suite(operator, slug, "intl").await
    }

    /// [`TestServer::tenant_admin`] of a tenant in the suite `suite`.
    pub async fn tenant_admin_in_suite(&self, operator: &str, slug: &str, suite: &str) -> String {
        let (_, login, otp) = self.create_tenant_in_suite(operator, slug, suite).await;
        let r = self.login(slug, &login, &otp).await;
        assert_eq!(r.status(), StatusCode::OK);
        let cookie = cookie_from(&r, "citadel_session").expect("session cookie");
        let r = self
            .post(
                "/api/v1/auth/password",
                Some(&cookie),
                &json!({"current_password": otp, "new_password": STRONG_PASSWORD}),
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::NO_CONTENT,
            "{}",
            r.text().await.unwrap_or_default()
        );
        cookie
    }
}

/// The `slug` of every tenant in a JSON list of tenants.
pub fn slugs(list: &Value) -> Vec<&str> {
    list.as_array()
        .map(|a| a.iter().filter_map(|t| t["slug"].as_str()).collect())
        .unwrap_or_default()
}

/// The anti-CSRF token the server expects with a session cookie
/// (`citadel_session=<tenant>.<token>` or `citadel_operator=<token>`): the
/// same derivation the server uses. Tests of the CSRF check itself compare
/// it with the token the sign-in response returns.
pub fn csrf_for(cookie: &str) -> Option<String> {
    let (_, value) = cookie.split_once('=')?;
    let token = value.split_once('.').map_or(value, |(_, token)| token);
    Some(citadel_crypto::token::csrf_token(token))
}

/// `name=value` from a response's Set-Cookie, ready for a Cookie header.
pub fn cookie_from(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// Asserts a problem+json response with `status` and `code`; returns the body.
pub async fn expect_problem(response: Response, status: StatusCode, code: &str) -> Value {
    let got = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    assert_eq!(content_type, "application/problem+json", "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    body
}

/// Runs an async test once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::common::Backend::Sqlite).await;
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name($crate::common::Backend::Postgres).await;
                }
            }
        )*
    };
}
