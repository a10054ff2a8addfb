//! The per-address sign-in throttle holds against parallel guesses: an
//! attempt counts when it starts, not when its password hash finishes.

mod common;

use citadel_core::throttle::ThrottlePolicy;
use common::{Backend, STRONG_PASSWORD, TestServer};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_parallel_burst_gets_no_more_guesses_than_the_limit() {
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.login_throttle = ThrottlePolicy {
            max_failures: 3,
            window_ms: 15 * 60 * 1000,
        };
    })
    .await;
    let operator = server.operator().await;
    let (_, login, _) = server.create_tenant(&operator, "burst").await;
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..12 {
        let request = server.client.post(server.url("/api/v1/auth/login")).json(
            &json!({"tenant": "burst", "login": login, "password": format!("Guess-{i}-Passw0rd!")}),
        );
        burst.spawn(async move { request.send().await.map(|r| r.status()) });
    }
    let statuses: Vec<StatusCode> = burst
        .join_all()
        .await
        .into_iter()
        .map(|r| r.expect("response"))
        .collect();
    let count = |status| statuses.iter().filter(|s| **s == status).count();
    assert_eq!(count(StatusCode::UNAUTHORIZED), 3, "{statuses:?}");
    assert_eq!(count(StatusCode::TOO_MANY_REQUESTS), 9, "{statuses:?}");
    // Operator sign-in from the same address shares the count.
    let r = server
        .post(
            "/api/v1/platform/login",
            None,
            &json!({"login": "ops", "password": STRONG_PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    server.stop().await;
}
