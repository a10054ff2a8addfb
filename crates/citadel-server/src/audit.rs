//! Recording every security-relevant request in its audit trail.
//!
//! One layer (`record`) sees every request. Before the handler runs it
//! puts an empty [`AuditNote`] in the request; the authentication
//! extractors fill in the trail (the tenant's, or the platform's for an
//! operator) and the actor, and handlers add what only they know (the
//! names of changed fields, row counts, a sign-in's reason class). After
//! the handler, the route's rule decides whether the request is recorded:
//! changes always, reads only when they were refused. Recording is part
//! of the request: if the event cannot be written the answer is a 503,
//! never the handler's success (fail closed).
//!
//! Business field values never go in an event: handlers note field
//! names and counts only.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use citadel_audit::{AuditEvent, Outcome};
use citadel_store::{AuditTrail, Pending, deferring_durability, now_millis};
use serde_json::{Map, Value};

use crate::client::peer_ip_of;
use crate::error::ApiError;
use crate::services::alerts::{self, Flags};
use crate::state::AppState;

/// When a route's requests are recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Every request that reached a trail: changes, exports, sign-ins.
    Always,
    /// Only a refused one (401/403): what was attempted.
    Denied,
}

/// A route's audit action and when it is recorded.
pub struct Rule {
    pub method: Method,
    pub route: &'static str,
    pub action: &'static str,
    pub when: When,
}

macro_rules! rules {
    ($($method:ident $route:literal => $action:literal $when:ident,)*) => {
        &[$(Rule {
            method: Method::$method,
            route: $route,
            action: $action,
            when: When::$when,
        },)*]
    };
}

