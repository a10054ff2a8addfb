//! The two algorithm suites a tenant chooses from when it is created.
//!
//! `intl` is AES-256-GCM, HMAC-SHA-256, SHA-256 and Ed25519; `sm` is the
//! national suite that 密评 (GB/T 39786-2021) asks for: SM4-GCM, HMAC-SM3,
//! SM3 and SM2. Every primitive comes from a RustCrypto crate; this module
//! only chooses between them and fixes the formats Citadel stores. The
//! rest of Citadel sees [`DataKey`], [`MacKey`], [`SigningKey`] and
//! [`PublicKey`], never a crate's type, so a better or hardware-backed
//! implementation of one algorithm can replace it here alone.

mod cipher;
mod mac;
mod signing;
#[cfg(test)]
mod vectors;

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use sm3::Sm3;

pub use cipher::{DataKey, sealed_header};
pub use mac::MacKey;
pub use signing::{PublicKey, SM2_DEFAULT_ID, SigningKey};

/// An algorithm suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Suite {
    /// AES-256-GCM, HMAC-SHA-256, SHA-256, Ed25519.
    Intl,
    /// SM4-GCM, HMAC-SM3, SM3, SM2 (GB/T 32907, 32905, 32918).
    Sm,
}

/// The names of a suite's algorithms, as shown in a tenant's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Algorithms {
    pub cipher: &'static str,
    pub mac: &'static str,
    pub digest: &'static str,
    pub signature: &'static str,
}

impl Suite {
    pub const ALL: [Suite; 2] = [Suite::Intl, Suite::Sm];

    pub fn as_str(self) -> &'static str {
        match self {
            Suite::Intl => "intl",
            Suite::Sm => "sm",
        }
    }

    pub fn algorithms(self) -> Algorithms {
        match self {
            Suite::Intl => Algorithms {
                cipher: "AES-256-GCM",
                mac: "HMAC-SHA-256",
                digest: "SHA-256",
                signature: "Ed25519",
            },
            Suite::Sm => Algorithms {
                cipher: "SM4-GCM",
                mac: "HMAC-SM3",
                digest: "SM3",
                signature: "SM2",
            },
        }
    }

    /// The suite's digest (SHA-256 or SM3) of `data`.
    pub fn digest(self, data: &[u8]) -> [u8; 32] {
        match self {
            Suite::Intl => Sha256::digest(data).into(),
            Suite::Sm => Sm3::digest(data).into(),
        }
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A suite name that is neither `intl` nor `sm`.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownSuite;

impl fmt::Display for UnknownSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown algorithm suite (expected intl or sm)")
    }
}

impl std::error::Error for UnknownSuite {}

impl FromStr for Suite {
    type Err = UnknownSuite;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "intl" => Ok(Suite::Intl),
            "sm" => Ok(Suite::Sm),
            _ => Err(UnknownSuite),
        }
    }
}

/// Fresh random key material, zeroized on drop.
fn random_material(len: usize) -> zeroize::Zeroizing<Vec<u8>> {
    let mut bytes = zeroize::Zeroizing::new(vec![0u8; len]);
    rand::fill(&mut bytes[..]);
    bytes
}
