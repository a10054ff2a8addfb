//! Alerts: every event the audit layer recorded that a rule may fire on
//! is counted (`citadel_core::alerts`), and an alert is raised as a
//! security event (so it is in the audit log too), an in-app
//! notification to each of the tenant's security administrators, and,
//! when the tenant configured one, a webhook call.
//!
//! Raising happens on its own task: the request that tripped the rule is
//! answered without waiting, and a failure to notify is logged, never
//! turned into the request's failure (its event is already recorded).

use std::sync::Mutex;
use std::time::Duration;

use citadel_audit::AuditEvent;
use citadel_core::alerts::{Alert, AlertWindows, Observed};
use citadel_core::{Action, Principal, Resource, TenantId, authorize};
use citadel_store::{LogId, TenantDb};
use serde_json::json;

use crate::error::ApiError;
use crate::routes::dto::rfc3339;
use crate::state::AppState;

/// A webhook gets this long to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// The counting windows and the webhook client, one per server.
pub struct Alerting {
    windows: Mutex<AlertWindows>,
    webhooks: reqwest::Client,
}

impl Default for Alerting {
    fn default() -> Self {
        // reqwest is built without a crypto provider: the server's (ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            windows: Mutex::new(AlertWindows::default()),
            webhooks: reqwest::Client::builder()
                .timeout(WEBHOOK_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
        }
    }
}

/// What the handler flagged beside the event itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flags {
    pub escalation: bool,
    pub integrity_failure: bool,
}

/// The event as the rules see it, without its detail.
fn observed(event: &AuditEvent, flags: Flags) -> Observed<'_> {
    Observed {
        at_ms: event.at_ms,
        action: &event.action,
        outcome: event.outcome.as_str(),
        actor_id: event.actor_id.as_deref(),
        actor_ip: event.actor_ip.as_deref(),
        login: None,
        reason: None,
        escalation: flags.escalation,
        integrity_failure: flags.integrity_failure,
    }
}

/// Whether a rule may fire on `event`: record writes and reads, nearly
/// everything, need no further look (nor a copy of the event).
pub fn concerns(event: &AuditEvent, flags: Flags) -> bool {
    observed(event, flags).may_alert()
}

/// Counts a recorded event of `log` that [`concerns`] the rules; raises
/// what it trips, on a task.
pub fn observe(state: &AppState, log: LogId, event: &AuditEvent, flags: Flags) {
    let LogId::Tenant(tenant) = log else {
        return;
    };
    let mut observed = observed(event, flags);
    let detail: serde_json::Value = serde_json::from_str(&event.detail).unwrap_or_default();
    observed.login = detail["login"].as_str();
    observed.reason = detail["reason"].as_str();
    let state = state.clone();
    let observed = OwnedObserved::from(&observed);
    tokio::spawn(async move {
        if let Err(e) = raise(&state, tenant, observed).await {
            tracing::error!(error = %e, %tenant, "an alert could not be raised");
        }
    });
}

/// `Observed` with its texts owned, to cross onto the task.
struct OwnedObserved {
    at_ms: i64,
    action: String,
    outcome: String,
    actor_id: Option<String>,
    actor_ip: Option<String>,
    login: Option<String>,
    reason: Option<String>,
    flags: Flags,
}

impl From<&Observed<'_>> for OwnedObserved {
    fn from(o: &Observed<'_>) -> Self {
        Self {
            at_ms: o.at_ms,
            action: o.action.to_owned(),
            outcome: o.outcome.to_owned(),
            actor_id: o.actor_id.map(str::to_owned),
            actor_ip: o.actor_ip.map(str::to_owned),
            login: o.login.map(str::to_owned),
            reason: o.reason.map(str::to_owned),
            flags: Flags {
                escalation: o.escalation,
                integrity_failure: o.integrity_failure,
            },
        }
    }
}