/// Every API route's rule. A test checks that each route of the OpenAPI
/// document has one, so a new endpoint cannot be forgotten.
pub static RULES: &[Rule] = rules! {
    GET "/api/v1/apps" => "app.list" Denied,
    POST "/api/v1/apps" => "app.create" Always,
    DELETE "/api/v1/apps/{app}" => "app.delete" Always,
    GET "/api/v1/apps/{app}" => "app.read" Denied,
    PATCH "/api/v1/apps/{app}" => "app.update" Always,
    POST "/api/v1/apps/{app}/restore" => "app.restore" Always,
    GET "/api/v1/apps/{app}/tables" => "table.list" Denied,
    POST "/api/v1/apps/{app}/tables" => "table.create" Always,
    GET "/api/v1/audit/events" => "audit.query" Denied,
    GET "/api/v1/audit/export" => "audit.export" Always,
    GET "/api/v1/audit/tree-head" => "audit.tree_head" Denied,
    GET "/api/v1/audit/proofs/inclusion" => "audit.inclusion_proof" Denied,
    GET "/api/v1/audit/proofs/consistency" => "audit.consistency_proof" Denied,
    GET "/api/v1/audit/public-key" => "audit.public_key" Denied,
    POST "/api/v1/audit/verify" => "audit.verify" Always,
    GET "/api/v1/audit-policy" => "audit_policy.read" Denied,
    PUT "/api/v1/audit-policy" => "audit_policy.update" Always,
    POST "/api/v1/auth/login" => "auth.login" Always,
    POST "/api/v1/auth/logout" => "auth.logout" Always,
    POST "/api/v1/auth/password" => "auth.password_change" Always,
    GET "/api/v1/authz/explain" => "group.explain" Denied,
    POST "/api/v1/crypto/digest" => "crypto.digest" Denied,
    GET "/api/v1/crypto/public-key" => "crypto.public_key" Denied,
    POST "/api/v1/crypto/sign" => "crypto.sign" Always,
    POST "/api/v1/crypto/verify" => "crypto.verify" Denied,
    GET "/api/v1/departments" => "department.list" Denied,
    POST "/api/v1/departments" => "department.create" Always,
    DELETE "/api/v1/departments/{id}" => "department.delete" Always,
    PATCH "/api/v1/departments/{id}" => "department.update" Always,
    GET "/api/v1/groups" => "group.list" Denied,
    POST "/api/v1/groups" => "group.create" Always,
    DELETE "/api/v1/groups/{group}" => "group.delete" Always,
    GET "/api/v1/groups/{group}" => "group.read" Denied,
    PUT "/api/v1/groups/{group}" => "group.update" Always,
    POST "/api/v1/groups/{group}/preview" => "group.preview" Denied,
    GET "/api/v1/ip-bans" => "ip_ban.list" Denied,
    POST "/api/v1/ip-bans" => "ip_ban.create" Always,
    DELETE "/api/v1/ip-bans/{id}" => "ip_ban.delete" Always,
    GET "/api/v1/keys" => "key.status" Denied,
    POST "/api/v1/keys/rotate" => "key.rotate" Always,
    GET "/api/v1/login-history" => "signin_log.read" Denied,
    GET "/api/v1/me" => "me.read" Denied,
    GET "/api/v1/me/login-history" => "me.login_history" Denied,
    GET "/api/v1/me/notifications" => "me.notifications" Denied,
    POST "/api/v1/me/notifications/{id}/read" => "me.notification_read" Denied,
    POST "/api/v1/me/recovery-codes" => "auth.recovery_codes_regenerate" Always,
    GET "/api/v1/me/sessions" => "session.list" Denied,
    DELETE "/api/v1/me/sessions/{id}" => "session.revoke" Always,
    GET "/api/v1/me/tokens" => "token.list" Denied,
    POST "/api/v1/me/tokens" => "token.create" Always,
    DELETE "/api/v1/me/tokens/{id}" => "token.revoke" Always,
    DELETE "/api/v1/me/totp" => "auth.totp_remove" Always,
    POST "/api/v1/me/totp" => "auth.totp_begin" Always,
    POST "/api/v1/me/totp/confirm" => "auth.totp_enrol" Always,
    POST "/api/v1/platform/bootstrap" => "operator.bootstrap" Always,
    POST "/api/v1/platform/login" => "operator.login" Always,
    POST "/api/v1/platform/logout" => "operator.logout" Always,
    GET "/api/v1/platform/operators" => "operator.list" Denied,
    POST "/api/v1/platform/operators" => "operator.create" Always,
    GET "/api/v1/platform/audit/events" => "audit.query" Denied,
    GET "/api/v1/platform/support/{slug}/apps" => "support.read_apps" Always,
    GET "/api/v1/platform/support/{slug}/tables/{table}/records" => "support.read_records" Always,
    GET "/api/v1/platform/support/{slug}/tables/{table}/records/{record}" => "support.read_record" Always,
    GET "/api/v1/platform/tenants" => "tenant.list" Denied,
    POST "/api/v1/platform/tenants" => "tenant.create" Always,
    DELETE "/api/v1/platform/tenants/{slug}" => "tenant.destroy" Always,
    GET "/api/v1/platform/tenants/{slug}" => "tenant.read" Denied,
    POST "/api/v1/platform/tenants/{slug}/resume" => "tenant.resume" Always,
    POST "/api/v1/platform/tenants/{slug}/suspend" => "tenant.suspend" Always,
    GET "/api/v1/recycle-bin" => "recycle_bin.list" Denied,
    GET "/api/v1/security-events" => "security_event.list" Denied,
    GET "/api/v1/security-policy" => "security_policy.read" Denied,
    PUT "/api/v1/security-policy" => "security_policy.update" Always,
    GET "/api/v1/support-grants" => "support_grant.list" Denied,
    POST "/api/v1/support-grants" => "support_grant.create" Always,
    DELETE "/api/v1/support-grants/{id}" => "support_grant.revoke" Always,
    DELETE "/api/v1/tables/{table}" => "table.delete" Always,
    GET "/api/v1/tables/{table}" => "table.read" Denied,
    PATCH "/api/v1/tables/{table}" => "table.update" Always,
    GET "/api/v1/tables/{table}/export" => "record.export" Always,
    PUT "/api/v1/tables/{table}/field-order" => "field.reorder" Always,
    POST "/api/v1/tables/{table}/fields" => "field.create" Always,
    DELETE "/api/v1/tables/{table}/fields/{field}" => "field.delete" Always,
    PATCH "/api/v1/tables/{table}/fields/{field}" => "field.update" Always,
    POST "/api/v1/tables/{table}/fields/{field}/type-change" => "field.type_change" Always,
    POST "/api/v1/tables/{table}/import" => "record.import" Always,
    GET "/api/v1/tables/{table}/records" => "record.list" Denied,
    POST "/api/v1/tables/{table}/records" => "record.create" Always,
    PATCH "/api/v1/tables/{table}/records/batch" => "record.update" Always,
    POST "/api/v1/tables/{table}/records/batch" => "record.create" Always,
    POST "/api/v1/tables/{table}/records/batch-delete" => "record.delete" Always,
    DELETE "/api/v1/tables/{table}/records/{record}" => "record.delete" Always,
    GET "/api/v1/tables/{table}/records/{record}" => "record.read" Denied,
    PATCH "/api/v1/tables/{table}/records/{record}" => "record.update" Always,
    GET "/api/v1/tables/{table}/records/{record}/history" => "record.history" Denied,
    POST "/api/v1/tables/{table}/restore" => "table.restore" Always,
    GET "/api/v1/tables/{table}/views" => "view.list" Denied,
    POST "/api/v1/tables/{table}/views" => "view.create" Always,
    GET "/api/v1/users" => "user.list" Denied,
    POST "/api/v1/users" => "user.create" Always,
    GET "/api/v1/users/{id}" => "user.read" Denied,
    PATCH "/api/v1/users/{id}" => "user.update" Always,
    POST "/api/v1/users/{id}/reset-password" => "user.password_reset" Always,
    DELETE "/api/v1/users/{id}/totp" => "user.totp_reset" Always,
    POST "/api/v1/users/{id}/unlock" => "user.unlock" Always,
    DELETE "/api/v1/views/{view}" => "view.delete" Always,
    GET "/api/v1/views/{view}" => "view.read" Denied,
    PATCH "/api/v1/views/{view}" => "view.update" Always,
    // The pages of the web interface (`crate::ui`) only read: each is
    // recorded when refused, under the action of the API read it shows.
    // Their changes are API calls and recorded as such.
    GET "/apps" => "app.list" Denied,
    GET "/apps/{app}" => "app.read" Denied,
    GET "/recycle-bin" => "recycle_bin.list" Denied,
    GET "/tables/{table}" => "record.list" Denied,
    GET "/tables/{table}/schema" => "table.read" Denied,
    GET "/tables/{table}/new" => "table.read" Denied,
    GET "/tables/{table}/import" => "table.read" Denied,
    GET "/tables/{table}/records/{record}" => "record.read" Denied,
    GET "/admin/audit" => "audit.query" Denied,
    GET "/admin/users" => "user.list" Denied,
    GET "/admin/departments" => "department.list" Denied,
    GET "/admin/groups" => "group.list" Denied,
    GET "/admin/groups/{group}" => "group.read" Denied,
    GET "/admin/security" => "security_policy.read" Denied,
    GET "/admin/keys" => "key.status" Denied,
    GET "/account" => "me.read" Denied,
    GET "/password" => "me.read" Denied,
    GET "/platform" => "tenant.list" Denied,
};

