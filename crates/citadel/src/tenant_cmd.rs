//! `citadel tenant …`: the platform operator's tenant commands, run on the
//! server against the data directory and master key directly.

use std::io::{BufRead, IsTerminal, Write};

use citadel_core::{
    Action, CryptoSuite, Email, Principal, Resource, TenantSlug, TenantStatus, authorize,
};
use citadel_server::routes::dto::{CreatedTenantView, TenantView};
use citadel_server::services::passwords::PasswordWork;
use citadel_server::services::tenants;
use citadel_server::{ServerConfig, open_platform};

use crate::audit_cmd::record_cli;
use crate::cli::TenantCommand;

pub async fn run(config: &ServerConfig, command: TenantCommand) -> Result<(), String> {
    let platform = open_platform(config).await.map_err(|e| e.to_string())?;
    let store = platform.store;
    // Whoever can run this command can read the master key and the data:
    // the choke point treats them as a platform operator.
    let scope = authorize(
        &Principal::LocalAdministrator,
        Action::ManageTenants,
        Resource::Platform,
    )
    .ok()
    .and_then(|a| a.into_platform())
    .ok_or("not allowed to manage tenants")?;
    let audited = match &command {
        TenantCommand::Create { slug, .. } => Some(("tenant.create", slug.clone())),
        TenantCommand::Suspend { slug } => Some(("tenant.suspend", slug.clone())),
        TenantCommand::Resume { slug } => Some(("tenant.resume", slug.clone())),
        TenantCommand::Destroy { slug, .. } => Some(("tenant.destroy", slug.clone())),
        TenantCommand::List { .. } => None,
    };
    let result = match command {
        TenantCommand::Create {
            slug,
            admin,
            suite,
            json,
        } => {
            let slug = TenantSlug::parse(&slug).map_err(|e| e.to_string())?;
            let email = Email::parse(&admin).map_err(|e| format!("--admin: {e}"))?;
            let suite = CryptoSuite::parse(&suite).map_err(|e| format!("--suite: {e}"))?;
            let (created, one_time) =
                tenants::create_tenant(&store, &PasswordWork::new(), &scope, &slug, suite, email)
                    .await
                    .map_err(|e| e.to_string())?;
            let view = CreatedTenantView {
                tenant: TenantView::from(&created.tenant),
                admin_login: created.admin_login,
                one_time_password: one_time.expose().to_owned(),
            };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&view).map_err(|e| e.to_string())?
                );
            } else {
                println!(
                    "Tenant {} created (id {}, suite {}).",
                    view.tenant.slug, view.tenant.id, view.tenant.suite
                );
                println!("First admin login: {}", view.admin_login);
                println!("One-time password: {}", view.one_time_password);
                println!("It is shown only now and must be changed at first sign-in.");
            }
            Ok(())
        }
        TenantCommand::List { json } => {
            let tenants: Vec<TenantView> = store
                .list_tenants(&scope)
                .await
                .map_err(|e| e.to_string())?
                .iter()
                .map(TenantView::from)
                .collect();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&tenants).map_err(|e| e.to_string())?
                );
            } else {
                println!(
                    "{:<24} {:<10} {:<6} {:<38} CREATED",
                    "SLUG", "STATUS", "SUITE", "ID"
                );
                for t in tenants {
                    println!(
                        "{:<24} {:<10} {:<6} {:<38} {}",
                        t.slug, t.status, t.suite, t.id, t.created_at
                    );
                }
            }
            Ok(())
        }
        TenantCommand::Suspend { slug } => {
            set_status(&store, &scope, &slug, TenantStatus::Suspended).await
        }
        TenantCommand::Resume { slug } => {
            set_status(&store, &scope, &slug, TenantStatus::Active).await
        }
        TenantCommand::Destroy { slug, confirm } => {
            let slug = TenantSlug::parse(&slug).map_err(|e| e.to_string())?;
            let typed = match confirm {
                Some(typed) => typed,
                None => prompt_confirmation(&slug)?,
            };
            if typed != slug.as_str() {
                return Err("confirmation does not match the slug; nothing was destroyed".into());
            }
            let record = store
                .destroy_tenant(&scope, &slug)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "Tenant {} ({}) destroyed; its data is gone.",
                record.slug, record.id
            );
            Ok(())
        }
    };
    let recorded = match audited {
        Some((action, slug)) => {
            let trail = store.platform_audit();
            record_cli(trail, action, vec![format!("slug:{slug}")], &result).await
        }
        None => Ok(()),
    };
    store.close().await;
    result.and(recorded)
}

async fn set_status(
    store: &citadel_store::Store,
    scope: &citadel_core::PlatformScope,
    slug: &str,
    status: TenantStatus,
) -> Result<(), String> {
    let slug = TenantSlug::parse(slug).map_err(|e| e.to_string())?;
    let record = store
        .set_tenant_status(scope, &slug, status)
        .await
        .map_err(|e| e.to_string())?;
    println!("Tenant {} is now {}.", record.slug, record.status.as_str());
    Ok(())
}

fn prompt_confirmation(slug: &TenantSlug) -> Result<String, String> {
    if !std::io::stdin().is_terminal() {
        return Err(format!(
            "refusing to destroy without confirmation: pass --confirm {slug}"
        ));
    }
    print!(
        "This destroys tenant {slug} and all its data, irreversibly.\nType the slug to confirm: "
    );
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    Ok(line.trim().to_owned())
}
