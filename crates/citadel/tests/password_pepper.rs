//! Users' password hashes are keyed with their tenant's pepper: HMAC-SM3
//! for an `sm` tenant, HMAC-SHA-256 for an `intl` one. The first admin's
//! one-time password, hashed before the tenant had keys, is re-hashed with
//! the pepper at the first sign-in; a hash read out of the database does
//! not verify without the pepper, which only the KMS-sealed keyring holds.

mod common;

use citadel_core::{Action, LoginName, Principal, Resource, TenantId, TenantStatus, authorize};
use citadel_crypto::SecretString;
use citadel_crypto::password::verify_password;
use common::{Backend, STRONG_PASSWORD, TestServer};
use reqwest::StatusCode;

/// The stored hash of `login` in tenant `tenant`, read through the store as
/// the server process itself.
async fn stored_hash(server: &TestServer, tenant: &str, login: &str) -> String {
    let id = TenantId::parse(tenant).expect("tenant id");
    let scope = authorize(
        &Principal::LocalAdministrator,
        Action::MaintainTenantData,
        Resource::Tenant {
            id,
            status: TenantStatus::Active,
        },
    )
    .ok()
    .and_then(|a| a.into_tenant())
    .expect("the server process reaches its tenants");
    let db = server.store.tenant(&scope).await.expect("tenant");
    db.auth()
        .find_user_by_login(&LoginName::parse(login).expect("login"))
        .await
        .expect("lookup")
        .expect("user")
        .password_hash
}

async fn story(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    for (slug, suite, algorithm) in [
        ("guoban", "sm", "$argon2id-hmac-sm3$"),
        ("acme", "intl", "$argon2id-hmac-sha256$"),
    ] {
        let (tenant, login, otp) = server.create_tenant_in_suite(&op, slug, suite).await;
        let tenant = tenant["id"].as_str().expect("id").to_owned();
        let before = stored_hash(&server, &tenant, &login).await;
        assert!(
            before.starts_with("$argon2id$"),
            "made before the keys: {before}"
        );

        // The first sign-in upgrades the one-time password's hash.
        let r = server.login(slug, &login, &otp).await;
        assert_eq!(r.status(), StatusCode::OK);
        let upgraded = stored_hash(&server, &tenant, &login).await;
        assert!(upgraded.starts_with(algorithm), "{upgraded}");
        assert!(!verify_password(
            &SecretString::new(otp.clone()),
            &upgraded,
            None
        ));

        // A changed password is peppered, and signs in.
        let cookie = common::cookie_from(&r, "citadel_session").expect("cookie");
        let r = server
            .post(
                "/api/v1/auth/password",
                Some(&cookie),
                &serde_json::json!({"current_password": otp, "new_password": STRONG_PASSWORD}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let changed = stored_hash(&server, &tenant, &login).await;
        assert!(changed.starts_with(algorithm), "{changed}");
        assert!(
            !verify_password(&SecretString::new(STRONG_PASSWORD.into()), &changed, None),
            "the stored hash alone does not confirm the password"
        );
        let r = server.login(slug, &login, STRONG_PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = server.login(slug, &login, "Wrong-Passw0rd!").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    server.stop().await;
}

#[tokio::test]
async fn password_hashes_are_peppered_on_sqlite() {
    story(Backend::Sqlite).await;
}

#[tokio::test]
async fn password_hashes_are_peppered_on_postgres() {
    story(Backend::Postgres).await;
}