/// Routes outside every trail: health, metrics and the specification
/// answer anyone and touch no tenant.
pub static UNAUDITED: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/openapi.json",
    // Pages anyone may open, and the interface's static files.
    "/",
    "/sign-in",
    "/platform/sign-in",
    "/assets/{version}/{name}",
];

/// The rules by route, built once: a lookup on every request.
static BY_ROUTE: LazyLock<HashMap<&'static str, Vec<&'static Rule>>> = LazyLock::new(|| {
    let mut by_route: HashMap<&'static str, Vec<&'static Rule>> = HashMap::new();
    for rule in RULES {
        by_route.entry(rule.route).or_default().push(rule);
    }
    by_route
});

pub fn rule_for(method: &Method, route: &str) -> Option<&'static Rule> {
    BY_ROUTE
        .get(route)?
        .iter()
        .find(|r| r.method == *method)
        .copied()
}

#[derive(Default)]
struct Noted {
    trail: Option<AuditTrail>,
    actor_id: Option<String>,
    actor_name: Option<String>,
    targets: Vec<String>,
    detail: Map<String, Value>,
    flags: Flags,
}

/// What a request's audit event will say, filled in as the request is
/// handled. Cheap to clone; every clone is the same note.
#[derive(Clone, Default)]
pub struct AuditNote(Arc<Mutex<Noted>>);

impl AuditNote {
    fn noted(&self) -> std::sync::MutexGuard<'_, Noted> {
        // Each use is one assignment: a panic elsewhere leaves it whole.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The note of the request `parts` belong to; a detached one (which
    /// records nothing) outside the audit layer.
    pub fn of(parts: &Parts) -> Self {
        parts.extensions.get::<Self>().cloned().unwrap_or_default()
    }

