//! An audit event and the bytes its leaf hashes.
//!
//! Each field is written with its length before it (four bytes,
//! big-endian) and an absent field as a marker byte, so two different
//! events never encode to the same bytes, however their texts run into
//! each other, and a verifier in any language can rebuild the encoding
//! from the stored columns. The detail is hashed as the JSON text stored,
//! not re-serialized, so the leaf covers exactly what was written.

use crate::{Hash, TreeHash};

/// The encoding's version, first in every entry.
const ENTRY_VERSION: u8 = 1;

/// How an audited action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Denied,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Success, Self::Denied, Self::Error]
            .into_iter()
            .find(|o| o.as_str() == text)
    }
}

/// One event of a tenant's log: who did what, when, from where, to
/// which targets, and how it ended. Business field values never go in
/// `detail`; names of changed fields and counts do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// Its position in the tenant's log, from 0: the leaf's index.
    pub seq: u64,
    /// Milliseconds since the Unix epoch, UTC.
    pub at_ms: i64,
    pub actor_id: Option<String>,
    /// The actor's name when the event happened.
    pub actor_name: Option<String>,
    pub actor_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// What was done, as `area.verb` (`auth.login`, `record.update`).
    pub action: String,
    /// The ids acted on.
    pub targets: Vec<String>,
    pub outcome: Outcome,
    /// A small JSON object, as stored.
    pub detail: String,
}

impl AuditEvent {
    /// The bytes the event's leaf hashes.
    pub fn entry(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.detail.len());
        out.push(ENTRY_VERSION);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.at_ms.to_be_bytes());
        for text in [
            &self.actor_id,
            &self.actor_name,
            &self.actor_ip,
            &self.user_agent,
            &self.request_id,
        ] {
            optional(&mut out, text.as_deref());
        }
        field(&mut out, self.action.as_bytes());
        out.extend_from_slice(&len32(self.targets.len()));
        for target in &self.targets {
            field(&mut out, target.as_bytes());
        }
        field(&mut out, self.outcome.as_str().as_bytes());
        field(&mut out, self.detail.as_bytes());
        out
    }

    /// The event's leaf hash in a tree built with `hash`.
    pub fn leaf(&self, hash: TreeHash) -> Hash {
        hash.leaf(&self.entry())
    }
}

/// A length that fits four bytes: an event's texts are bounded far below
/// 4 GiB by the server, and a longer one saturates (the hash still covers
/// every byte written after it).
fn len32(len: usize) -> [u8; 4] {
    u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes()
}

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&len32(bytes.len()));
    out.extend_from_slice(bytes);
}

fn optional(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        None => out.push(0),
        Some(text) => {
            out.push(1);
            field(out, text.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> AuditEvent {
        AuditEvent {
            seq: 41,
            at_ms: 1_795_000_000_123,
            actor_id: Some("01a2".into()),
            actor_name: Some("王小明".into()),
            actor_ip: Some("10.0.0.8".into()),
            user_agent: Some("Mozilla/5.0".into()),
            request_id: Some("req-1".into()),
            action: "record.update".into(),
            targets: vec!["table-1".into(), "42".into()],
            outcome: Outcome::Success,
            detail: r#"{"fields":["金额"]}"#.into(),
        }
    }

    #[test]
    fn any_change_to_an_event_changes_its_leaf() {
        let base = event();
        let leaf = base.leaf(TreeHash::Sha256);
        assert_eq!(base.clone().leaf(TreeHash::Sha256), leaf, "deterministic");
        let changes: Vec<fn(&mut AuditEvent)> = vec![
            |e| e.seq += 1,
            |e| e.at_ms += 1,
            |e| e.actor_id = None,
            |e| e.actor_name = Some("王小红".into()),
            |e| e.actor_ip = Some(String::new()),
            |e| e.user_agent = None,
            |e| e.request_id = Some("req-2".into()),
            |e| e.action = "record.delete".into(),
            |e| e.targets.truncate(1),
            |e| e.targets.swap(0, 1),
            |e| e.outcome = Outcome::Denied,
            |e| e.detail = r#"{"fields":["数量"]}"#.into(),
        ];
        for (n, change) in changes.into_iter().enumerate() {
            let mut changed = base.clone();
            change(&mut changed);
            assert_ne!(changed.leaf(TreeHash::Sha256), leaf, "change {n}");
        }
        assert_ne!(base.leaf(TreeHash::Sm3), leaf, "SM3 is another tree");
    }

    /// Text moved from one field to the next is another event: lengths
    /// and markers keep the boundaries.
    #[test]
    fn field_boundaries_cannot_shift() {
        let mut a = event();
        let mut b = event();
        a.targets = vec!["ab".into(), "c".into()];
        b.targets = vec!["a".into(), "bc".into()];
        assert_ne!(a.entry(), b.entry());
        a.actor_id = Some(String::new());
        a.actor_name = None;
        b.actor_id = None;
        b.actor_name = Some(String::new());
        assert_ne!(a.entry(), b.entry());
        a.action = "x".into();
        a.targets = vec![];
        b.action = String::new();
        b.targets = vec!["x".into()];
        assert_ne!(a.entry(), b.entry());
    }

    #[test]
    fn outcomes_read_back() {
        for outcome in [Outcome::Success, Outcome::Denied, Outcome::Error] {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(Outcome::parse("ok"), None);
    }
}
