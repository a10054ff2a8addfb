//! The audit API's bodies: events, signed tree heads and proofs, with
//! every hash and signature in lower-case hex, so a verifier in any
//! language can check them (RFC 9162 for the SHA-256 suite).

use citadel_audit::{AuditEvent, SignedTreeHead, StoredEvent};
use citadel_core::alerts::{AuditPolicy, WorkingHours};
use citadel_store::{ConsistencyProof, InclusionProof};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::routes::dto::rfc3339;

/// Which events: every part narrows, all are optional. Newest first.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// From this time on (RFC 3339).
    pub from: Option<String>,
    /// Before this time (RFC 3339).
    pub to: Option<String>,
    /// The acting user's (or operator's) id.
    pub actor: Option<String>,
    /// An action (`record.update`), or an area ending in a dot (`auth.`).
    pub action: Option<String>,
    /// `success`, `denied` or `error`.
    pub outcome: Option<String>,
    /// A target as events name them: `record:42`, `user:<id>`.
    pub target: Option<String>,
    /// The `next_before` of the previous page.
    pub before: Option<u64>,
    /// At most this many (1–500, default 100).
    pub limit: Option<u32>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct EventView {
    /// Its position in the log: the leaf index of proofs.
    pub seq: u64,
    /// UTC, RFC 3339 with milliseconds.
    pub at: String,
    /// The same time as milliseconds since the epoch: what the leaf hashes.
    pub at_ms: i64,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub actor_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub action: String,
    pub targets: Vec<String>,
    /// `success`, `denied` or `error`.
    pub outcome: String,
    /// The stored detail, a JSON object as text: the leaf hashes this text.
    pub detail: String,
    /// The event's leaf hash (hex).
    pub leaf: String,
}

impl From<&StoredEvent> for EventView {
    fn from(stored: &StoredEvent) -> Self {
        let e = &stored.event;
        Self {
            seq: e.seq,
            at: rfc3339(e.at_ms),
            at_ms: e.at_ms,
            actor_id: e.actor_id.clone(),
            actor_name: e.actor_name.clone(),
            actor_ip: e.actor_ip.clone(),
            user_agent: e.user_agent.clone(),
            request_id: e.request_id.clone(),
            action: e.action.clone(),
            targets: e.targets.clone(),
            outcome: e.outcome.as_str().to_owned(),
            detail: e.detail.clone(),
            leaf: hex::encode(stored.leaf),
        }
    }
}

