//! The audit log over HTTPS, on SQLite and PostgreSQL: what the server
//! records (sign-ins, changes with their field names but not their
//! values, refusals), who may read it, its filters and CSV export (itself
//! recorded), signed tree heads with inclusion and consistency proofs
//! checked offline by `citadel audit check-proof`, and tampering with the
//! stored log found by the API and by `citadel audit verify`.

mod common;
mod data_support;
mod identity_support;

use std::time::Duration;

use citadel_audit::TreeHash;
use citadel_crypto::suite::PublicKey;
use citadel_server::routes::audit_dto::{
    AuditKeyView, ConsistencyProofView, EventView, InclusionProofView, TreeHeadView, hash_of,
};
use common::process::run;
use common::{Backend, TestServer};
use data_support::{Api, id, records};
use identity_support::{Tenant, member, sign_in_with, tenant};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

crate::on_both_backends!(
    the_audit_log_records_proves_and_finds_tampering,
    the_platform_log_records_operators_and_the_registry,
);

/// A secret value stored in a record: it must never reach the log.
const SECRET: &str = "机密-7731";

async fn events(api: &Api<'_>, query: &str) -> Vec<Value> {
    let page = api.get(&format!("/api/v1/audit/events?{query}")).await;
    page["events"].as_array().expect("events").clone()
}

fn find<'a>(events: &'a [Value], action: &str, outcome: &str) -> Option<&'a Value> {
    events
        .iter()
        .find(|e| e["action"] == action && e["outcome"] == outcome)
}

fn detail(event: &Value) -> Value {
    serde_json::from_str(event["detail"].as_str().expect("detail")).expect("detail is JSON")
}

/// The newest signed head once it covers at least `size` events.
async fn head_covering(api: &Api<'_>, size: u64) -> TreeHeadView {
    for _ in 0..100 {
        let r = api
            .server
            .get("/api/v1/audit/tree-head", Some(&api.cookie))
            .await;
        if r.status() == StatusCode::OK {
            let head: TreeHeadView = r.json().await.expect("head");
            if head.tree_size >= size {
                return head;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no signed head covered {size} events");
}

fn args<'a>(server: &'a TestServer, data: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--data-dir", data];
    if let Some(db) = server.postgres() {
        v.extend(["--database", db.url.as_str()]);
    }
    v.extend(rest);
    v
}

fn write_json(dir: &tempfile::TempDir, name: &str, value: &impl serde::Serialize) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, serde_json::to_vec(value).expect("json")).expect("write");
    path.to_str().expect("utf8").to_owned()
}

/// Changes a stored event behind the server's back: the SQLite file's
/// triggers dropped first; on PostgreSQL as the superuser.
async fn tamper(server: &TestServer, t: &Tenant, seq: u64) {
    let sql = format!("UPDATE {{table}} SET action = 'record.read' WHERE seq = {seq}");
    match server.postgres() {
        None => {
            let path = server
                .data_path()
                .join("tenants")
                .join(&t.id)
                .join("audit.db");
            citadel_testkit::sqlite_exec(
                &path,
                &format!(
                    "DROP TRIGGER audit_events_not_updated; {}",
                    sql.replace("{table}", "audit_events")
                ),
            )
            .await;
        }
        Some(pg) => {
            let table = format!("citadel_audit.t_{}", t.id.replace('-', ""));
            pg.as_superuser(&sql.replace("{table}", &table)).await;
        }
    }
}

