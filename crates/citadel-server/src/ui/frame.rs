//! What every page stands on: who is asking (through the same
//! authentication and choke point as the API), in which language, and
//! how a refusal becomes a page instead of problem+json.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use citadel_core::{Action, Pending, Principal};
use minijinja::{Value, context};

use crate::auth::{OperatorCaller, TenantCaller};
use crate::error::ApiError;
use crate::services::sessions::Proof;
use crate::state::AppState;
use crate::ui::render::{self, ASSET_VERSION, Lang};

/// A signed-in tenant user asking for a page. Without a session the
/// answer is the sign-in page (coming back here after); with a password
/// to change, the password page; with a second factor to enrol, the
/// account page.
pub struct TenantPage {
    pub caller: TenantCaller,
    pub lang: Lang,
}

impl FromRequestParts<AppState> for TenantPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = Lang::of(&parts.headers);
        let path = parts.uri.path().to_owned();
        let caller = match TenantCaller::from_request_parts(parts, state).await {
            Ok(caller) => caller,
            Err(ApiError::Unauthenticated) => {
                return Err(to_sign_in("/sign-in", parts));
            }
            Err(e) => return Err(error_page(lang, e)),
        };
        let pending = match caller.0.as_ref().map(|s| &s.principal) {
            Some(Principal::TenantUser { pending, .. }) => *pending,
            _ => Pending::Nothing,
        };
        match pending {
            Pending::PasswordChange if path != "/password" => {
                Err(Redirect::to("/password").into_response())
            }
            Pending::TotpEnrolment if path != "/account" => {
                Err(Redirect::to("/account").into_response())
            }
            _ => Ok(Self { caller, lang }),
        }
    }
}

impl TenantPage {
    /// Whether the choke point allows `action` to this user: what they
    /// may not do is not shown.
    pub fn may(&self, action: Action) -> bool {
        self.caller.authorize(action).is_ok()
    }

    /// The frame every tenant page shares: language, messages, the user,
    /// the tenant, the navigation this user may see and the anti-CSRF
    /// token the scripts send.
    pub fn frame(&self, section: &str) -> Value {
        let session = self.caller.0.as_ref();
        let csrf = session.and_then(|s| match &s.proof {
            Proof::Session { csrf_token, .. } => Some(csrf_token.clone()),
            Proof::AccessToken { .. } => None,
        });
        let identity = self.may(Action::ManageIdentity);
        let security = self.may(Action::ManageSecurity);
        let audit = self.may(Action::ReadAudit);
        let keys = self.may(Action::ManageKeys);
        // The administration link opens the first admin page this user's
        // duties reach (`/admin/<page>`); without any duty there is none.
        let admin = if identity {
            Some("users")
        } else if security || audit {
            Some("security")
        } else if keys {
            Some("keys")
        } else {
            None
        };
        context! {
            lang => self.lang.tag(),
            t => self.lang.messages(),
            v => ASSET_VERSION.as_str(),
            csrf => csrf,
            section => section,
            me => session.map(|s| s.login.clone()),
            tenant => session.map(|s| s.tenant.slug.to_string()),
            nav => context! {
                schema => self.may(Action::ManageSchema),
                identity => identity,
                audit => audit,
                security => security,
                keys => keys,
                admin => admin,
            },
        }
    }

    /// An error as a page in this user's language.
    pub fn error(&self, e: ApiError) -> Response {
        error_page(self.lang, e)
    }
}

/// A signed-in platform operator asking for a page; without a session,
/// the operator sign-in page.
pub struct OperatorPage {
    pub caller: OperatorCaller,
    pub lang: Lang,
    pub csrf: String,
}

impl FromRequestParts<AppState> for OperatorPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = Lang::of(&parts.headers);
        match OperatorCaller::from_request_parts(parts, state).await {
            Ok(caller) => {
                let csrf = crate::auth::operator_csrf(&parts.headers).unwrap_or_default();
                Ok(Self { caller, lang, csrf })
            }
            Err(ApiError::Unauthenticated) => Err(to_sign_in("/platform/sign-in", parts)),
            Err(e) => Err(error_page(lang, e)),
        }
    }
}

impl OperatorPage {
    pub fn frame(&self) -> Value {
        context! {
            lang => self.lang.tag(),
            t => self.lang.messages(),
            v => ASSET_VERSION.as_str(),
            csrf => self.csrf.clone(),
            section => "platform",
            operator => true,
        }
    }

    pub fn error(&self, e: ApiError) -> Response {
        error_page(self.lang, e)
    }
}

/// The frame of a page shown before anyone signs in.
pub fn public_frame(lang: Lang) -> Value {
    context! {
        lang => lang.tag(),
        t => lang.messages(),
        v => ASSET_VERSION.as_str(),
    }
}

/// To the sign-in page at `page`, returning to the page asked for after.
fn to_sign_in(page: &str, parts: &Parts) -> Response {
    let back = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let query = serde_urlencoded_next(&back);
    Redirect::to(&format!("{page}?next={query}")).into_response()
}

/// `next` percent-encoded for a query string.
fn serde_urlencoded_next(next: &str) -> String {
    let mut out = String::with_capacity(next.len());
    for byte in next.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(char::from(byte));
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// A refusal or failure as a page: the status, headers and markers of
/// the API's answer (the audit layer reads them), with an HTML body.
pub fn error_page(lang: Lang, e: ApiError) -> Response {
    let (status, code, _, detail, _) = e.parts();
    let key = match status {
        StatusCode::NOT_FOUND => "error_not_found",
        StatusCode::FORBIDDEN => "error_forbidden",
        StatusCode::UNAUTHORIZED => "error_unauthenticated",
        s if s.is_server_error() => "error_server",
        _ => "error_request",
    };
    let body = render::page(
        status,
        "message.html",
        context! {
            ..public_frame(lang),
            ..context! {
                heading => lang.text(key),
                detail => detail,
                code => code,
            }
        },
    );
    let (mut parts, _) = e.into_response().into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Response::from_parts(parts, body.into_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_return_address_is_encoded() {
        assert_eq!(
            serde_urlencoded_next("/tables/5?filter=a b&x=1"),
            "/tables/5%3Ffilter%3Da%20b%26x%3D1"
        );
    }
}
