//! Request extractors that turn every malformed input into a clear
//! problem+json 4xx instead of the framework's plain-text rejections.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body. DTOs deny unknown fields, so a misspelt field is a 400 that
/// names it rather than a silently ignored value.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection, state.settings().max_body_bytes)),
        }
    }
}

fn json_rejection(rejection: JsonRejection, limit: usize) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::JsonSyntaxError(e) => ApiError::bad_request("malformed_json", e.body_text()),
        JsonRejection::JsonDataError(e) => ApiError::bad_request("invalid_body", e.body_text()),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge { limit }
        }
        other => ApiError::bad_request("unreadable_body", other.body_text()),
    }
}

/// Query parameters; an unknown or malformed one is a 400 that names it.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|e| {
                let text = e.body_text();
                // serde names an unknown parameter in backquotes.
                let field = text
                    .split_once("unknown field `")
                    .and_then(|(_, rest)| rest.split_once('`'))
                    .map(|(name, _)| name.chars().take(64).collect());
                ApiError::BadRequest {
                    code: "invalid_query",
                    detail: text,
                    field,
                }
            })
    }
}

/// Parses an id from the path; a malformed one is a 400 naming `field`.
pub fn path_id<T>(
    field: &'static str,
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, citadel_core::CoreError>,
) -> Result<T, ApiError> {
    parse(raw).map_err(|e| ApiError::invalid_field(field, e))
}
