//! The signing service through the real server, on both backends: each
//! tenant signs and digests with its own suite (SM2/SM3 or Ed25519/SHA-256),
//! signatures verify inside and outside Citadel, and another tenant's key
//! or a changed byte does not verify.

mod common;
mod identity_support;

use base64ct::{Base64, Encoding};
use citadel_crypto::Suite;
use citadel_crypto::suite::PublicKey;
use common::{Backend, STRONG_PASSWORD, TestServer};
use identity_support::{body, with_bearer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn b64(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

async fn call(server: &TestServer, cookie: &str, path: &str, payload: Value) -> Value {
    body(
        server.post(path, Some(cookie), &payload).await,
        StatusCode::OK,
    )
    .await
}

async fn story(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let sm = server.tenant_admin_in_suite(&op, "guoban", "sm").await;
    let intl = server.tenant_admin_in_suite(&op, "acme", "intl").await;
    let contract = "合同 2026-001：甲方、乙方".as_bytes();

    // Digests are the suite's, checked against the standards' vectors.
    let d = call(
        &server,
        &sm,
        "/api/v1/crypto/digest",
        json!({"data_base64": b64(b"abc")}),
    )
    .await;
    assert_eq!(d["algorithm"], "SM3");
    assert_eq!(
        d["digest_hex"],
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    );
    let d = call(
        &server,
        &intl,
        "/api/v1/crypto/digest",
        json!({"data_base64": b64(b"abc")}),
    )
    .await;
    assert_eq!(d["algorithm"], "SHA-256");
    assert_eq!(
        d["digest_hex"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );

    for (cookie, algorithm, suite, key_len) in [
        (&sm, "SM2", Suite::Sm, 65),
        (&intl, "Ed25519", Suite::Intl, 32),
    ] {
        let signed = call(
            &server,
            cookie,
            "/api/v1/crypto/sign",
            json!({"data_base64": b64(contract)}),
        )
        .await;
        assert_eq!(signed["algorithm"], algorithm);
        assert_eq!(signed["key_version"], 1);
        let signature = signed["signature_base64"]
            .as_str()
            .expect("signature")
            .to_owned();
        let public =
            Base64::decode_vec(signed["public_key_base64"].as_str().expect("key")).expect("base64");
        assert_eq!(public.len(), key_len);
        let published = call_get(&server, cookie).await;
        assert_eq!(published["public_key_base64"], signed["public_key_base64"]);
        assert_eq!(
            published["signer_id"],
            if suite == Suite::Sm {
                json!("1234567812345678")
            } else {
                Value::Null
            }
        );

        // Outside Citadel, with only the published key.
        PublicKey::from_bytes(suite, &public)
            .expect("public key")
            .verify(contract, &Base64::decode_vec(&signature).expect("base64"))
            .expect("verifies outside Citadel");

        let verify = |data: &[u8], extra: Option<&str>| {
            let mut payload = json!({"data_base64": b64(data), "signature_base64": signature});
            if let Some(key) = extra {
                payload["public_key_base64"] = json!(key);
            }
            payload
        };
        let v = call(
            &server,
            cookie,
            "/api/v1/crypto/verify",
            verify(contract, None),
        )
        .await;
        assert_eq!(v["valid"], true);
        assert_eq!(v["algorithm"], algorithm);
        let v = call(
            &server,
            cookie,
            "/api/v1/crypto/verify",
            verify(b"changed", None),
        )
        .await;
        assert_eq!(v["valid"], false);
        let own = signed["public_key_base64"].as_str().expect("key");
        let v = call(
            &server,
            cookie,
            "/api/v1/crypto/verify",
            verify(contract, Some(own)),
        )
        .await;
        assert_eq!(v["valid"], true, "by the key given explicitly");
    }

    // The sm tenant's signature means nothing under the intl tenant's key.
    let signed = call(
        &server,
        &sm,
        "/api/v1/crypto/sign",
        json!({"data_base64": b64(contract)}),
    )
    .await;
    let v = call(
        &server,
        &intl,
        "/api/v1/crypto/verify",
        json!({"data_base64": b64(contract), "signature_base64": signed["signature_base64"]}),
    )
    .await;
    assert_eq!(v["valid"], false);

    // Bad input: a clear 400 naming the field.
    for (payload, field) in [
        (json!({"data_base64": "%%%"}), "data_base64"),
        (
            json!({"data_base64": b64(contract), "signature_base64": "not base64!"}),
            "signature_base64",
        ),
        (
            json!({"data_base64": b64(contract), "signature_base64": b64(&[0; 64]), "public_key_base64": b64(&[4; 65])}),
            "public_key_base64",
        ),
    ] {
        let path = if payload.get("signature_base64").is_some() {
            "/api/v1/crypto/verify"
        } else {
            "/api/v1/crypto/sign"
        };
        let problem = body(
            server.post(path, Some(&sm), &payload).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(problem["field"], field, "{problem}");
    }
    let v = call(
        &server,
        &sm,
        "/api/v1/crypto/verify",
        json!({"data_base64": b64(contract), "signature_base64": b64(&[1; 10])}),
    )
    .await;
    assert_eq!(v["valid"], false, "a short signature is simply not valid");

    server.stop().await;
}

async fn call_get(server: &TestServer, cookie: &str) -> Value {
    body(
        server.get("/api/v1/crypto/public-key", Some(cookie)).await,
        StatusCode::OK,
    )
    .await
}

#[tokio::test]
async fn signing_service_on_sqlite() {
    story(Backend::Sqlite).await;
}

#[tokio::test]
async fn signing_service_on_postgres() {
    story(Backend::Postgres).await;
}

#[tokio::test]
async fn an_access_token_signs_for_a_script() {
    let server = TestServer::start(Backend::Sqlite).await;
    let op = server.operator().await;
    let admin = server.tenant_admin_in_suite(&op, "guoban", "sm").await;
    let created = body(
        server
            .post(
                "/api/v1/me/tokens",
                Some(&admin),
                &json!({"name": "签章脚本", "expires_in_days": 1, "password": STRONG_PASSWORD}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let secret = created["secret"].as_str().expect("secret");
    let payload = json!({"data_base64": b64(b"invoice 42")});
    let r = with_bearer(
        &server,
        Method::POST,
        "/api/v1/crypto/sign",
        secret,
        Some(&payload),
    )
    .await;
    let signed = body(r, StatusCode::OK).await;
    assert_eq!(signed["algorithm"], "SM2");
    let r = with_bearer(
        &server,
        Method::POST,
        "/api/v1/crypto/sign",
        "cit_bogus",
        Some(&payload),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}