async fn the_audit_log_records_proves_and_finds_tampering(backend: Backend) {
    let server = TestServer::start_with(backend, |c| {
        c.audit_checkpoints = citadel_store::CheckpointPolicy {
            every_events: 3,
            every: Duration::from_millis(200),
        };
    })
    .await;
    let op = server.operator().await;
    let t = tenant(&server, &op, "audited").await;
    let admin = Api::new(&server, &t.admin);

    // A failed sign-in, a table, a record with a secret, a change.
    let r = sign_in_with(
        &server,
        &t.slug,
        &t.admin_login,
        "wrong password 1",
        json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let app = admin.create("/api/v1/apps", json!({"name": "客户"})).await;
    let table = id(&admin
        .create(
            &format!("/api/v1/apps/{}/tables", id(&app)),
            json!({"name": "合同", "fields": [{"name": "名称", "type": "text"},
                {"name": "备注", "type": "text"}]}),
        )
        .await);
    let record = admin
        .create(&records(&table), json!({"fields": {"名称": SECRET}}))
        .await;
    let record_id = record["id"].as_i64().expect("record id");
    admin
        .ok(
            Method::PATCH,
            &format!("{}/{record_id}", records(&table)),
            json!({"fields": {"备注": format!("{SECRET}-2")}}),
            StatusCode::OK,
        )
        .await;

    // A member is refused administration and the log itself; both refusals
    // are recorded.
    let clerk = member(&server, &t, "clerk").await;
    let clerk_api = Api::new(&server, &clerk.cookie);
    for path in ["/api/v1/users", "/api/v1/audit/events"] {
        let r = clerk_api.send(Method::GET, path, Value::Null).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }

    let all = events(&admin, "limit=500").await;
    let text = serde_json::to_string(&all).expect("json");
    assert!(
        !text.contains(SECRET),
        "a field value reached the log: {text}"
    );

    let failed = find(&all, "auth.login", "denied").expect("the failed sign-in");
    assert_eq!(detail(failed)["reason"], "invalid_credentials");
    assert_eq!(detail(failed)["login"], t.admin_login.as_str());
    assert!(failed["actor_ip"].as_str().is_some());
    assert!(failed["request_id"].as_str().is_some());
    let created = find(&all, "record.create", "success").expect("the create");
    assert_eq!(detail(created)["fields"], json!(["名称"]));
    let targets = created["targets"].as_array().expect("targets");
    assert!(targets.contains(&json!(format!("table:{table}"))));
    assert!(targets.contains(&json!(format!("record:{record_id}"))));
    let updated = find(&all, "record.update", "success").expect("the update");
    assert_eq!(detail(updated)["fields"], json!(["备注"]));
    assert_eq!(updated["actor_name"], t.admin_login.as_str());
    let refused = find(&all, "user.list", "denied").expect("the refused list");
    assert_eq!(refused["actor_id"], clerk.id.as_str());
    assert_eq!(refused["actor_name"], "clerk");
    assert!(find(&all, "audit.query", "denied").is_some());
    assert!(find(&all, "app.create", "success").is_some());
    assert!(find(&all, "table.create", "success").is_some());
    assert!(find(&all, "user.create", "success").is_some());
    // Newest first, numbered without gaps.
    let seqs: Vec<u64> = all
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] == w[1] + 1), "{seqs:?}");

    // Filters and pages.
    let denied = events(&admin, "outcome=denied").await;
    assert!(denied.iter().all(|e| e["outcome"] == "denied") && denied.len() >= 3);
    let data = events(&admin, "action=record.").await;
    assert!(
        data.len() >= 2
            && data.iter().all(|e| e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("record.")))
    );
    let by_target = events(&admin, &format!("target=record:{record_id}")).await;
    assert_eq!(by_target.len(), 2, "{by_target:?}");
    let by_actor = events(&admin, &format!("actor={}", clerk.id)).await;
    assert!(by_actor.iter().all(|e| e["actor_id"] == clerk.id.as_str()) && !by_actor.is_empty());
    let page = admin.get("/api/v1/audit/events?limit=2").await;
    let before = page["next_before"].as_u64().expect("a next page");
    let next = events(&admin, &format!("limit=2&before={before}")).await;
    assert_eq!(next[0]["seq"].as_u64(), Some(before - 1));
    for bad in ["limit=0", "outcome=maybe", "from=yesterday"] {
        let r = admin
            .send(
                Method::GET,
                &format!("/api/v1/audit/events?{bad}"),
                Value::Null,
            )
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }

    // The CSV export, itself recorded.
    let r = server
        .get("/api/v1/audit/export?action=record.", Some(&t.admin))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let csv = r.text().await.expect("csv");
    assert!(csv.starts_with("\u{feff}seq,at,actor_id"));
    assert!(csv.contains("record.update") && !csv.contains(SECRET));
    let exported = events(&admin, "action=audit.export").await;
    assert_eq!(exported.len(), 1);
    assert_eq!(detail(&exported[0])["filters"]["action"], "record.");

    // A signed head, a proof that event 1 is in it, checked offline.
    let size = all.len() as u64;
    let first_head = head_covering(&admin, size).await;
    let key: AuditKeyView =
        serde_json::from_value(admin.get("/api/v1/audit/public-key").await).expect("key");
    let public = PublicKey::from_bytes(
        key.suite.parse().expect("suite"),
        &hex::decode(&key.public_key).expect("hex"),
    )
    .expect("public key");
    let signed = first_head.signed().expect("a well-formed head");
    signed
        .verify(&public)
        .expect("the head's signature verifies");
    let proof: InclusionProofView = serde_json::from_value(
        admin
            .get(&format!(
                "/api/v1/audit/proofs/inclusion?seq=1&tree_size={}",
                first_head.tree_size
            ))
            .await,
    )
    .expect("inclusion proof");
    let event_one: EventView =
        serde_json::from_value(events(&admin, "before=2&limit=1").await[0].clone())
            .expect("event 1");
    assert_eq!(event_one.seq, 1);
    let hash = TreeHash::parse(&first_head.tree_hash).expect("tree hash");
    let leaf = event_one.event().expect("event").leaf(hash);
    assert_eq!(hex::encode(leaf), proof.leaf_hash);
    let path: Vec<_> = proof
        .audit_path
        .iter()
        .map(|h| hash_of(h).expect("hash"))
        .collect();
    let root = hash_of(&first_head.root_hash).expect("root");
    hash.verify_inclusion(&leaf, 1, first_head.tree_size, &path, &root)
        .expect("the inclusion proof verifies");

    // More events, a newer head, and the proof that the first is its prefix.
    admin
        .ok(
            Method::PATCH,
            &format!("{}/{record_id}", records(&table)),
            json!({"fields": {"备注": "三"}}),
            StatusCode::OK,
        )
        .await;
    let second_head = head_covering(&admin, first_head.tree_size + 1).await;
    let consistency: ConsistencyProofView = serde_json::from_value(
        admin
            .get(&format!(
                "/api/v1/audit/proofs/consistency?first={}&second={}",
                first_head.tree_size, second_head.tree_size
            ))
            .await,
    )
    .expect("consistency proof");
    let r = admin
        .send(
            Method::GET,
            "/api/v1/audit/proofs/consistency?first=999999",
            Value::Null,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // `citadel audit check-proof` agrees, and refuses a forged proof.
    let files = tempfile::tempdir().expect("tempdir");
    let key_file = write_json(&files, "key.json", &key);
    let proof_file = write_json(&files, "inclusion.json", &proof);
    let event_file = write_json(&files, "event.json", &event_one);
    let consistency_file = write_json(&files, "consistency.json", &consistency);
    let data = server.data_path();
    let data = data.to_str().expect("utf8");
    for (proof, event) in [(&proof_file, Some(&event_file)), (&consistency_file, None)] {
        let mut argv = vec![
            "audit",
            "check-proof",
            "--public-key",
            &key_file,
            "--proof",
            proof,
        ];
        if let Some(event) = event {
            argv.extend(["--event", event]);
        }
        let out = run(&argv);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let mut forged = proof;
    forged.leaf_index = 2;
    let forged_file = write_json(&files, "forged.json", &forged);
    let out = run(&[
        "audit",
        "check-proof",
        "--public-key",
        &key_file,
        "--proof",
        &forged_file,
    ]);
    assert!(!out.status.success());
    let mut other_event = event_one;
    other_event.action = "record.read".into();
    let other_file = write_json(&files, "other.json", &other_event);
    let out = run(&[
        "audit",
        "check-proof",
        "--public-key",
        &key_file,
        "--proof",
        &proof_file,
        "--event",
        &other_file,
    ]);
    assert!(!out.status.success());

    // The whole log verifies, through the API and the CLI.
    let report = admin
        .ok(
            Method::POST,
            "/api/v1/audit/verify",
            Value::Null,
            StatusCode::OK,
        )
        .await;
    assert_eq!(report["intact"], true, "{report}");
    assert!(report["signed_size"].as_u64() >= Some(second_head.tree_size));
    let out = run(&args(
        &server,
        data,
        &["audit", "verify", "--tenant", &t.slug],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("intact"));

    // A changed event is found and named, by both.
    tamper(&server, &t, 1).await;
    let report = admin
        .ok(
            Method::POST,
            "/api/v1/audit/verify",
            Value::Null,
            StatusCode::OK,
        )
        .await;
    assert_eq!(report["intact"], false, "{report}");
    assert_eq!(report["first_bad_seq"], 1);
    assert_eq!(report["problem"], "leaf_changed");
    let out = run(&args(
        &server,
        data,
        &["audit", "verify", "--tenant", &t.slug],
    ));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("first bad event 1: leaf_changed"), "{said}");
    // The failure is a security event, itself in the log.
    let raised = events(&admin, "action=security.audit_integrity_failure").await;
    assert_eq!(raised.len(), 1);
    server.stop().await;
}

async fn the_platform_log_records_operators_and_the_registry(backend: Backend) {
    let server = TestServer::start(backend).await;
    let op = server.operator().await;
    let r = server
        .post(
            "/api/v1/platform/login",
            None,
            &json!({"login": "nobody", "password": "x"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let t = tenant(&server, &op, "registry").await;
    let r = server
        .post(
            &format!("/api/v1/platform/tenants/{}/suspend", t.slug),
            Some(&op),
            &json!({}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let page = server
        .get("/api/v1/platform/audit/events?limit=100", Some(&op))
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let page: Value = page.json().await.expect("json");
    let all = page["events"].as_array().expect("events");
    assert!(
        find(all, "operator.bootstrap", "success").is_some(),
        "{all:?}"
    );
    let failed = find(all, "operator.login", "denied").expect("failed operator sign-in");
    assert_eq!(detail(failed)["login"], "nobody");
    assert!(find(all, "tenant.create", "success").is_some());
    let suspended = find(all, "tenant.suspend", "success").expect("suspension");
    assert!(
        suspended["targets"]
            .as_array()
            .expect("targets")
            .contains(&json!(format!("slug:{}", t.slug)))
    );
    // Tenant users never see it; a tenant's events are not in it.
    assert!(find(all, "auth.login", "success").is_none());
    let r = server
        .get("/api/v1/platform/audit/events", Some(&t.admin))
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let data = server.data_path();
    let out = run(&args(
        &server,
        data.to_str().expect("utf8"),
        &["audit", "verify"],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    server.stop().await;
}
