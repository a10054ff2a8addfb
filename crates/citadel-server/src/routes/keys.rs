//! The tenant's keys for its security administrators: versions, what each
//! data key version protects, and rotation of the data key (the
//! re-encryption runs in the background; the status shows its progress).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use citadel_core::Action;
use citadel_store::KeyStatus;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::TenantCaller;
use crate::client::Client;
use crate::error::ApiError;
use crate::routes::dto::Problem;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct KeyVersionView {
    /// `data`, `index`, `integrity`, `signing` or `pepper`.
    pub purpose: &'static str,
    pub version: u32,
    /// `active` (seals), `previous` (opens what it sealed) or `retired`.
    pub state: String,
    pub created_at: i64,
    /// Data keys: how many stored values this version protects.
    pub values: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct KeyStatusView {
    /// `intl` or `sm`.
    pub suite: &'static str,
    pub cipher: &'static str,
    pub mac: &'static str,
    pub digest: &'static str,
    pub signature: &'static str,
    /// What holds the master key: `key file`, `command` or `passphrase`
    /// (never the key, nor a path).
    pub master_key: String,
    pub keys: Vec<KeyVersionView>,
    /// Values still sealed under the master key directly, from before the
    /// tenant had keys; the next re-encryption moves them.
    pub master_sealed_values: u64,
}

impl From<KeyStatus> for KeyStatusView {
    fn from(status: KeyStatus) -> Self {
        let algorithms = status.suite.algorithms();
        Self {
            suite: status.suite.as_str(),
            cipher: algorithms.cipher,
            mac: algorithms.mac,
            digest: algorithms.digest,
            signature: algorithms.signature,
            master_key: status.master_key_kind.to_owned(),
            keys: status
                .keys
                .into_iter()
                .map(|k| KeyVersionView {
                    purpose: k.key.purpose.as_str(),
                    version: k.key.version,
                    state: k.key.state,
                    created_at: k.key.created_at,
                    values: k.values,
                })
                .collect(),
            master_sealed_values: status.master_sealed_values,
        }
    }
}

/// The tenant's key versions and what its data keys protect.
#[utoipa::path(get, path = "/api/v1/keys", security(("tenant_session" = []), ("access_token" = [])), tag = "security",
    responses((status = 200, body = KeyStatusView), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn key_status(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<KeyStatusView>, ApiError> {
    let (scope, _) = caller.authorize(Action::ManageKeys)?;
    Ok(Json(state.store().key_status(&scope).await?.into()))
}

/// Adds a data key version, which seals from now on, and starts moving
/// what the older versions sealed to it; they are retired once they
/// protect nothing. `GET /api/v1/keys` shows the progress.
#[utoipa::path(post, path = "/api/v1/keys/rotate", security(("tenant_session" = []), ("access_token" = [])), tag = "security",
    responses((status = 202, body = KeyStatusView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn rotate(
    State(state): State<AppState>,
    Client(client): Client,
    caller: TenantCaller,
) -> Result<(StatusCode, Json<KeyStatusView>), ApiError> {
    let (scope, session) = caller.authorize(Action::ManageKeys)?;
    let store = state.shared_store();
    let version = store.rotate_data_key(&scope).await?;
    store
        .tenant(&scope)
        .await?
        .auth()
        .security_event(
            "data_key_rotated",
            Some(session.user),
            Some(client.ip),
            &json!({"version": version}),
        )
        .await?;
    let status = store.key_status(&scope).await?;
    tokio::spawn(async move {
        // Until the grace after the rotation has passed the older versions
        // wait; then a last pass moves whatever was sealed under them
        // meanwhile and retires them.
        loop {
            match store.reencrypt(&scope).await {
                Ok(done) => {
                    tracing::info!(moved = done.moved, retired = ?done.retired, waiting = ?done.waiting, "re-encryption pass");
                    let Some(after) = done.retire_after else {
                        break;
                    };
                    let wait = after.saturating_sub(citadel_store::now_millis()).max(0);
                    tokio::time::sleep(std::time::Duration::from_millis(
                        u64::try_from(wait).unwrap_or(0) + 1_000,
                    ))
                    .await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "re-encryption stopped; `citadel keys reencrypt` resumes it");
                    break;
                }
            }
        }
    });
    Ok((StatusCode::ACCEPTED, Json(status.into())))
}