impl EventView {
    /// The event as it was stored, to rebuild its leaf offline.
    pub fn event(&self) -> Option<AuditEvent> {
        Some(AuditEvent {
            seq: self.seq,
            at_ms: self.at_ms,
            actor_id: self.actor_id.clone(),
            actor_name: self.actor_name.clone(),
            actor_ip: self.actor_ip.clone(),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
            action: self.action.clone(),
            targets: self.targets.clone(),
            outcome: citadel_audit::Outcome::parse(&self.outcome)?,
            detail: self.detail.clone(),
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventsPage {
    pub events: Vec<EventView>,
    /// Pass as `before` for the next (older) page; absent on the last.
    pub next_before: Option<u64>,
}

/// A signed tree head: the log's size and root at a moment, signed by the
/// platform's audit key.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct TreeHeadView {
    /// The tenant's id (the nil UUID for the platform's own log).
    pub log_id: String,
    /// `sha256` or `sm3`.
    pub tree_hash: String,
    pub tree_size: u64,
    /// Hex.
    pub root_hash: String,
    pub timestamp_ms: i64,
    pub timestamp: String,
    /// The audit key's suite: `intl` (Ed25519) or `sm` (SM2).
    pub suite: String,
    /// Hex: over the bytes `citadel audit tree head v1\0`, the tree hash
    /// (1 SHA-256, 2 SM3), the log id's 16 bytes, the size and the time
    /// (8 bytes big-endian each) and the root.
    pub signature: String,
}

impl From<&SignedTreeHead> for TreeHeadView {
    fn from(signed: &SignedTreeHead) -> Self {
        let h = &signed.head;
        Self {
            log_id: uuid::Uuid::from_bytes(h.tenant).to_string(),
            tree_hash: h.hash.as_str().to_owned(),
            tree_size: h.size,
            root_hash: hex::encode(h.root),
            timestamp_ms: h.at_ms,
            timestamp: rfc3339(h.at_ms),
            suite: signed.suite.as_str().to_owned(),
            signature: hex::encode(&signed.signature),
        }
    }
}

impl TreeHeadView {
    /// The signed head again, for an offline check; `None` if a field is
    /// malformed.
    pub fn signed(&self) -> Option<SignedTreeHead> {
        Some(SignedTreeHead {
            head: citadel_audit::TreeHead {
                tenant: *uuid::Uuid::parse_str(&self.log_id).ok()?.as_bytes(),
                hash: citadel_audit::TreeHash::parse(&self.tree_hash)?,
                size: self.tree_size,
                root: hash_of(&self.root_hash)?,
                at_ms: self.timestamp_ms,
            },
            suite: self.suite.parse().ok()?,
            signature: hex::decode(&self.signature).ok()?,
        })
    }
}

/// A hash from its hex.
pub fn hash_of(text: &str) -> Option<citadel_audit::Hash> {
    hex::decode(text).ok()?.try_into().ok()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The event's sequence number (required).
    pub seq: Option<u64>,
    /// The size of a signed head to prove against; the newest if absent.
    pub tree_size: Option<u64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct InclusionProofView {
    pub leaf_index: u64,
    /// Hex.
    pub leaf_hash: String,
    pub tree_head: TreeHeadView,
    /// RFC 9162 inclusion path, hex, from the leaf up.
    pub audit_path: Vec<String>,
}

impl From<&InclusionProof> for InclusionProofView {
    fn from(p: &InclusionProof) -> Self {
        Self {
            leaf_index: p.seq,
            leaf_hash: hex::encode(p.leaf),
            tree_head: TreeHeadView::from(&p.head),
            audit_path: p.path.iter().map(hex::encode).collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The size of the older signed head (required).
    pub first: Option<u64>,
    /// The size of the newer signed head; the newest if absent.
    pub second: Option<u64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProofView {
    pub first: TreeHeadView,
    pub second: TreeHeadView,
    /// RFC 9162 consistency path, hex.
    pub consistency_path: Vec<String>,
}

impl From<&ConsistencyProof> for ConsistencyProofView {
    fn from(p: &ConsistencyProof) -> Self {
        Self {
            first: TreeHeadView::from(&p.first),
            second: TreeHeadView::from(&p.second),
            consistency_path: p.path.iter().map(hex::encode).collect(),
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AuditKeyView {
    /// `intl` (Ed25519) or `sm` (SM2, with the default user id).
    pub suite: String,
    /// Hex: Ed25519's 32 bytes, or SM2's uncompressed point.
    pub public_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct VerifyReport {
    /// True if every event is where, and what, the signed heads say.
    pub intact: bool,
    /// Events checked.
    pub events: u64,
    /// The largest signed head they were checked against.
    pub signed_size: u64,
    /// The first bad event's sequence number, if any.
    pub first_bad_seq: Option<u64>,
    /// What was wrong there: `out_of_order` (deleted, inserted or moved),
    /// `leaf_changed`, `root_changed`, `missing` (a lost tail),
    /// `bad_signature`.
    pub problem: Option<String>,
}

/// The tenant's audit policy: alert thresholds, working hours, the alert
/// webhook and how long events stay in the live log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditPolicyBody {
    /// Failed sign-ins of one account within the window that raise an
    /// alert: 3–100, default 5.
    pub failed_logins_per_account: u32,
    /// From one address, across accounts: 3–10000, default 20.
    pub failed_logins_per_address: u32,
    /// 1–1440 minutes, default 15.
    pub failed_login_window_minutes: u32,
    /// Exports by one user within a minute: 1–1000, default 10.
    pub downloads_per_minute: u32,
    /// Sign-ins outside these hours raise an alert; absent: never.
    pub working_hours: Option<WorkingHoursBody>,
    /// Alerts are also POSTed here as JSON: `https://…`, or `http://` to
    /// a loopback address.
    pub webhook_url: Option<String>,
    /// 180–3650 days, default 365.
    pub retention_days: u32,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkingHoursBody {
    /// 0–23.
    pub start_hour: u8,
    /// 1–24, after `start_hour`.
    pub end_hour: u8,
    pub weekdays_only: bool,
    /// The tenant's offset from UTC in minutes, default 480 (China).
    #[serde(default = "china")]
    pub utc_offset_minutes: i32,
}

fn china() -> i32 {
    480
}

impl From<AuditPolicy> for AuditPolicyBody {
    fn from(p: AuditPolicy) -> Self {
        Self {
            failed_logins_per_account: p.failed_logins_per_account,
            failed_logins_per_address: p.failed_logins_per_address,
            failed_login_window_minutes: p.failed_login_window_minutes,
            downloads_per_minute: p.downloads_per_minute,
            working_hours: p.working_hours.map(|h| WorkingHoursBody {
                start_hour: h.start_hour,
                end_hour: h.end_hour,
                weekdays_only: h.weekdays_only,
                utc_offset_minutes: h.utc_offset_minutes,
            }),
            webhook_url: p.webhook_url,
            retention_days: p.retention_days,
        }
    }
}

impl From<AuditPolicyBody> for AuditPolicy {
    fn from(b: AuditPolicyBody) -> Self {
        Self {
            failed_logins_per_account: b.failed_logins_per_account,
            failed_logins_per_address: b.failed_logins_per_address,
            failed_login_window_minutes: b.failed_login_window_minutes,
            downloads_per_minute: b.downloads_per_minute,
            working_hours: b.working_hours.map(|h| WorkingHours {
                start_hour: h.start_hour,
                end_hour: h.end_hour,
                weekdays_only: h.weekdays_only,
                utc_offset_minutes: h.utc_offset_minutes,
            }),
            webhook_url: b.webhook_url,
            retention_days: b.retention_days,
        }
    }
}
