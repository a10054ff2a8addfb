//! Pages before and around sign-in: the tenant user's sign-in with its
//! second-factor step, the forced password change, and the platform
//! operator's sign-in (or, before any operator exists, the bootstrap).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use crate::state::AppState;
use crate::ui::frame::{TenantPage, public_frame};
use crate::ui::render::{Lang, page};

#[derive(Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    tenant: Option<String>,
}

/// Where to go after signing in: a path of this site only, never
/// `//elsewhere` or a full URL, which would make an open redirect. Only
/// visible ASCII is let through: browsers drop tabs and line breaks from
/// a URL and read `\` as `/`, so `/<tab>/evil` would become `//evil`.
/// The return addresses this server makes are percent-encoded ASCII.
fn local_path(next: Option<&str>, default: &str) -> String {
    let local = |p: &str| {
        let mut bytes = p.bytes();
        bytes.next() == Some(b'/')
            && !matches!(bytes.next(), Some(b'/' | b'\\'))
            && p.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
    };
    match next {
        Some(p) if local(p) => p.to_owned(),
        _ => default.to_owned(),
    }
}

/// The sign-in form. The password and the second factor go to the API in
/// one request (`POST /api/v1/auth/login`): the page asks for the code
/// when the API answers `second_factor_required`.
pub async fn sign_in(headers: HeaderMap, Query(query): Query<SignInQuery>) -> Response {
    let lang = Lang::of(&headers);
    page(
        StatusCode::OK,
        "sign_in.html",
        context! {
            ..public_frame(lang),
            ..context! {
                next => local_path(query.next.as_deref(), "/apps"),
                tenant => query.tenant,
            }
        },
    )
}

/// The password change, forced after a one-time or expired password.
pub async fn password(page_for: TenantPage) -> Response {
    let forced = matches!(
        page_for.caller.0.as_ref().map(|s| &s.principal),
        Some(citadel_core::Principal::TenantUser {
            pending: citadel_core::Pending::PasswordChange,
            ..
        })
    );
    page(
        StatusCode::OK,
        "password.html",
        context! { ..page_for.frame("account"), ..context! { forced => forced } },
    )
}

/// The operator's sign-in, or the first operator's creation with the
/// bootstrap token while there is none.
pub async fn operator_sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<SignInQuery>,
) -> Response {
    let lang = Lang::of(&headers);
    let bootstrap = match state.store().operator_count().await {
        Ok(count) => count == 0,
        Err(e) => return crate::ui::frame::error_page(lang, e.into()),
    };
    page(
        StatusCode::OK,
        "operator_sign_in.html",
        context! {
            ..public_frame(lang),
            ..context! {
                next => local_path(query.next.as_deref(), "/platform"),
                bootstrap => bootstrap,
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/tables/1"), "/apps"), "/tables/1");
        for evil in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "/\\\\evil",
            "evil",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/ /evil.example",
            "/tables/1\\..\\..\\evil",
            "/\u{3000}/evil.example",
        ] {
            assert_eq!(local_path(Some(evil), "/apps"), "/apps", "{evil}");
        }
        assert_eq!(local_path(None, "/apps"), "/apps");
        assert_eq!(
            local_path(Some("/tables/5%3Ffilter%3Da%2520b"), "/apps"),
            "/tables/5%3Ffilter%3Da%2520b",
            "the return addresses this server makes pass"
        );
    }
}
