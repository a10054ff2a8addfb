//! `citadel keys …`: a tenant's key status and data key rotation, run on
//! the server against the data directory and master key directly.

use citadel_core::{Action, Principal, Resource, TenantScope, TenantSlug, authorize};
use citadel_server::routes::keys::KeyStatusView;
use citadel_server::{ServerConfig, open_platform};
use std::sync::Arc;

use citadel_crypto::LocalKms;
use citadel_store::{KeyStatus, Store};

use crate::audit_cmd::record_cli;
use crate::cli::KeysCommand;

/// The tenant named by `slug`, as the machine's operator may reach it for
/// `action`.
pub(crate) async fn tenant_scope(
    store: &Store,
    slug: &str,
    action: Action,
) -> Result<TenantScope, String> {
    let slug = TenantSlug::parse(slug).map_err(|e| format!("--tenant: {e}"))?;
    let tenant = store
        .find_tenant_by_slug(&slug)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no tenant {slug}"))?;
    authorize(
        &Principal::LocalAdministrator,
        action,
        Resource::Tenant {
            id: tenant.id,
            status: tenant.status,
        },
    )
    .map_err(|denied| format!("tenant {slug}: {denied:?}"))?
    .into_tenant()
    .ok_or_else(|| format!("tenant {slug}: not allowed"))
}

/// Prints a status, naming where the master key comes from with its path
/// (the operator on the machine may see it).
fn print_status(status: KeyStatus) {
    let source = status.master_key.clone();
    let view = KeyStatusView::from(status);
    println!(
        "Suite {} ({}, {}, {}, {}); master key from {source}.",
        view.suite, view.cipher, view.mac, view.digest, view.signature
    );
    println!(
        "{:<10} {:>7} {:<9} {:>8}",
        "PURPOSE", "VERSION", "STATE", "VALUES"
    );
    for key in &view.keys {
        let values = key.values.map_or_else(|| "-".to_owned(), |n| n.to_string());
        println!(
            "{:<10} {:>7} {:<9} {:>8}",
            key.purpose, key.version, key.state, values
        );
    }
    if view.master_sealed_values > 0 {
        println!(
            "{} value(s) are still sealed under the master key directly; `citadel keys rotate` moves them.",
            view.master_sealed_values
        );
    }
}

pub async fn run(config: &ServerConfig, command: KeysCommand) -> Result<(), String> {
    let store = open_platform(config)
        .await
        .map_err(|e| e.to_string())?
        .store;
    let result = match command {
        KeysCommand::Status { tenant, json } => {
            let scope = tenant_scope(&store, &tenant, Action::ManageKeys).await?;
            let status = store.key_status(&scope).await.map_err(|e| e.to_string())?;
            if json {
                let view = KeyStatusView::from(status);
                println!(
                    "{}",
                    serde_json::to_string_pretty(&view).map_err(|e| e.to_string())?
                );
            } else {
                print_status(status);
            }
            Ok(())
        }
        KeysCommand::Rotate { tenant, retire_now } => {
            let scope = tenant_scope(&store, &tenant, Action::ManageKeys).await?;
            if retire_now {
                store.set_key_retire_grace(std::time::Duration::ZERO);
            }
            let result = match store.rotate_data_key(&scope).await {
                Ok(version) => {
                    println!("Data key version {version} added; it seals from now on.");
                    reencrypt(&store, &scope).await
                }
                Err(e) => Err(e.to_string()),
            };
            record_in_tenant(&store, &scope, "key.rotate", result).await
        }
        KeysCommand::Reencrypt { tenant } => {
            let scope = tenant_scope(&store, &tenant, Action::ManageKeys).await?;
            let result = reencrypt(&store, &scope).await;
            record_in_tenant(&store, &scope, "key.reencrypt", result).await
        }
        KeysCommand::RotateMaster { new_key_file } => {
            let result = rotate_master(&store, &new_key_file).await;
            let trail = store.platform_audit();
            let recorded = record_cli(trail, "key.master_rotate", Vec::new(), &result).await;
            result.and(recorded)
        }
    };
    store.close().await;
    result
}

/// Records a key operation in the tenant's own trail.
async fn record_in_tenant(
    store: &Store,
    scope: &TenantScope,
    action: &str,
    result: Result<(), String>,
) -> Result<(), String> {
    let db = store.tenant(scope).await.map_err(|e| e.to_string())?;
    let recorded = record_cli(db.audit(), action, Vec::new(), &result).await;
    result.and(recorded)
}

async fn reencrypt(store: &Store, scope: &TenantScope) -> Result<(), String> {
    let done = store.reencrypt(scope).await.map_err(|e| e.to_string())?;
    println!(
        "Re-encrypted {} value(s) under the active version.",
        done.moved
    );
    for retired in &done.retired {
        println!("Version {retired} protects nothing any more: retired and erased.");
    }
    if let Some(after) = done.retire_after {
        println!(
            "Version(s) {:?} protect nothing but are kept for two minutes after the rotation (until {after} ms since the epoch), while running servers may still seal under them; run `citadel keys reencrypt` then to retire them.",
            done.waiting
        );
    }
    print_status(store.key_status(scope).await.map_err(|e| e.to_string())?);
    Ok(())
}

/// Refuses while an active tenant still holds values sealed under the
/// master key itself, which a rotation would leave unreadable.
async fn rotate_master(store: &Store, new_key_file: &std::path::Path) -> Result<(), String> {
    let platform = authorize(
        &Principal::LocalAdministrator,
        Action::ManageTenants,
        Resource::Platform,
    )
    .ok()
    .and_then(|a| a.into_platform())
    .ok_or("not allowed to manage the platform")?;
    for tenant in store
        .list_tenants(&platform)
        .await
        .map_err(|e| e.to_string())?
    {
        let Ok(scope) = tenant_scope(store, tenant.slug.as_str(), Action::ManageKeys).await else {
            continue;
        };
        let status = store.key_status(&scope).await.map_err(|e| e.to_string())?;
        if status.master_sealed_values > 0 {
            return Err(format!(
                "tenant {} still has {} value(s) sealed under the master key itself; run `citadel keys rotate --tenant {}` first",
                tenant.slug, status.master_sealed_values, tenant.slug
            ));
        }
    }
    let new = if new_key_file.exists() {
        LocalKms::from_file(new_key_file)
    } else {
        LocalKms::create_file(new_key_file)
    }
    .map_err(|e| e.to_string())?;
    let done = store
        .rotate_master_key(&platform, Arc::new(new))
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "Re-sealed {} tenant key(s), {} audit key(s) and {} database credential(s) under {}.",
        done.tenant_keys,
        done.audit_keys,
        done.credentials,
        new_key_file.display()
    );
    println!(
        "Start the server with --master-key-file {}; the old key no longer opens this data store.",
        new_key_file.display()
    );
    Ok(())
}