impl OwnedObserved {
    fn borrowed(&self) -> Observed<'_> {
        Observed {
            at_ms: self.at_ms,
            action: &self.action,
            outcome: &self.outcome,
            actor_id: self.actor_id.as_deref(),
            actor_ip: self.actor_ip.as_deref(),
            login: self.login.as_deref(),
            reason: self.reason.as_deref(),
            escalation: self.flags.escalation,
            integrity_failure: self.flags.integrity_failure,
        }
    }
}

/// The tenant's database for raising alerts: the server acts as itself,
/// like the maintenance jobs.
async fn tenant_db(state: &AppState, tenant: TenantId) -> Result<Option<TenantDb>, ApiError> {
    let Some(record) = state.store().find_tenant(tenant).await? else {
        return Ok(None);
    };
    let resource = Resource::Tenant {
        id: tenant,
        status: record.status,
    };
    let Some(scope) = authorize(
        &Principal::LocalAdministrator,
        Action::MaintainTenantData,
        resource,
    )?
    .into_tenant() else {
        return Ok(None);
    };
    Ok(Some(state.store().tenant(&scope).await?))
}

async fn raise(state: &AppState, tenant: TenantId, event: OwnedObserved) -> Result<(), ApiError> {
    let Some(db) = tenant_db(state, tenant).await? else {
        return Ok(());
    };
    let policy = db.audit_policy().await?;
    let alerts = state
        .alerting()
        .windows
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .observe(tenant, &policy, &event.borrowed());
    for alert in alerts {
        let detail = json!({
            "subject": alert.subject, "count": alert.count,
            "window_minutes": alert.window_minutes, "action": event.action,
            "ip": event.actor_ip,
        });
        db.auth()
            .security_event(alert.kind.as_str(), None, None, &detail)
            .await?;
        let body = describe(&alert, &event);
        for admin in db.security_admins().await? {
            db.auth()
                .notify(admin, alert.kind.as_str(), alert.kind.title(), &body)
                .await?;
        }
        if let Some(url) = &policy.webhook_url {
            let payload = json!({
                "tenant": tenant.to_string(), "kind": alert.kind.as_str(),
                "title": alert.kind.title(), "message": body, "at": rfc3339(event.at_ms),
                "detail": detail,
            });
            let sent = state
                .alerting()
                .webhooks
                .post(url)
                .json(&payload)
                .send()
                .await;
            match sent.map(|r| r.status()) {
                Ok(status) if status.is_success() => {}
                Ok(status) => {
                    tracing::warn!(%status, %tenant, "an alert webhook refused the alert")
                }
                Err(e) => {
                    tracing::warn!(error = %e, %tenant, "an alert webhook could not be reached")
                }
            }
        }
    }
    Ok(())
}

/// The notification's text: what happened, about whom, from where.
fn describe(alert: &Alert, event: &OwnedObserved) -> String {
    let from = event.actor_ip.as_deref().unwrap_or("an unknown address");
    match alert.kind {
        citadel_core::alerts::AlertKind::FailedLoginsForAccount => format!(
            "{} failed sign-ins for {} within {} minutes, the last from {from}.",
            alert.count, alert.subject, alert.window_minutes
        ),
        citadel_core::alerts::AlertKind::FailedLoginsFromAddress => format!(
            "{} failed sign-ins from {} within {} minutes.",
            alert.count, alert.subject, alert.window_minutes
        ),
        citadel_core::alerts::AlertKind::ManyDownloads => format!(
            "User {} downloaded {} exports within a minute.",
            alert.subject, alert.count
        ),
        citadel_core::alerts::AlertKind::PermissionEscalation => format!(
            "User {} granted administrative duties ({}).",
            alert.subject, event.action
        ),
        citadel_core::alerts::AlertKind::OutsideWorkingHours => format!(
            "{} signed in outside working hours, from {from}.",
            alert.subject
        ),
        citadel_core::alerts::AlertKind::IntegrityFailure => format!(
            "Stored data failed an integrity check while handling {} ({}).",
            event.action, event.outcome
        ),
    }
}
