//! Support grants in the platform store, on SQLite and PostgreSQL: granted
//! to an operator by login, found only while live (not after they end,
//! not once revoked, not for another tenant or operator).

mod common;

use citadel_core::{
    Action, LoginName, OperatorAuthScope, OperatorId, Principal, Resource, TenantScope, authorize,
};
use citadel_store::{NewOperator, Store, StoreConfig, StoreError, now_millis};
use common::{assert_not_found, fresh_tenant, platform, postgres_config, scope, sqlite_config};

fn operator_scope() -> OperatorAuthScope {
    authorize(
        &Principal::Anonymous,
        Action::OperatorLogin,
        Resource::Platform,
    )
    .ok()
    .and_then(|a| a.into_operator_auth())
    .expect("anonymous callers may sign operators in")
}

async fn story(config: StoreConfig) {
    let store = Store::open(&config, common::master_key())
        .await
        .expect("open");
    let token = [7u8; 32];
    store
        .set_bootstrap_token_hash(&platform(), &token)
        .await
        .expect("token");
    let ops = OperatorId::generate();
    store
        .bootstrap_operator(
            &operator_scope(),
            &token,
            NewOperator {
                id: ops,
                login: LoginName::parse("ops").expect("login"),
                password_hash: "$argon2id$unused".into(),
            },
        )
        .await
        .expect("bootstrap");
    let (acme, admin) = fresh_tenant(&store, "acme").await;
    let (other, _) = fresh_tenant(&store, "other").await;
    let acme_scope: TenantScope = scope(acme.tenant());
    let now = now_millis();
    let login = LoginName::parse("ops").expect("login");

    let unknown = LoginName::parse("nobody").expect("login");
    assert_not_found(
        store
            .grant_support(&acme_scope, &unknown, "x", admin, now, now + 60_000)
            .await,
    );
    let grant = store
        .grant_support(&acme_scope, &login, "工单 #1", admin, now, now + 60_000)
        .await
        .expect("grant");
    assert!(grant.is_live(now) && grant.operator == ops);
    let live = |at: i64, tenant| {
        let store = &store;
        async move {
            store
                .live_support_grant(&operator_scope(), ops, tenant, at)
                .await
                .expect("lookup")
        }
    };
    assert_eq!(
        live(now + 1, acme.tenant()).await.map(|g| g.id),
        Some(grant.id)
    );
    assert!(live(now + 60_000, acme.tenant()).await.is_none(), "ended");
    assert!(
        live(now + 1, other.tenant()).await.is_none(),
        "another tenant"
    );
    assert!(
        store
            .live_support_grant(
                &operator_scope(),
                OperatorId::generate(),
                acme.tenant(),
                now + 1
            )
            .await
            .expect("lookup")
            .is_none(),
        "another operator"
    );
    // Each tenant sees and revokes only its own grants.
    assert!(
        store
            .support_grants(&scope(other.tenant()))
            .await
            .expect("list")
            .is_empty()
    );
    assert!(matches!(
        store
            .revoke_support(&scope(other.tenant()), grant.id, now)
            .await,
        Err(StoreError::NotFound(_))
    ));
    store
        .revoke_support(&acme_scope, grant.id, now + 2)
        .await
        .expect("revoke");
    assert!(live(now + 3, acme.tenant()).await.is_none(), "revoked");
    let listed = store.support_grants(&acme_scope).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, Some(now + 2));
}

#[tokio::test]
async fn support_grants_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    story(sqlite_config(&dir)).await;
}

#[tokio::test]
async fn support_grants_on_postgres() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = citadel_testkit::TestDatabase::create().await;
    story(postgres_config(&dir, &db)).await;
    db.drop_now().await;
}
