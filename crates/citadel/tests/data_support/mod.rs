//! Helpers shared by the data model's HTTP tests (`data_api.rs`,
//! `data_records.rs`, `data_schema.rs`): a signed-in caller that sends JSON
//! with its anti-CSRF token, and the paths and ids those tests use.

#![allow(dead_code)]

use reqwest::{Method, Response, StatusCode};
use serde_json::Value;

use crate::common::{TestServer, csrf_for, expect_problem};
use crate::identity_support::body;

/// A signed-in caller.
pub struct Api<'a> {
    pub server: &'a TestServer,
    pub cookie: String,
}

impl<'a> Api<'a> {
    pub fn new(server: &'a TestServer, cookie: &str) -> Self {
        let cookie = cookie.to_owned();
        Self { server, cookie }
    }

    /// A request with the anti-CSRF token and, if given, `If-Match`.
    pub async fn send_if(
        &self,
        method: Method,
        path: &str,
        tag: Option<&str>,
        value: Value,
    ) -> Response {
        let headers: Vec<(&str, &str)> = tag.map(|tag| ("if-match", tag)).into_iter().collect();
        self.send_with(method, path, &headers, value).await
    }

    /// A request with the anti-CSRF token and `headers`.
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        value: Value,
    ) -> Response {
        let url = self.server.url(path);
        let mut req = self.server.client.request(method, url);
        req = req.header("cookie", &self.cookie);
        if let Some(csrf) = csrf_for(&self.cookie) {
            req = req.header("x-csrf-token", csrf);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if !value.is_null() {
            req = req.json(&value);
        }
        req.send().await.expect("request")
    }

    pub async fn send(&self, method: Method, path: &str, value: Value) -> Response {
        self.send_if(method, path, None, value).await
    }

    pub async fn ok(&self, method: Method, path: &str, value: Value, status: StatusCode) -> Value {
        body(self.send(method, path, value).await, status).await
    }

    pub async fn get(&self, path: &str) -> Value {
        self.ok(Method::GET, path, Value::Null, StatusCode::OK)
            .await
    }

    pub async fn create(&self, path: &str, value: Value) -> Value {
        self.ok(Method::POST, path, value, StatusCode::CREATED)
            .await
    }

    /// Asserts a problem with `want`'s status and code; returns its body.
    pub async fn refused(
        &self,
        method: Method,
        path: &str,
        value: Value,
        want: (StatusCode, &str),
    ) -> Value {
        expect_problem(self.send(method, path, value).await, want.0, want.1).await
    }
}

/// The `id` of a created object.
pub fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

/// The records collection of a table.
pub fn records(table: &str) -> String {
    format!("/api/v1/tables/{table}/records")
}
