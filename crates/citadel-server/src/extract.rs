//! Request extractors that turn every malformed input into a clear
//! problem+json 4xx instead of the framework's plain-text rejections.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body. DTOs deny unknown fields, so a misspelt field is a 400 that
/// names it rather than a silently ignored value.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.settings().max_body_bytes;
        if !json_content_type(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit }
            } else {
                ApiError::bad_request("unreadable_body", e.body_text())
            }
        })?;
        // Most bodies are good: they are read without tracking the path
        // into them, which costs a third of the time of a big batch. A bad
        // one is read again the framework's way, which names where it fails.
        match serde_json::from_slice(&body) {
            Ok(value) => Ok(Self(value)),
            Err(_) => match Json::<T>::from_bytes(&body) {
                Ok(Json(value)) => Ok(Self(value)),
                Err(rejection) => Err(json_rejection(rejection, limit)),
            },
        }
    }
}

/// `application/json` or any `application/*+json`, as the framework's own
/// JSON extractor accepts.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence
        .strip_prefix("application/")
        .is_some_and(|subtype| subtype == "json" || subtype.ends_with("+json"))
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

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn json_media_types_are_recognised() {
        for (value, json) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/problem+json", true),
            ("text/json", false),
            ("application/jsonx", false),
            ("multipart/form-data", false),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(json_content_type(&headers), json, "{value}");
        }
        assert!(!json_content_type(&HeaderMap::new()));
    }
}
