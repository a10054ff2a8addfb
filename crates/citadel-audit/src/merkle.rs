//! The Merkle tree of RFC 9162, section 2.1, over SHA-256 or SM3.
//!
//! A leaf's hash is `H(0x00 ‖ entry)` and an interior node's `H(0x01 ‖ left
//! ‖ right)`, so a leaf can never pass for a node. A tree of `n` leaves
//! splits at `k`, the largest power of two below `n`: its left subtree is
//! always perfect, which is what lets a log only append and still prove
//! that every older tree is a prefix of the newer one. With SHA-256 the
//! hashes, roots and proofs are RFC 9162's own, so any verifier of that
//! RFC checks them.

use sha2::{Digest, Sha256};
use sm3::Sm3;

use crate::{AuditError, Hash};

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// The hash a tenant's tree is built with, by its suite: `intl` SHA-256,
/// `sm` SM3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeHash {
    Sha256,
    Sm3,
}

impl TreeHash {
    /// The tree hash of a tenant's suite: SHA-256 for the international
    /// one, SM3 for `sm`.
    pub fn of_suite(suite: citadel_crypto::Suite) -> Self {
        match suite {
            citadel_crypto::Suite::Intl => Self::Sha256,
            citadel_crypto::Suite::Sm => Self::Sm3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sm3 => "sm3",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Sha256, Self::Sm3]
            .into_iter()
            .find(|h| h.as_str() == text)
    }

    fn hash(self, parts: &[&[u8]]) -> Hash {
        fn with<D: Digest>(parts: &[&[u8]]) -> Hash {
            let mut digest = D::new();
            for part in parts {
                digest.update(part);
            }
            let mut out = [0u8; 32];
            out.copy_from_slice(&digest.finalize());
            out
        }
        match self {
            Self::Sha256 => with::<Sha256>(parts),
            Self::Sm3 => with::<Sm3>(parts),
        }
    }

    /// The root of the empty tree: the hash of no bytes.
    pub fn empty_root(self) -> Hash {
        self.hash(&[])
    }

    /// A leaf's hash, from the entry's bytes.
    pub fn leaf(self, entry: &[u8]) -> Hash {
        self.hash(&[&[LEAF_PREFIX], entry])
    }

    /// An interior node's hash, from its children's.
    pub fn node(self, left: &Hash, right: &Hash) -> Hash {
        self.hash(&[&[NODE_PREFIX], left, right])
    }

    /// The root of the tree whose leaf hashes are `leaves` (MTH).
    pub fn root(self, leaves: &[Hash]) -> Hash {
        match leaves {
            [] => self.empty_root(),
            [one] => *one,
            _ => {
                let (left, right) = leaves.split_at(split(leaves.len()));
                self.node(&self.root(left), &self.root(right))
            }
        }
    }

    /// The hashes that lead from leaf `index` to the root of the tree of
    /// `leaves` (PATH), nearest the leaf first.
    pub fn inclusion_proof(self, leaves: &[Hash], index: u64) -> Result<Vec<Hash>, AuditError> {
        let size = leaves.len() as u64;
        let at = usize::try_from(index)
            .ok()
            .filter(|at| *at < leaves.len())
            .ok_or(AuditError::NoSuchLeaf { index, size })?;
        let mut proof = Vec::new();
        self.path(at, leaves, &mut proof);
        Ok(proof)
    }

    fn path(self, at: usize, leaves: &[Hash], proof: &mut Vec<Hash>) {
        if leaves.len() <= 1 {
            return;
        }
        let (left, right) = leaves.split_at(split(leaves.len()));
        if at < left.len() {
            self.path(at, left, proof);
            proof.push(self.root(right));
        } else {
            self.path(at - left.len(), right, proof);
            proof.push(self.root(left));
        }
    }

    /// The hashes that prove the tree of the first `old_size` of `leaves`
    /// is a prefix of the tree of all of them (PROOF); empty when
    /// `old_size` is zero or all of them.
    pub fn consistency_proof(
        self,
        leaves: &[Hash],
        old_size: u64,
    ) -> Result<Vec<Hash>, AuditError> {
        let new = leaves.len() as u64;
        let old = usize::try_from(old_size)
            .ok()
            .filter(|old| *old <= leaves.len())
            .ok_or(AuditError::NotAPrefix { old: old_size, new })?;
        let mut proof = Vec::new();
        if old > 0 && old < leaves.len() {
            self.subproof(old, leaves, true, &mut proof);
        }
        Ok(proof)
    }

    /// SUBPROOF: `whole` says whether the old tree's root of this subtree
    /// is the old tree's own root, which the verifier already has.
    fn subproof(self, old: usize, leaves: &[Hash], whole: bool, proof: &mut Vec<Hash>) {
        if old == leaves.len() {
            if !whole {
                proof.push(self.root(leaves));
            }
            return;
        }
        let (left, right) = leaves.split_at(split(leaves.len()));
        if old <= left.len() {
            self.subproof(old, left, whole, proof);
            proof.push(self.root(right));
        } else {
            self.subproof(old - left.len(), right, false, proof);
            proof.push(self.root(left));
        }
    }

