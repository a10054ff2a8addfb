//! Tree heads: a log's size and root at one moment, signed by the
//! platform's audit key (Ed25519 or SM2) and kept outside the tenant's
//! reach, so a later check can prove the log still holds what it held.

use citadel_crypto::Suite;
use citadel_crypto::suite::{PublicKey, SigningKey};

use crate::{AuditError, Hash, TreeHash};

/// What a signature covers starts with this, so it cannot be taken for a
/// signature over anything else the platform's keys sign.
const CONTEXT: &[u8] = b"citadel audit tree head v1\0";

/// A log's size and root, and when it had them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeHead {
    /// The tenant whose log it is, as its id's 16 bytes.
    pub tenant: [u8; 16],
    /// The hash the tenant's tree is built with.
    pub hash: TreeHash,
    pub size: u64,
    pub root: Hash,
    /// Milliseconds since the Unix epoch, UTC.
    pub at_ms: i64,
}

/// A tree head and the audit key's signature over it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTreeHead {
    pub head: TreeHead,
    /// The audit key's suite: Ed25519 or SM2.
    pub suite: Suite,
    pub signature: Vec<u8>,
}

impl TreeHead {
    /// The bytes signed: the context, then every field at a fixed width
    /// (the tree hash as one byte, numbers big-endian), so no two heads
    /// sign the same bytes.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(CONTEXT.len() + 1 + 16 + 8 + 8 + 32);
        bytes.extend_from_slice(CONTEXT);
        bytes.push(match self.hash {
            TreeHash::Sha256 => 1,
            TreeHash::Sm3 => 2,
        });
        bytes.extend_from_slice(&self.tenant);
        bytes.extend_from_slice(&self.size.to_be_bytes());
        bytes.extend_from_slice(&self.at_ms.to_be_bytes());
        bytes.extend_from_slice(&self.root);
        bytes
    }

    pub fn sign(self, key: &SigningKey) -> SignedTreeHead {
        SignedTreeHead {
            signature: key.sign(&self.signed_bytes()).to_vec(),
            suite: key.suite(),
            head: self,
        }
    }
}

impl SignedTreeHead {
    /// Checks the signature with the audit key's public half.
    pub fn verify(&self, key: &PublicKey) -> Result<(), AuditError> {
        if key.suite() != self.suite {
            return Err(AuditError::BadSignature);
        }
        key.verify(&self.head.signed_bytes(), &self.signature)
            .map_err(|_| AuditError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(hash: TreeHash) -> TreeHead {
        TreeHead {
            tenant: [7; 16],
            hash,
            size: 1_000,
            root: hash.leaf(b"root"),
            at_ms: 1_795_000_000_000,
        }
    }

    #[test]
    fn a_signed_head_verifies_and_any_change_to_it_does_not() {
        for suite in Suite::ALL {
            let (key, _) = SigningKey::generate(suite);
            let public = key.public_key();
            for hash in [TreeHash::Sha256, TreeHash::Sm3] {
                let signed = head(hash).sign(&key);
                assert_eq!(signed.verify(&public), Ok(()), "{suite:?} {hash:?}");
                let changes: [fn(&mut TreeHead); 5] = [
                    |h| h.tenant[0] ^= 1,
                    |h| {
                        h.hash = match h.hash {
                            TreeHash::Sha256 => TreeHash::Sm3,
                            TreeHash::Sm3 => TreeHash::Sha256,
                        }
                    },
                    |h| h.size += 1,
                    |h| h.root[31] ^= 1,
                    |h| h.at_ms -= 1,
                ];
                for change in changes {
                    let mut forged = signed.clone();
                    change(&mut forged.head);
                    assert_eq!(forged.verify(&public), Err(AuditError::BadSignature));
                }
                let mut bent = signed.clone();
                bent.signature[0] ^= 1;
                assert_eq!(bent.verify(&public), Err(AuditError::BadSignature));
                bent.signature.truncate(10);
                assert_eq!(bent.verify(&public), Err(AuditError::BadSignature));
            }
        }
    }

    #[test]
    fn another_key_or_suite_does_not_verify() {
        let (intl, _) = SigningKey::generate(Suite::Intl);
        let (other, _) = SigningKey::generate(Suite::Intl);
        let (sm, _) = SigningKey::generate(Suite::Sm);
        let signed = head(TreeHash::Sha256).sign(&intl);
        assert_eq!(
            signed.verify(&other.public_key()),
            Err(AuditError::BadSignature)
        );
        assert_eq!(
            signed.verify(&sm.public_key()),
            Err(AuditError::BadSignature)
        );
        let mut relabelled = signed.clone();
        relabelled.suite = Suite::Sm;
        assert_eq!(
            relabelled.verify(&sm.public_key()),
            Err(AuditError::BadSignature)
        );
    }
}
