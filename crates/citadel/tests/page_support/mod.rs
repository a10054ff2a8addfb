//! Helpers shared by the HTTP tests of the web pages (`ui_pages.rs`,
//! `ui_admin_pages.rs`): a client that shows redirects instead of
//! following them, and a page fetched as a user sees it.

#![allow(dead_code)]

use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use reqwest::{Client, StatusCode, redirect};
use serde_json::Value;

use crate::common::{TestServer, install_crypto};
use crate::identity_support::body;

/// A client that does not follow redirects, trusting the server's certificate.
pub fn manual_client(server: &TestServer) -> Client {
    install_crypto();
    let pem = std::fs::read(server.data_path().join("tls/cert.pem")).expect("certificate");
    Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("pem")])
        .redirect(redirect::Policy::none())
        .build()
        .expect("client")
}

/// A page as `cookie` sees it: status and HTML, which must carry the CSP.
pub async fn page(server: &TestServer, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let r = server.get(path, cookie).await;
    let status = r.status();
    let is_html = r
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let csp = r.headers().get(CONTENT_SECURITY_POLICY).is_some();
    let text = r.text().await.expect("body");
    assert!(is_html, "{path} answers HTML: {text}");
    assert!(csp, "{path} carries the CSP");
    (status, text)
}

/// The JSON body of a 201.
pub async fn created(r: reqwest::Response) -> Value {
    body(r, StatusCode::CREATED).await
}
