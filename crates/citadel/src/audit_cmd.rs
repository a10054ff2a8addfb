//! `citadel audit …`: verifying a log on the server against its signed
//! heads, and checking the API's proofs offline with nothing but the
//! audit key.

use std::path::Path;

use citadel_audit::{AuditEvent, Outcome, TreeHash};
use citadel_core::{Action, Principal, Resource, authorize};
use citadel_crypto::suite::PublicKey;
use citadel_server::routes::audit_dto::{
    AuditKeyView, ConsistencyProofView, EventView, InclusionProofView, TreeHeadView, hash_of,
};
use citadel_server::services::audit::verify;
use citadel_server::{ServerConfig, open_platform};
use citadel_store::{AuditTrail, Store, now_millis};
use serde_json::json;

use crate::cli::AuditCommand;
use crate::keys_cmd::tenant_scope;

/// Records an action of the command line in `trail`: the actor is the
/// local administrator (the machine's user, as the environment names it).
/// An action whose record cannot be written is reported as failed.
pub async fn record_cli(
    trail: &AuditTrail,
    action: &str,
    targets: Vec<String>,
    result: &Result<(), String>,
) -> Result<(), String> {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok();
    let (outcome, detail) = match result {
        Ok(()) => (Outcome::Success, json!({"via": "cli"})),
        Err(_) => (Outcome::Error, json!({"via": "cli"})),
    };
    let event = AuditEvent {
        seq: 0,
        at_ms: now_millis(),
        actor_id: Some("local-administrator".into()),
        actor_name: user,
        actor_ip: None,
        user_agent: Some(format!("citadel {}", env!("CARGO_PKG_VERSION"))),
        request_id: None,
        action: action.to_owned(),
        targets,
        outcome,
        detail: detail.to_string(),
    };
    trail
        .record(event)
        .await
        .map(|_| ())
        .map_err(|e| format!("the audit log could not record {action}: {e}"))
}

/// Runs the command; `Ok(false)` when it found something wrong.
pub async fn run(config: &ServerConfig, command: AuditCommand) -> Result<bool, String> {
    match command {
        AuditCommand::Verify { tenant } => {
            let store = open_platform(config)
                .await
                .map_err(|e| e.to_string())?
                .store;
            let result = verify_log(&store, tenant.as_deref()).await;
            store.close().await;
            result
        }
        AuditCommand::CheckProof {
            public_key,
            proof,
            event,
        } => check_proof(&public_key, &proof, event.as_deref()),
    }
}

async fn verify_log(store: &Store, slug: Option<&str>) -> Result<bool, String> {
    let (name, trail): (String, AuditTrail) = match slug {
        None => {
            authorize(
                &Principal::LocalAdministrator,
                Action::VerifyAuditLog,
                Resource::Platform,
            )
            .map_err(|denied| format!("the platform's log: {denied:?}"))?;
            ("the platform's log".into(), store.platform_audit().clone())
        }
        Some(slug) => {
            let scope = tenant_scope(store, slug, Action::VerifyAuditLog).await?;
            let db = store.tenant(&scope).await.map_err(|e| e.to_string())?;
            (format!("tenant {slug}'s log"), db.audit().clone())
        }
    };
    let report = verify(&trail).await.map_err(|e| e.to_string())?;
    if report.intact {
        println!(
            "{name}: intact; {} events, checked against signed heads up to {} events.",
            report.events, report.signed_size
        );
    } else {
        println!(
            "{name}: NOT what was signed; first bad event {}: {}.",
            report
                .first_bad_seq
                .map_or_else(|| "-".to_owned(), |s| s.to_string()),
            report.problem.as_deref().unwrap_or("unknown")
        );
    }
    Ok(report.intact)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The head's signature with `key`; its tree hash for the proof.
fn checked_head(view: &TreeHeadView, key: &PublicKey) -> Result<TreeHash, String> {
    let signed = view.signed().ok_or("the proof's tree head is malformed")?;
    signed
        .verify(key)
        .map_err(|_| "the tree head's signature does not verify with this audit key")?;
    Ok(signed.head.hash)
}

fn hashes(texts: &[String]) -> Result<Vec<citadel_audit::Hash>, String> {
    texts
        .iter()
        .map(|t| hash_of(t).ok_or_else(|| format!("not a hash: {t}")))
        .collect()
}

fn check_proof(key: &Path, proof: &Path, event: Option<&Path>) -> Result<bool, String> {
    let key: AuditKeyView = read_json(key)?;
    let suite = key.suite.parse().map_err(|_| "unknown audit key suite")?;
    let bytes = hex::decode(&key.public_key).map_err(|_| "the public key is not hex")?;
    let key = PublicKey::from_bytes(suite, &bytes).map_err(|_| "not an audit public key")?;
    let value: serde_json::Value = read_json(proof)?;
    if value.get("leaf_index").is_some() {
        let proof: InclusionProofView = read_json(proof)?;
        let hash = checked_head(&proof.tree_head, &key)?;
        let leaf = hash_of(&proof.leaf_hash).ok_or("the leaf hash is malformed")?;
        if let Some(path) = event {
            let view: EventView = read_json(path)?;
            let event = view.event().ok_or("the event's outcome is unknown")?;
            if event.seq != proof.leaf_index || event.leaf(hash) != leaf {
                println!("the event does not hash to the proved leaf");
                return Ok(false);
            }
        }
        let root = hash_of(&proof.tree_head.root_hash).ok_or("the root is malformed")?;
        match hash.verify_inclusion(
            &leaf,
            proof.leaf_index,
            proof.tree_head.tree_size,
            &hashes(&proof.audit_path)?,
            &root,
        ) {
            Ok(()) => {
                println!(
                    "inclusion proof verifies: event {} is in the signed tree of {} events.",
                    proof.leaf_index, proof.tree_head.tree_size
                );
                Ok(true)
            }
            Err(_) => {
                println!("inclusion proof does NOT verify");
                Ok(false)
            }
        }
    } else {
        let proof: ConsistencyProofView = read_json(proof)?;
        let hash = checked_head(&proof.first, &key)?;
        let second_hash = checked_head(&proof.second, &key)?;
        if hash != second_hash || proof.first.log_id != proof.second.log_id {
            println!("the two heads are not of the same log");
            return Ok(false);
        }
        let old_root = hash_of(&proof.first.root_hash).ok_or("the first root is malformed")?;
        let new_root = hash_of(&proof.second.root_hash).ok_or("the second root is malformed")?;
        match hash.verify_consistency(
            proof.first.tree_size,
            proof.second.tree_size,
            &old_root,
            &new_root,
            &hashes(&proof.consistency_path)?,
        ) {
            Ok(()) => {
                println!(
                    "consistency proof verifies: the tree of {} events is a prefix of the tree of {}.",
                    proof.first.tree_size, proof.second.tree_size
                );
                Ok(true)
            }
            Err(_) => {
                println!("consistency proof does NOT verify");
                Ok(false)
            }
        }
    }
}
