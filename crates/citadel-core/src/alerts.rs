//! A tenant's audit policy (alert thresholds, working hours, the
//! webhook, retention) and the alert rules over audited events: repeated
//! failed sign-ins for one account or from one address, many downloads
//! by one user in a minute, a permission escalation, a sign-in outside
//! working hours, an integrity failure.
//!
//! Pure: the server feeds each recorded event in and raises what comes
//! out. Counts are kept per process in fixed windows, like the sign-in
//! throttle.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{CoreError, TenantId};

/// Retention below this is refused: 等保三级 asks for six months.
pub const MIN_RETENTION_DAYS: u32 = 180;

/// The tenant's audit settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditPolicy {
    /// Failed sign-ins of one account within the window that raise an alert.
    pub failed_logins_per_account: u32,
    /// Failed sign-ins from one address, across accounts, likewise.
    pub failed_logins_per_address: u32,
    pub failed_login_window_minutes: u32,
    /// Exports (record and audit) by one user within a minute.
    pub downloads_per_minute: u32,
    /// Sign-ins outside these hours raise an alert; none means never.
    pub working_hours: Option<WorkingHours>,
    /// Alerts are also POSTed here as JSON (HTTPS, or HTTP to a loopback
    /// address).
    pub webhook_url: Option<String>,
    /// Events older than this leave the live log for the archive.
    pub retention_days: u32,
}

impl Default for AuditPolicy {
    fn default() -> Self {
        Self {
            failed_logins_per_account: 5,
            failed_logins_per_address: 20,
            failed_login_window_minutes: 15,
            downloads_per_minute: 10,
            working_hours: None,
            webhook_url: None,
            retention_days: 365,
        }
    }
}

/// Working hours in the tenant's local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingHours {
    /// First working hour, 0–23.
    pub start_hour: u8,
    /// The hour work ends (exclusive), 1–24, after `start_hour`.
    pub end_hour: u8,
    /// Saturdays and Sundays are outside working hours.
    pub weekdays_only: bool,
    /// The tenant's offset from UTC in minutes (480 for China).
    pub utc_offset_minutes: i32,
}

impl WorkingHours {
    /// True if the moment `at_ms` (Unix ms) falls outside these hours.
    pub fn outside(&self, at_ms: i64) -> bool {
        let local_minutes = at_ms.div_euclid(60_000) + i64::from(self.utc_offset_minutes);
        let hour = local_minutes.div_euclid(60).rem_euclid(24);
        // 1970-01-01 was a Thursday: day 0 is weekday 3 counted from Monday.
        let weekday = (local_minutes.div_euclid(24 * 60) + 3).rem_euclid(7);
        let weekend = weekday >= 5;
        (self.weekdays_only && weekend)
            || hour < i64::from(self.start_hour)
            || hour >= i64::from(self.end_hour)
    }
}

impl AuditPolicy {
    /// Refuses settings that would switch a protection off or cannot work.
    pub fn validate(&self) -> Result<(), CoreError> {
        let refuse = |rule| Err(CoreError::InvalidPolicy(rule));
        if !(3..=100).contains(&self.failed_logins_per_account) {
            return refuse("failed_logins_per_account must be between 3 and 100");
        }
        if !(3..=10_000).contains(&self.failed_logins_per_address) {
            return refuse("failed_logins_per_address must be between 3 and 10000");
        }
        if !(1..=1440).contains(&self.failed_login_window_minutes) {
            return refuse("failed_login_window_minutes must be between 1 and 1440");
        }
        if !(1..=1000).contains(&self.downloads_per_minute) {
            return refuse("downloads_per_minute must be between 1 and 1000");
        }
        if !(MIN_RETENTION_DAYS..=3650).contains(&self.retention_days) {
            return refuse("retention_days must be between 180 and 3650");
        }
        if let Some(h) = self.working_hours
            && (h.start_hour > 23
                || !(1..=24).contains(&h.end_hour)
                || h.end_hour <= h.start_hour
                || !(-720..=840).contains(&h.utc_offset_minutes))
        {
            return refuse(
                "working_hours: start_hour 0–23 before end_hour 1–24, utc_offset_minutes −720 to 840",
            );
        }
        if let Some(url) = &self.webhook_url
            && !webhook_allowed(url)
        {
            return refuse("webhook_url must be https://…, or http:// to a loopback address");
        }
        Ok(())
    }
}

/// HTTPS anywhere; plain HTTP only to this machine.
fn webhook_allowed(url: &str) -> bool {
    if url.len() > 2048 || url.chars().any(char::is_whitespace) {
        return false;
    }
    if let Some(rest) = url.strip_prefix("https://") {
        return !rest.is_empty();
    }
    url.strip_prefix("http://").is_some_and(|rest| {
        let host = rest.split(['/', '?']).next().unwrap_or("");
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        matches!(host, "127.0.0.1" | "localhost" | "[::1]")
    })
}

