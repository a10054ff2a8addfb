//! The browser harness itself, against the real server over HTTPS: Chromium
//! installs if missing, opens a page, reads it, takes the phone width and a
//! screenshot, and reports console errors.

mod browser_support;
mod common;

use browser_support::Browser;
use common::{Backend, TestServer};
use serde_json::{Value, json};

#[tokio::test]
async fn chromium_opens_the_server_over_https() {
    let server = TestServer::start(Backend::Sqlite).await;
    let expected = server
        .get("/healthz", None)
        .await
        .text()
        .await
        .expect("healthz body");
    let browser = Browser::launch().await;

    browser.goto(&server.url("/healthz")).await;
    let shown = browser.text("body").await;
    assert!(
        shown.contains(expected.trim()),
        "the page shows {shown:?}, /healthz returns {expected:?}"
    );
    assert_eq!(browser.current_path().await, "/healthz");
    assert_eq!(browser.eval("return navigator.language").await, "zh-CN");

    browser.resize(390, 844).await;
    let viewport = browser
        .eval("return [window.innerWidth, window.innerHeight]")
        .await;
    assert_eq!(
        viewport,
        json!([390, 844]),
        "the viewport takes the phone size"
    );
    let shot = browser.screenshot("smoke").await;
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "{} is a PNG", shot.display());
    // The PNG header's width and height, big-endian, after its signature.
    let dimension = |at: usize| png.get(at..at + 4).map(|b| b.to_vec());
    assert_eq!(dimension(16), Some(390u32.to_be_bytes().to_vec()));
    assert_eq!(dimension(20), Some(844u32.to_be_bytes().to_vec()));

    // The server's CSP (default-src 'self') refuses an inline script; the
    // refusal must reach the test.
    let _ = browser.console_errors().await;
    browser
        .eval(
            "const s = document.createElement('script'); \
             s.textContent = 'window.ran = true'; document.body.append(s);",
        )
        .await;
    let errors = browser.console_errors().await;
    assert!(
        errors.iter().any(|e| e.contains("Content Security Policy")),
        "the CSP violation is reported: {errors:?}"
    );
    assert_eq!(browser.eval("return window.ran ?? null").await, Value::Null);

    browser.close().await;
    server.stop().await;
}