    /// The trail the event goes to and who acted.
    pub fn actor(&self, trail: &AuditTrail, id: impl ToString, name: Option<&str>) {
        let mut noted = self.noted();
        noted.trail = Some(trail.clone());
        noted.actor_id = Some(id.to_string());
        noted.actor_name = name.map(str::to_owned);
    }

    /// The trail the event goes to, for a caller not known yet (a
    /// sign-in attempt).
    pub fn trail(&self, trail: &AuditTrail) {
        self.noted().trail = Some(trail.clone());
    }

    /// One of the things acted on, as `kind:id`, beside the route's own.
    pub fn target(&self, kind: &str, id: impl std::fmt::Display) {
        self.noted().targets.push(format!("{kind}:{id}"));
    }

    /// A piece of the event's detail: names and counts, never values.
    pub fn detail(&self, key: &str, value: impl Into<Value>) {
        self.noted().detail.insert(key.to_owned(), value.into());
    }

    /// The action granted administrative duties: an alert rule's cue.
    pub fn escalation(&self) {
        let mut noted = self.noted();
        noted.flags.escalation = true;
        noted.detail.insert("escalation".into(), true.into());
    }

    /// Stored data failed an integrity check while this was handled.
    pub fn integrity_failure(&self) {
        self.noted().flags.integrity_failure = true;
    }

    /// The names of the fields a change touches (never their values),
    /// each once, sorted.
    pub fn fields<'a>(&self, names: impl IntoIterator<Item = &'a String>) {
        let names: std::collections::BTreeSet<&str> =
            names.into_iter().map(String::as_str).collect();
        self.detail("fields", names.into_iter().collect::<Vec<_>>());
    }

    fn take(&self) -> Noted {
        std::mem::take(&mut *self.noted())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuditNote {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts))
    }
}

/// The route's parameters as targets: `/tables/{table}/records/{record}`
/// and `/tables/5/records/9` give `table:5`, `record:9`.
fn route_targets(route: &str, path: &str) -> Vec<String> {
    route
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(name, value)| {
            let name = name.strip_prefix('{')?.strip_suffix('}')?;
            Some(format!("{name}:{value}"))
        })
        .collect()
}

fn outcome_of(status: StatusCode) -> Outcome {
    match status.as_u16() {
        401 | 403 => Outcome::Denied,
        s if s < 400 => Outcome::Success,
        _ => Outcome::Error,
    }
}

/// Marks a response whose handling found stored data failing an integrity
/// check (set by `ApiError::IntegrityFailure`).
#[derive(Clone, Copy, Debug)]
pub struct IntegrityFailed;

