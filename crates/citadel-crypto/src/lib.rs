//! Citadel's cryptography, built only on RustCrypto crates.
//!
//! This crate knows nothing of HTTP or SQL. It holds the master key and
//! seals small secrets under it, hashes passwords with argon2id, makes and
//! hashes bearer tokens, and keeps every secret in a type that zeroizes on
//! drop and never prints its contents.

mod error;
pub mod kms;
pub mod master_key;
mod passphrase;
pub mod password;
pub mod scram;
pub mod secret;
pub mod suite;
pub mod token;
pub mod totp;

pub use error::CryptoError;
pub use kms::{Kms, LocalKms};
pub use master_key::MasterKey;
pub use secret::{SecretBytes, SecretString};
pub use suite::Suite;
