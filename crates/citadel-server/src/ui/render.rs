//! Templates, the two languages and the assets, all compiled into the
//! binary. Templates escape every value by default (their names end in
//! `.html`); nothing a user typed reaches a page unescaped.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Environment, Value};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The templates, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("message.html", include_str!("templates/message.html")),
    ("sign_in.html", include_str!("templates/sign_in.html")),
    ("password.html", include_str!("templates/password.html")),
    ("apps.html", include_str!("templates/apps.html")),
    ("app.html", include_str!("templates/app.html")),
    (
        "recycle_bin.html",
        include_str!("templates/recycle_bin.html"),
    ),
    ("schema.html", include_str!("templates/schema.html")),
    ("grid.html", include_str!("templates/grid.html")),
    ("record.html", include_str!("templates/record.html")),
    ("import.html", include_str!("templates/import.html")),
    ("audit.html", include_str!("templates/audit.html")),
    ("account.html", include_str!("templates/account.html")),
    ("platform.html", include_str!("templates/platform.html")),
    (
        "admin_macros.html",
        include_str!("templates/admin_macros.html"),
    ),
    (
        "admin_users.html",
        include_str!("templates/admin_users.html"),
    ),
    (
        "admin_departments.html",
        include_str!("templates/admin_departments.html"),
    ),
    (
        "admin_groups.html",
        include_str!("templates/admin_groups.html"),
    ),
    (
        "admin_group.html",
        include_str!("templates/admin_group.html"),
    ),
    (
        "admin_security.html",
        include_str!("templates/admin_security.html"),
    ),
    ("admin_keys.html", include_str!("templates/admin_keys.html")),
    (
        "operator_sign_in.html",
        include_str!("templates/operator_sign_in.html"),
    ),
];

static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        // A template that does not parse is a build mistake, caught by the
        // test that renders every page; it must not stop the server.
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "template does not parse");
        }
    }
    env
});

/// Any serializable value as a template value.
pub fn to_value<T: serde::Serialize>(value: T) -> Value {
    Value::from(minijinja::value::Serde(value))
}

/// The interface languages: Chinese first, English on request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

/// The cookie a visitor's language choice is kept in (not a secret).
pub const LANG_COOKIE: &str = "citadel_lang";

impl Lang {
    /// The language the request's cookie asks for; Chinese without one.
    pub fn of(headers: &HeaderMap) -> Self {
        let chosen = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == LANG_COOKIE)
            .map(|(_, value)| value);
        match chosen {
            Some("en") => Self::En,
            _ => Self::Zh,
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Self::Zh => "zh-CN",
            Self::En => "en",
        }
    }

    /// Every message of the interface in this language.
    pub fn messages(self) -> &'static Value {
        match self {
            Self::Zh => &ZH,
            Self::En => &EN,
        }
    }

    /// One message, or its key if the catalog lacks it.
    pub fn text(self, key: &str) -> String {
        self.messages()
            .get_attr(key)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| key.to_owned())
    }
}

pub const ZH_SOURCE: &str = include_str!("locales/zh-CN.toml");
pub const EN_SOURCE: &str = include_str!("locales/en.toml");

/// A catalog as key → text; a catalog that does not parse is empty (the
/// catalog test fails on it).
pub fn catalog(source: &str) -> BTreeMap<String, String> {
    toml::from_str(source).unwrap_or_default()
}

static ZH: LazyLock<Value> = LazyLock::new(|| to_value(catalog(ZH_SOURCE)));
static EN: LazyLock<Value> = LazyLock::new(|| to_value(catalog(EN_SOURCE)));

/// A static file of the interface.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

pub const ASSETS: &[Asset] = &[
    Asset {
        path: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("assets/app.css"),
    },
    Asset {
        path: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/app.js"),
    },
    Asset {
        path: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_str!("assets/favicon.svg"),
    },
    Asset {
        path: "grid.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/grid.js"),
    },
    Asset {
        path: "admin.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/admin.js"),
    },
    Asset {
        path: "admin.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("assets/admin.css"),
    },
];