/// The layer: notes, runs the request, records its event by the route's
/// rule (then counts it for the alert rules), and answers 503 instead if
/// the event could not be written.
pub async fn record(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let rule = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|m| rule_for(request.method(), m.as_str()));
    let Some(rule) = rule else {
        return next.run(request).await;
    };
    let note = AuditNote::default();
    request.extensions_mut().insert(note.clone());
    // Kept as they came (reference-counted, no copy): most requests are
    // reads recorded only if refused, and need none of it.
    let request_id = request.headers().get("x-request-id").cloned();
    let user_agent = request.headers().get(header::USER_AGENT).cloned();
    let uri = request.uri().clone();
    let ip = peer_ip_of(&request);
    let (parts, body) = request.into_parts();
    let request = Request::from_parts(parts, body);
    // Only where an event is always recorded does the layer take over the
    // wait for the handler's writes: a read is recorded only if refused,
    // and its writes (if any) wait for themselves as usual.
    let (response, pending) = match rule.when {
        When::Always => {
            let (response, pending) = deferring_durability(next.run(request)).await;
            (response, Some(pending))
        }
        When::Denied => (next.run(request).await, None),
    };
    let outcome = outcome_of(response.status());
    if response.extensions().get::<IntegrityFailed>().is_some() {
        note.integrity_failure();
    }
    let noted = note.take();
    let flags = noted.flags;
    if rule.when == When::Denied && outcome != Outcome::Denied && !flags.integrity_failure {
        return once_durable(pending, response).await;
    }
    // No trail: nobody was recognised and no tenant named (a 401 before
    // authentication, a sign-in to an unknown tenant).
    let Some(trail) = noted.trail else {
        return once_durable(pending, response).await;
    };
    let text = |value: Option<HeaderValue>| {
        value
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(512).collect::<String>())
    };
    let mut targets = route_targets(rule.route, uri.path());
    targets.extend(noted.targets);
    let mut detail = noted.detail;
    if outcome != Outcome::Success {
        detail.insert("status".into(), response.status().as_u16().into());
    }
    let event = AuditEvent {
        seq: 0,
        at_ms: now_millis(),
        actor_id: noted.actor_id,
        actor_name: noted.actor_name,
        actor_ip: Some(ip.to_string()),
        user_agent: text(user_agent),
        request_id: text(request_id),
        action: rule.action.to_owned(),
        targets,
        outcome,
        detail: Value::Object(detail).to_string(),
    };
    let for_alerts = alerts::concerns(&event, flags).then(|| event.clone());
    // The event is recorded while the action's writes reach the disk
    // (`deferring_durability`), and the answer waits for both. On
    // PostgreSQL the event's commit, made after the writes' on the same
    // server, flushes the WAL past them. Should the writes not get there,
    // a second event says so: the first recorded as done what had been
    // committed.
    let pending = pending.unwrap_or_default();
    let undone = (!pending.is_empty()).then(|| AuditEvent {
        outcome: Outcome::Error,
        detail: r#"{"reason":"not_durable"}"#.to_owned(),
        ..event.clone()
    });
    let (recorded, durable) = tokio::join!(trail.record(event), pending.wait_for_fsyncs());
    if let Err(e) = durable {
        if let (Ok(_), Some(undone)) = (&recorded, undone)
            && let Err(e) = trail.record(undone).await
        {
            tracing::error!(error = %e, action = rule.action, "an audit event could not be recorded");
        }
        return ApiError::from(e).into_response();
    }
    match recorded {
        Ok(_) => {
            if let Some(event) = for_alerts {
                alerts::observe(&state, trail.id(), &event, flags);
            }
            response
        }
        Err(e) => {
            tracing::error!(error = %e, action = rule.action, "an audit event could not be recorded");
            ApiError::AuditUnavailable.into_response()
        }
    }
}

/// `response` once the writes made for it are durable, or the error that
/// says they are not.
async fn once_durable(pending: Option<Pending>, response: Response) -> Response {
    match pending {
        Some(pending) => match pending.wait().await {
            Ok(()) => response,
            Err(e) => ApiError::from(e).into_response(),
        },
        None => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_parameters_become_targets() {
        assert_eq!(
            route_targets(
                "/api/v1/tables/{table}/records/{record}",
                "/api/v1/tables/5/records/9"
            ),
            vec!["table:5", "record:9"]
        );
        assert!(route_targets("/api/v1/apps", "/api/v1/apps").is_empty());
    }

    #[test]
    fn every_documented_route_has_a_rule() {
        let api = crate::routes::openapi();
        for (path, item) in &api.paths.paths {
            let methods = [
                (Method::GET, item.get.is_some()),
                (Method::POST, item.post.is_some()),
                (Method::PUT, item.put.is_some()),
                (Method::PATCH, item.patch.is_some()),
                (Method::DELETE, item.delete.is_some()),
            ];
            for (method, present) in methods {
                if present && !UNAUDITED.contains(&path.as_str()) {
                    assert!(
                        rule_for(&method, path).is_some(),
                        "{method} {path} has no audit rule"
                    );
                }
            }
        }
    }

    #[test]
    fn every_page_has_a_rule_or_is_public() {
        for route in crate::ui::PAGE_ROUTES {
            assert!(
                UNAUDITED.contains(route) || rule_for(&Method::GET, route).is_some(),
                "page {route} has no audit rule"
            );
        }
    }

    #[test]
    fn outcomes_follow_the_status() {
        assert_eq!(outcome_of(StatusCode::CREATED), Outcome::Success);
        assert_eq!(outcome_of(StatusCode::FORBIDDEN), Outcome::Denied);
        assert_eq!(outcome_of(StatusCode::UNAUTHORIZED), Outcome::Denied);
        assert_eq!(outcome_of(StatusCode::CONFLICT), Outcome::Error);
    }
}