/// What raised an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlertKind {
    FailedLoginsForAccount,
    FailedLoginsFromAddress,
    ManyDownloads,
    PermissionEscalation,
    OutsideWorkingHours,
    IntegrityFailure,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FailedLoginsForAccount => "alert_failed_logins_account",
            Self::FailedLoginsFromAddress => "alert_failed_logins_address",
            Self::ManyDownloads => "alert_many_downloads",
            Self::PermissionEscalation => "alert_permission_escalation",
            Self::OutsideWorkingHours => "alert_outside_working_hours",
            Self::IntegrityFailure => "alert_integrity_failure",
        }
    }

    /// A line for the security administrators' notification.
    pub fn title(self) -> &'static str {
        match self {
            Self::FailedLoginsForAccount => "Repeated failed sign-ins for one account",
            Self::FailedLoginsFromAddress => "Repeated failed sign-ins from one address",
            Self::ManyDownloads => "Many downloads by one user",
            Self::PermissionEscalation => "Administrative rights granted",
            Self::OutsideWorkingHours => "Sign-in outside working hours",
            Self::IntegrityFailure => "Integrity check failed",
        }
    }
}

/// An audited event as the rules see it.
#[derive(Clone, Copy, Debug)]
pub struct Observed<'a> {
    pub at_ms: i64,
    pub action: &'a str,
    /// `success`, `denied` or `error`.
    pub outcome: &'a str,
    pub actor_id: Option<&'a str>,
    pub actor_ip: Option<&'a str>,
    /// The login a sign-in tried.
    pub login: Option<&'a str>,
    /// A sign-in's reason class (`invalid_credentials`, …).
    pub reason: Option<&'a str>,
    /// Administrative duties or an administrators' group were granted.
    pub escalation: bool,
    /// Stored data failed an integrity check while this was handled.
    pub integrity_failure: bool,
}

impl Observed<'_> {
    /// Whether any rule can fire on this event: most events (record
    /// writes, reads) need no further look.
    pub fn may_alert(&self) -> bool {
        self.action == "auth.login"
            || self.action.ends_with(".export")
            || self.escalation
            || self.integrity_failure
    }
}

/// An alert to raise: its kind, what it is about, how many events led to
/// it within how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub kind: AlertKind,
    /// The account, address or user it concerns.
    pub subject: String,
    pub count: u32,
    pub window_minutes: u32,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    started_ms: i64,
    count: u32,
}

/// Most counting windows kept before expired ones are swept.
const SWEEP_ABOVE: usize = 10_000;

/// Counts per tenant, rule and subject in fixed windows.
#[derive(Debug, Default)]
pub struct AlertWindows {
    windows: HashMap<(TenantId, AlertKind, String), Window>,
}

impl AlertWindows {
    /// Counts `event` and returns the alerts it raises under `policy`. A
    /// count raises its alert once, when it reaches the threshold within
    /// its window.
    pub fn observe(
        &mut self,
        tenant: TenantId,
        policy: &AuditPolicy,
        event: &Observed<'_>,
    ) -> Vec<Alert> {
        let mut alerts = Vec::new();
        let failed = event.action == "auth.login"
            && event.outcome == "denied"
            && matches!(
                event.reason,
                Some("invalid_credentials" | "invalid_second_factor")
            );
        if failed {
            let window = policy.failed_login_window_minutes;
            if let Some(login) = event.login {
                alerts.extend(self.count(
                    tenant,
                    AlertKind::FailedLoginsForAccount,
                    login,
                    event.at_ms,
                    window,
                    policy.failed_logins_per_account,
                ));
            }
            if let Some(ip) = event.actor_ip {
                alerts.extend(self.count(
                    tenant,
                    AlertKind::FailedLoginsFromAddress,
                    ip,
                    event.at_ms,
                    window,
                    policy.failed_logins_per_address,
                ));
            }
        }
        if event.action.ends_with(".export")
            && event.outcome == "success"
            && let Some(actor) = event.actor_id
        {
            alerts.extend(self.count(
                tenant,
                AlertKind::ManyDownloads,
                actor,
                event.at_ms,
                1,
                policy.downloads_per_minute,
            ));
        }
        let single = |kind, subject: Option<&str>| Alert {
            kind,
            subject: subject.unwrap_or("").to_owned(),
            count: 1,
            window_minutes: 0,
        };
        if event.escalation && event.outcome == "success" {
            alerts.push(single(AlertKind::PermissionEscalation, event.actor_id));
        }
        if event.action == "auth.login"
            && event.outcome == "success"
            && policy.working_hours.is_some_and(|h| h.outside(event.at_ms))
        {
            alerts.push(single(
                AlertKind::OutsideWorkingHours,
                event.login.or(event.actor_id),
            ));
        }
        if event.integrity_failure {
            alerts.push(single(AlertKind::IntegrityFailure, event.actor_id));
        }
        alerts
    }

    fn count(
        &mut self,
        tenant: TenantId,
        kind: AlertKind,
        subject: &str,
        now_ms: i64,
        window_minutes: u32,
        threshold: u32,
    ) -> Option<Alert> {
        let span = i64::from(window_minutes) * 60_000;
        if self.windows.len() > SWEEP_ABOVE {
            // Longest window a rule may use: a day.
            self.windows
                .retain(|_, w| now_ms - w.started_ms < 24 * 60 * 60_000);
        }
        let window = self
            .windows
            .entry((tenant, kind, subject.to_owned()))
            .or_insert(Window {
                started_ms: now_ms,
                count: 0,
            });
        if now_ms - window.started_ms >= span {
            *window = Window {
                started_ms: now_ms,
                count: 0,
            };
        }
        window.count += 1;
        (window.count == threshold).then(|| Alert {
            kind,
            subject: subject.to_owned(),
            count: threshold,
            window_minutes,
        })
    }
}

#[cfg(test)]
mod tests;
