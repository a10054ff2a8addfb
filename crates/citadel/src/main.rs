//! `citadel`: parses the command line and hands over to the server crate.

mod audit_cmd;
mod cli;
mod keys_cmd;
mod settings;
mod tenant_cmd;

use std::process::ExitCode;

use citadel_server::Application;
use clap::Parser;

use crate::cli::{Cli, Command};

/// mimalloc rather than glibc's malloc for Rust's allocations: a request
/// allocates and frees hundreds of small blocks across the runtime's
/// threads, and glibc spent about an eighth of a get's server time on it
/// (docs/benchmarks.md, session 8; the build options are in Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_logging(format: Option<&str>) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == Some("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(config: citadel_server::ServerConfig) -> Result<(), String> {
    let app = Application::build(config.clone())
        .await
        .map_err(|e| e.to_string())?;
    let scheme = if app.is_tls() { "https" } else { "http" };
    if app.master_key_created() {
        println!(
            "Created master key {} (mode 0600). Back it up: without it the data cannot be read.",
            config.master_key_path().display()
        );
    }
    if let Some(token) = app.bootstrap_token() {
        println!(
            "Bootstrap token (one-time; creates the first platform operator): {}",
            token.expose()
        );
        println!(
            "  POST {scheme}://{}/api/v1/platform/bootstrap with {{\"token\", \"login\", \"password\"}}",
            app.local_addr()
        );
    }
    // Printed last: scripts and tests wait for this line.
    println!(
        "Citadel listening on {scheme}://{} (data: {}, storage: {})",
        app.local_addr(),
        config.data_dir.display(),
        app.store().backend_name()
    );
    app.run_until(shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = async {
        let file = settings::load_file(cli.global.config.as_deref())?;
        init_logging(
            cli.global
                .log_format
                .as_deref()
                .or(file.log_format.as_deref()),
        );
        match cli.command {
            Command::Serve(args) => serve(settings::serve_config(&cli.global, &args, &file)?).await,
            Command::Tenant(command) => {
                tenant_cmd::run(&settings::base_config(&cli.global, &file)?, command).await
            }
            Command::Keys(command) => {
                keys_cmd::run(&settings::base_config(&cli.global, &file)?, command).await
            }
            Command::Audit(command) => {
                let config = settings::base_config(&cli.global, &file)?;
                if !audit_cmd::run(&config, command).await? {
                    return Err("the check failed".to_owned());
                }
                Ok(())
            }
        }
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("citadel: {message}");
            ExitCode::FAILURE
        }
    }
}
