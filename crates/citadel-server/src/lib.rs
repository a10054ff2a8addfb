//! Citadel's HTTP server.
//!
//! `main` parses configuration and calls [`Application::build`], which
//! opens the platform (master key, store), binds the listener (port 0 in
//! tests) and exposes the bound address; [`Application::run_until`] serves
//! until a shutdown future fires.

mod app;
pub mod audit;
mod auth;
mod client;
mod config;
mod error;
mod extract;
mod metrics;
mod middleware;
pub mod routes;
pub mod services;
mod state;
mod tls;
pub mod ui;

pub use app::{Application, OpenedPlatform, open_platform};
pub use config::{ServerConfig, Transport};
pub use error::ApiError;
pub use state::{AppState, RuntimeSettings};

/// Why the server could not start. Each says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("master key: {0}")]
    MasterKey(#[from] citadel_crypto::CryptoError),
    #[error("storage: {0}")]
    Store(#[from] citadel_store::StoreError),
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("listen: {0}")]
    Listen(#[source] std::io::Error),
}