/// A digest of every asset, in their URLs: a new build's files are
/// fetched afresh while a browser keeps each one for a year.
pub static ASSET_VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut digest = Sha256::new();
    for asset in ASSETS {
        digest.update(asset.body.as_bytes());
    }
    hex::encode(&digest.finalize()[..6])
});

/// An asset of this build with long-lived caching, or 404.
pub fn asset(version: &str, name: &str) -> Response {
    let found = ASSETS.iter().find(|a| a.path == name);
    match found.filter(|_| version == ASSET_VERSION.as_str()) {
        Some(asset) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(asset.content_type),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
            ],
            asset.body,
        )
            .into_response(),
        None => ApiError::NotFound("asset").into_response(),
    }
}

/// Renders template `name` with `context` as an HTML answer.
pub fn page(status: StatusCode, name: &str, context: Value) -> Response {
    let rendered = ENVIRONMENT
        .get_template(name)
        .and_then(|template| template.render(context));
    match rendered {
        Ok(html) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "page could not be rendered");
            ApiError::Internal("page could not be rendered".into()).into_response()
        }
    }
}

/// The template sources, for the catalog test.
pub fn template_sources() -> impl Iterator<Item = (&'static str, &'static str)> {
    TEMPLATES.iter().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message keys a template names: `t.key` and the prefixes of
    /// `t['prefix_' ~ …]`.
    fn keys_used(source: &str) -> (Vec<String>, Vec<String>) {
        let mut keys = Vec::new();
        let mut prefixes = Vec::new();
        let bytes = source.as_bytes();
        for (i, _) in source.match_indices("t.") {
            let before = i.checked_sub(1).map(|j| bytes[j]);
            if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
                continue;
            }
            let key: String = source[i + 2..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !key.is_empty() {
                keys.push(key);
            }
        }
        for (i, _) in source.match_indices("t['") {
            let prefix: String = source[i + 3..].chars().take_while(|c| *c != '\'').collect();
            prefixes.push(prefix);
        }
        (keys, prefixes)
    }

    #[test]
    fn both_catalogs_have_every_key_the_templates_use() {
        let zh = catalog(ZH_SOURCE);
        let en = catalog(EN_SOURCE);
        assert!(zh.len() > 150, "the Chinese catalog parses");
        assert_eq!(
            zh.keys().collect::<Vec<_>>(),
            en.keys().collect::<Vec<_>>(),
            "the two catalogs have the same keys"
        );
        for (name, source) in template_sources() {
            let (keys, prefixes) = keys_used(source);
            for key in keys {
                assert!(
                    zh.contains_key(&key),
                    "{name} uses t.{key}, which no catalog has"
                );
            }
            for prefix in prefixes {
                assert!(
                    zh.keys().any(|k| k.starts_with(&prefix)),
                    "{name} uses t['{prefix}…'], which no catalog has"
                );
            }
        }
    }

    #[test]
    fn every_template_parses() {
        for (name, _) in template_sources() {
            assert!(ENVIRONMENT.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn values_are_escaped() {
        let html = ENVIRONMENT
            .get_template("message.html")
            .and_then(|t| {
                t.render(minijinja::context! {
                    ..crate::ui::frame::public_frame(Lang::En),
                    ..minijinja::context! { heading => "<script>x</script>", detail => "\"'&", code => "c" }
                })
            })
            .expect("renders");
        assert!(html.contains("&lt;script&gt;x&lt;"), "{html}");
        assert!(!html.contains("<script>x"), "{html}");
    }

    #[test]
    fn the_language_comes_from_its_cookie_and_is_chinese_by_default() {
        let mut headers = HeaderMap::new();
        assert_eq!(Lang::of(&headers), Lang::Zh);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; citadel_lang=en"),
        );
        assert_eq!(Lang::of(&headers), Lang::En);
        assert_eq!(Lang::En.text("sign_in"), "Sign in");
        assert_eq!(Lang::Zh.text("sign_in"), "登录");
    }
}
