//! Platform operators: a signed-in operator lists the operators and adds
//! one with their own password confirmed, who signs in at once; the
//! password policy and unique logins hold; every attempt is in the
//! platform's audit log.

mod common;

use common::{Backend, STRONG_PASSWORD, TestServer, expect_problem};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn operators_add_operators() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let server = TestServer::start(backend).await;
        let ops = server.operator().await;
        let r = server
            .post(
                "/api/v1/platform/operators",
                Some(&ops),
                &json!({"current_password": STRONG_PASSWORD, "login": "second", "password": STRONG_PASSWORD}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{backend:?}");
        let list: Value = server
            .get("/api/v1/platform/operators", Some(&ops))
            .await
            .json()
            .await
            .expect("json");
        let logins: Vec<&str> = list
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|o| o["login"].as_str())
            .collect();
        assert_eq!(logins, ["ops", "second"]);
        assert!(
            list[0].get("password_hash").is_none(),
            "no credentials listed"
        );
        assert!(
            server
                .operator_login("second", STRONG_PASSWORD)
                .await
                .is_some(),
            "the new operator signs in"
        );
        let taken = server
            .post(
                "/api/v1/platform/operators",
                Some(&ops),
                &json!({"current_password": STRONG_PASSWORD, "login": "second", "password": STRONG_PASSWORD}),
            )
            .await;
        expect_problem(taken, StatusCode::CONFLICT, "conflict").await;
        let weak = server
            .post(
                "/api/v1/platform/operators",
                Some(&ops),
                &json!({"current_password": STRONG_PASSWORD, "login": "third", "password": "short"}),
            )
            .await;
        let problem = expect_problem(weak, StatusCode::BAD_REQUEST, "invalid_field").await;
        assert_eq!(problem["field"], "password");
        // The acting operator confirms with their own password: a session
        // alone makes no operator.
        let unconfirmed = server
            .post(
                "/api/v1/platform/operators",
                Some(&ops),
                &json!({"current_password": "Wrong-Passw0rd!", "login": "fourth", "password": STRONG_PASSWORD}),
            )
            .await;
        expect_problem(unconfirmed, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        assert!(
            server
                .operator_login("fourth", STRONG_PASSWORD)
                .await
                .is_none()
        );
        let events: Value = server
            .get(
                "/api/v1/platform/audit/events?action=operator.create",
                Some(&ops),
            )
            .await
            .json()
            .await
            .expect("json");
        let outcomes: Vec<&str> = events["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["outcome"].as_str())
            .collect();
        assert_eq!(outcomes.len(), 4, "every attempt is recorded: {events}");
        assert!(
            outcomes.contains(&"denied"),
            "the unconfirmed one as refused"
        );
        assert!(outcomes.contains(&"success"));
        server.stop().await;
    }
}
