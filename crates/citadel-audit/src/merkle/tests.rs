use super::*;

/// The entries of the reference tree that RFC 6962's authors published
/// with their implementation (certificate-transparency), and its roots for
/// the sizes 0 to 8.
const ENTRIES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn h(text: &str) -> Hash {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).expect("32 bytes of hex");
    out
}

fn reference_leaves() -> Vec<Hash> {
    ENTRIES
        .iter()
        .map(|e| TreeHash::Sha256.leaf(&hex::decode(e).expect("hex")))
        .collect()
}

fn leaves(hash: TreeHash, n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| hash.leaf(format!("event {i}").as_bytes()))
        .collect()
}

const BOTH: [TreeHash; 2] = [TreeHash::Sha256, TreeHash::Sm3];

#[test]
fn roots_are_the_references() {
    let leaves = reference_leaves();
    for (size, root) in ROOTS.iter().enumerate() {
        assert_eq!(
            TreeHash::Sha256.root(&leaves[..size]),
            h(root),
            "size {size}"
        );
    }
}

#[test]
fn proofs_are_the_references_and_verify() {
    let leaves = reference_leaves();
    let sha = TreeHash::Sha256;
    let inclusions: [(u64, [&str; 3]); 2] = [
        (
            0,
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            [
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (index, want) in inclusions {
        let want: Vec<Hash> = want.iter().map(|p| h(p)).collect();
        assert_eq!(sha.inclusion_proof(&leaves, index), Ok(want.clone()));
        let leaf = &leaves[index as usize];
        assert_eq!(
            sha.verify_inclusion(leaf, index, 8, &want, &h(ROOTS[8])),
            Ok(())
        );
    }
    let consistencies: [(u64, &[&str]); 2] = [
        (
            2,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (old, want) in consistencies {
        let want: Vec<Hash> = want.iter().map(|p| h(p)).collect();
        assert_eq!(sha.consistency_proof(&leaves, old), Ok(want.clone()));
        let old_root = h(ROOTS[old as usize]);
        assert_eq!(
            sha.verify_consistency(old, 8, &old_root, &h(ROOTS[8]), &want),
            Ok(())
        );
    }
}

/// SM3 as GB/T 32905 gives it ("abc"), so an `sm` tenant's tree is SM3's.
#[test]
fn the_sm_tree_hashes_with_sm3() {
    assert_eq!(
        TreeHash::Sm3.hash(&[b"ab", b"c"]),
        h("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    );
    assert_ne!(TreeHash::Sm3.leaf(b"x"), TreeHash::Sha256.leaf(b"x"));
}

#[test]
fn every_proof_of_every_tree_verifies() {
    for hash in BOTH {
        let all = leaves(hash, 40);
        let roots: Vec<Hash> = (0..=all.len()).map(|n| hash.root(&all[..n])).collect();
        for size in 0..=all.len() {
            let tree = &all[..size];
            for index in 0..size {
                let proof = hash.inclusion_proof(tree, index as u64).expect("proof");
                let checked = hash.verify_inclusion(
                    &tree[index],
                    index as u64,
                    size as u64,
                    &proof,
                    &roots[size],
                );
                assert_eq!(checked, Ok(()), "{hash:?} leaf {index} of {size}");
            }
            for old in 0..=size {
                let proof = hash.consistency_proof(tree, old as u64).expect("proof");
                let checked = hash.verify_consistency(
                    old as u64,
                    size as u64,
                    &roots[old],
                    &roots[size],
                    &proof,
                );
                assert_eq!(checked, Ok(()), "{hash:?} {old} to {size}");
            }
        }
    }
}

/// Each way to forge an inclusion proof: another leaf or index, a
/// changed, swapped, dropped or added hash. (Another size with the same
/// root is not a forgery to test here: a tree head's signature binds its
/// size to its root, and a verifier takes both from it.)
#[test]
fn forged_inclusion_proofs_fail() {
    for hash in BOTH {
        let all = leaves(hash, 33);
        for size in 2..=all.len() {
            let tree = &all[..size];
            let root = hash.root(tree);
            let n = size as u64;
            for index in 0..size {
                let i = index as u64;
                let leaf = &tree[index];
                let proof = hash.inclusion_proof(tree, i).expect("proof");
                let fails = |leaf: &Hash, i: u64, n: u64, proof: &[Hash]| {
                    hash.verify_inclusion(leaf, i, n, proof, &root).is_err()
                };
                let other = &tree[(index + 1) % size];
                assert!(fails(other, i, n, &proof), "another leaf");
                assert!(fails(leaf, (i + 1) % n, n, &proof), "another index");
                assert!(fails(leaf, i, n, &proof[..proof.len() - 1]), "dropped");
                let mut longer = proof.clone();
                longer.push([0xab; 32]);
                assert!(fails(leaf, i, n, &longer), "added");
                let mut changed = proof.clone();
                changed[0][7] ^= 1;
                assert!(fails(leaf, i, n, &changed), "changed");
                if proof.len() >= 2 && proof[0] != proof[1] {
                    let mut swapped = proof.clone();
                    swapped.swap(0, 1);
                    assert!(fails(leaf, i, n, &swapped), "swapped");
                }
                assert!(fails(leaf, n, n, &proof), "index past the end");
            }
        }
    }
}

/// Each way to forge a consistency proof, and the edge cases: an old tree
/// larger than the new, equal sizes with other roots, the empty tree.
#[test]
fn forged_consistency_proofs_fail() {
    for hash in BOTH {
        let all = leaves(hash, 33);
        let roots: Vec<Hash> = (0..=all.len()).map(|n| hash.root(&all[..n])).collect();
        for new in 2..=all.len() {
            for old in 1..new {
                let proof = hash
                    .consistency_proof(&all[..new], old as u64)
                    .expect("proof");
                let (o, n) = (old as u64, new as u64);
                let fails = |old_root: &Hash, new_root: &Hash, proof: &[Hash]| {
                    hash.verify_consistency(o, n, old_root, new_root, proof)
                        .is_err()
                };
                assert!(
                    fails(&roots[old - 1], &roots[new], &proof),
                    "another old root"
                );
                assert!(
                    fails(&roots[old], &roots[new - 1], &proof),
                    "another new root"
                );
                assert!(
                    fails(&roots[old], &roots[new], &proof[..proof.len() - 1]),
                    "dropped"
                );
                let mut longer = proof.clone();
                longer.push([0xcd; 32]);
                assert!(fails(&roots[old], &roots[new], &longer), "added");
                let mut changed = proof.clone();
                changed[0][3] ^= 0x80;
                assert!(fails(&roots[old], &roots[new], &changed), "changed");
                if proof.len() >= 2 && proof[0] != proof[1] {
                    let mut swapped = proof.clone();
                    swapped.swap(0, 1);
                    assert!(fails(&roots[old], &roots[new], &swapped), "swapped");
                }
            }
        }
        let r8 = &roots[8];
        assert!(
            hash.verify_consistency(8, 4, r8, &roots[4], &[]).is_err(),
            "shrunk"
        );
        assert!(
            hash.verify_consistency(4, 4, &roots[4], &roots[5], &[])
                .is_err()
        );
        assert!(
            hash.verify_consistency(4, 4, &roots[4], &roots[4], &[[0; 32]])
                .is_err()
        );
        assert_eq!(
            hash.verify_consistency(0, 8, &hash.empty_root(), r8, &[]),
            Ok(())
        );
        assert!(hash.verify_consistency(0, 8, &roots[1], r8, &[]).is_err());
        assert!(hash.consistency_proof(&all[..4], 5).is_err());
        assert!(hash.inclusion_proof(&all[..4], 4).is_err());
    }
}

#[test]
fn the_frontier_keeps_the_root_of_every_size() {
    for hash in BOTH {
        let all = leaves(hash, 70);
        let mut frontier = Frontier::new(hash);
        assert_eq!(frontier.root(), hash.empty_root());
        for (n, leaf) in all.iter().enumerate() {
            frontier.push(*leaf);
            assert_eq!(frontier.size(), n as u64 + 1);
            assert_eq!(
                frontier.root(),
                hash.root(&all[..=n]),
                "{hash:?} size {}",
                n + 1
            );
        }
    }
}

#[test]
fn a_frontier_rebuilt_from_its_peaks_appends_as_the_original() {
    for hash in BOTH {
        let all = leaves(hash, 45);
        let mut original = Frontier::new(hash);
        for (n, leaf) in all.iter().enumerate() {
            original.push(*leaf);
            let mut rebuilt =
                Frontier::from_peaks(hash, original.size(), original.peaks().to_vec())
                    .expect("the peaks of a frontier rebuild it");
            assert_eq!(rebuilt, original);
            if let Some(next) = all.get(n + 1) {
                rebuilt.push(*next);
                assert_eq!(rebuilt.root(), hash.root(&all[..n + 2]));
            }
        }
        // A peak too many or too few is refused.
        let mut peaks = original.peaks().to_vec();
        peaks.push([0; 32]);
        assert!(Frontier::from_peaks(hash, original.size(), peaks).is_none());
        assert!(Frontier::from_peaks(hash, original.size(), Vec::new()).is_none());
    }
}
