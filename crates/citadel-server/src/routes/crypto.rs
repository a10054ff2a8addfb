//! The signing service for tenant apps: sign and verify with the tenant's
//! own key (Ed25519 or SM2, by its suite), digest with its hash (SHA-256
//! or SM3), and publish the public key for outside verifiers.

use axum::Json;
use axum::extract::State;
use base64ct::{Base64, Encoding};
use citadel_core::Action;
use citadel_crypto::Suite;
use citadel_crypto::suite::{PublicKey, SM2_DEFAULT_ID};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::TenantCaller;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::dto::Problem;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The bytes to sign (a document, or its digest), base64 with padding.
    pub data_base64: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub data_base64: String,
    /// 64 bytes: Ed25519's signature, or SM2's `r ‖ s`.
    pub signature_base64: String,
    /// Another signer's key in the tenant's algorithm; the tenant's own
    /// key when absent.
    pub public_key_base64: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DigestRequest {
    pub data_base64: String,
}

#[derive(Serialize, ToSchema)]
pub struct SignatureView {
    /// `Ed25519`, or `SM2` (with SM3 and the signer id, GB/T 32918.2).
    pub algorithm: &'static str,
    pub key_version: u32,
    pub signature_base64: String,
    pub public_key_base64: String,
    /// The SM2 signer id that verifiers must use; absent for Ed25519.
    pub signer_id: Option<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub struct VerifyView {
    pub valid: bool,
    pub algorithm: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct DigestView {
    /// `SHA-256` or `SM3`.
    pub algorithm: &'static str,
    pub digest_hex: String,
}

#[derive(Serialize, ToSchema)]
pub struct PublicKeyView {
    pub algorithm: &'static str,
    pub key_version: u32,
    /// Ed25519: 32 bytes; SM2: the 65-byte uncompressed point.
    pub public_key_base64: String,
    pub signer_id: Option<&'static str>,
}

fn decode(field: &'static str, text: &str) -> Result<Vec<u8>, ApiError> {
    Base64::decode_vec(text).map_err(|_| ApiError::BadRequest {
        code: "invalid_field",
        detail: format!("{field}: not base64 (standard alphabet, with padding)"),
        field: Some(field.into()),
    })
}

fn signer_id(suite: Suite) -> Option<&'static str> {
    (suite == Suite::Sm).then_some(SM2_DEFAULT_ID)
}

/// Signs data with the tenant's signing key.
#[utoipa::path(post, path = "/api/v1/crypto/sign", security(("tenant_session" = []), ("access_token" = [])), tag = "crypto", request_body = SignRequest,
    responses((status = 200, body = SignatureView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn sign(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<SignRequest>,
) -> Result<Json<SignatureView>, ApiError> {
    let (scope, _) = caller.authorize(Action::UseCryptoService)?;
    let data = decode("data_base64", &body.data_base64)?;
    let keyring = state.store().keyring(&scope).await?;
    let key = keyring.signing_key();
    let signature = key.sign(&data);
    Ok(Json(SignatureView {
        algorithm: keyring.suite().algorithms().signature,
        key_version: keyring.signing_version(),
        signature_base64: Base64::encode_string(&signature),
        public_key_base64: Base64::encode_string(&key.public_key().to_bytes()),
        signer_id: signer_id(keyring.suite()),
    }))
}

/// Checks a signature, by the tenant's key or another signer's key in the
/// tenant's algorithm. A signature that does not verify is `valid: false`.
#[utoipa::path(post, path = "/api/v1/crypto/verify", security(("tenant_session" = []), ("access_token" = [])), tag = "crypto", request_body = VerifyRequest,
    responses((status = 200, body = VerifyView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn verify(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<VerifyRequest>,
) -> Result<Json<VerifyView>, ApiError> {
    let (scope, _) = caller.authorize(Action::UseCryptoService)?;
    let data = decode("data_base64", &body.data_base64)?;
    let signature = decode("signature_base64", &body.signature_base64)?;
    let keyring = state.store().keyring(&scope).await?;
    let suite = keyring.suite();
    let public =
        match &body.public_key_base64 {
            None => keyring.public_key(),
            Some(text) => PublicKey::from_bytes(suite, &decode("public_key_base64", text)?)
                .map_err(|_| ApiError::BadRequest {
                    code: "invalid_field",
                    detail: format!(
                        "public_key_base64: not a {} public key",
                        suite.algorithms().signature
                    ),
                    field: Some("public_key_base64".into()),
                })?,
        };
    Ok(Json(VerifyView {
        valid: public.verify(&data, &signature).is_ok(),
        algorithm: suite.algorithms().signature,
    }))
}

/// The tenant suite's digest of data.
#[utoipa::path(post, path = "/api/v1/crypto/digest", security(("tenant_session" = []), ("access_token" = [])), tag = "crypto", request_body = DigestRequest,
    responses((status = 200, body = DigestView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn digest(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<DigestRequest>,
) -> Result<Json<DigestView>, ApiError> {
    let (scope, _) = caller.authorize(Action::UseCryptoService)?;
    let data = decode("data_base64", &body.data_base64)?;
    let suite = state.store().keyring(&scope).await?.suite();
    Ok(Json(DigestView {
        algorithm: suite.algorithms().digest,
        digest_hex: hex::encode(suite.digest(&data)),
    }))
}

/// The tenant's public signing key, for verifiers outside Citadel.
#[utoipa::path(get, path = "/api/v1/crypto/public-key", security(("tenant_session" = []), ("access_token" = [])), tag = "crypto",
    responses((status = 200, body = PublicKeyView), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn public_key(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<PublicKeyView>, ApiError> {
    let (scope, _) = caller.authorize(Action::UseCryptoService)?;
    let keyring = state.store().keyring(&scope).await?;
    Ok(Json(PublicKeyView {
        algorithm: keyring.suite().algorithms().signature,
        key_version: keyring.signing_version(),
        public_key_base64: Base64::encode_string(&keyring.public_key().to_bytes()),
        signer_id: signer_id(keyring.suite()),
    }))
}