    /// Checks that `leaf` (a leaf hash) is leaf `index` of the tree of
    /// `size` leaves whose root is `root` (RFC 9162, 2.1.3.2).
    pub fn verify_inclusion(
        self,
        leaf: &Hash,
        index: u64,
        size: u64,
        proof: &[Hash],
        root: &Hash,
    ) -> Result<(), AuditError> {
        if index >= size {
            return Err(AuditError::NoSuchLeaf { index, size });
        }
        let mut climb = Climb {
            node: index,
            last: size - 1,
        };
        let mut hash = *leaf;
        for sibling in proof {
            hash = match climb.up()? {
                Side::Left => self.node(sibling, &hash),
                Side::Right => self.node(&hash, sibling),
            };
        }
        if climb.last == 0 && &hash == root {
            Ok(())
        } else {
            Err(AuditError::ProofFailed)
        }
    }

    /// Checks that the tree of `old_size` leaves with root `old_root` is a
    /// prefix of the tree of `new_size` leaves with root `new_root`
    /// (RFC 9162, 2.1.4.2). Equal sizes need equal roots and no proof; the
    /// empty tree, its own root and no proof.
    pub fn verify_consistency(
        self,
        old_size: u64,
        new_size: u64,
        old_root: &Hash,
        new_root: &Hash,
        proof: &[Hash],
    ) -> Result<(), AuditError> {
        if old_size > new_size {
            return Err(AuditError::NotAPrefix {
                old: old_size,
                new: new_size,
            });
        }
        if old_size == 0 || old_size == new_size {
            let expected = if old_size == 0 {
                self.empty_root()
            } else {
                *new_root
            };
            return if proof.is_empty() && *old_root == expected {
                Ok(())
            } else {
                Err(AuditError::ProofFailed)
            };
        }
        // An old tree that is a perfect subtree is its own first node,
        // which the proof leaves out.
        let mut path = proof.iter();
        let first = if old_size.is_power_of_two() {
            *old_root
        } else {
            *path.next().ok_or(AuditError::ProofFailed)?
        };
        let mut climb = Climb {
            node: old_size - 1,
            last: new_size - 1,
        };
        // The proof starts at the old tree's rightmost perfect subtree.
        while climb.node & 1 == 1 {
            climb.node >>= 1;
            climb.last >>= 1;
        }
        let (mut old_hash, mut new_hash) = (first, first);
        for sibling in path {
            match climb.up()? {
                // A left sibling is in the old tree too.
                Side::Left => {
                    old_hash = self.node(sibling, &old_hash);
                    new_hash = self.node(sibling, &new_hash);
                }
                Side::Right => new_hash = self.node(&new_hash, sibling),
            }
        }
        if climb.last == 0 && old_hash == *old_root && new_hash == *new_root {
            Ok(())
        } else {
            Err(AuditError::ProofFailed)
        }
    }
}

/// Which side of the hash climbing to the root a proof's next hash joins.
enum Side {
    Left,
    Right,
}

/// A hash's way up a tree in RFC 9162's verifiers: `node` is its index
/// among the nodes of its level and `last` the level's last index.
struct Climb {
    node: u64,
    last: u64,
}

impl Climb {
    /// The side the next proof hash joins from, moving up past the levels
    /// where the node has no sibling; a proof longer than the way to the
    /// root fails.
    fn up(&mut self) -> Result<Side, AuditError> {
        if self.last == 0 {
            return Err(AuditError::ProofFailed);
        }
        let side = if self.node & 1 == 1 || self.node == self.last {
            while self.node & 1 == 0 && self.node != 0 {
                self.node >>= 1;
                self.last >>= 1;
            }
            Side::Left
        } else {
            Side::Right
        };
        self.node >>= 1;
        self.last >>= 1;
        Ok(side)
    }
}

/// Where a tree of `n` (at least 2) leaves splits: the largest power of
/// two below `n`.
fn split(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The right edge of a growing tree: the roots of its perfect subtrees,
/// largest first, one for each bit set in its size. Appending a leaf and
/// taking the root cost O(log n) hashes, so a log's head is kept without
/// reading its leaves again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frontier {
    hash: TreeHash,
    size: u64,
    peaks: Vec<Hash>,
}

impl Frontier {
    pub fn new(hash: TreeHash) -> Self {
        Self {
            hash,
            size: 0,
            peaks: Vec::new(),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn tree_hash(&self) -> TreeHash {
        self.hash
    }

    /// The roots of the perfect subtrees, largest first: with the size,
    /// all a log needs to carry on appending from where it was.
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// The right edge of a tree of `size` leaves from its `peaks`; `None`
    /// unless there is one peak for each bit set in `size`.
    pub fn from_peaks(hash: TreeHash, size: u64, peaks: Vec<Hash>) -> Option<Self> {
        (peaks.len() == size.count_ones() as usize).then_some(Self { hash, size, peaks })
    }

    /// Appends a leaf, by its leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut size = self.size;
        // Each perfect subtree of the same height as the new one merges
        // with it, as a carry does in binary addition.
        while size & 1 == 1 {
            if let Some(left) = self.peaks.pop() {
                hash = self.hash.node(&left, &hash);
            }
            size >>= 1;
        }
        self.peaks.push(hash);
        self.size += 1;
    }

    /// The tree's root.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(mut root) = peaks.next().copied() else {
            return self.hash.empty_root();
        };
        for left in peaks {
            root = self.hash.node(left, &root);
        }
        root
    }
}

#[cfg(test)]
mod tests;
