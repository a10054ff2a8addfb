//! Password hashing with argon2id, stored as PHC strings. Parameters:
//! m = 19 MiB (OWASP's baseline memory), t = 4 passes (twice OWASP's 2),
//! p = 1. One hash takes about 57 ms on the reference 2-core machine, above
//! the 50 ms floor we set for sign-in hashing, while per-thread memory stays
//! at 19 MiB (raising m to 46 MiB would cost 2.4 times the RSS for a
//! similar time). Hashes made with other parameters still verify, and
//! [`needs_rehash`] tells the caller to upgrade them at the next sign-in.
//! Hashing is deliberately slow: callers on an async runtime run it on a
//! few dedicated threads.
//!
//! Each thread keeps its 19 MiB of argon2 memory and reuses it. Allocating
//! it afresh per hash (what `Argon2::hash_password` does) was measured to
//! grow the server's RSS by about 17 MiB per sign-in up to hundreds of MiB,
//! because the allocator keeps the freed, 64-byte-aligned blocks.

use std::cell::RefCell;
use std::sync::LazyLock;

use argon2::password_hash::phc::{Ident, Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::suite::MacKey;
use crate::{CryptoError, SecretString, Suite};

/// The PHC algorithm names of a peppered hash: argon2id's output keyed with
/// the tenant's pepper under HMAC-SM3 (`sm` suite) or HMAC-SHA-256.
const PEPPERED_SM3: &str = "argon2id-hmac-sm3";
const PEPPERED_SHA256: &str = "argon2id-hmac-sha256";

fn peppered_ident(pepper: &MacKey) -> &'static str {
    match pepper.suite() {
        Suite::Sm => PEPPERED_SM3,
        Suite::Intl => PEPPERED_SHA256,
    }
}

const SALT_LEN: usize = 16;
pub const MEMORY_KIB: u32 = 19_456;
pub const PASSES: u32 = 4;
pub const LANES: u32 = 1;

fn current_params() -> Params {
    Params::new(MEMORY_KIB, PASSES, LANES, None).unwrap_or_default()
}

fn current_argon() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, current_params())
}

thread_local! {
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2 into `out` with this thread's reusable memory, which is
/// wiped afterwards so no password-derived state stays in it.
fn compute(
    argon: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let blocks = argon.params().block_count();
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, Block::new());
        }
        let result = argon
            .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
            .map_err(|e| CryptoError::PasswordHash(e.to_string()));
        memory[..blocks].iter_mut().for_each(Zeroize::zeroize);
        result
    })
}

/// A hash of a random password that nobody knows, verified against when the
/// account does not exist so that an unknown login costs the same time as a
/// wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let mut random = Zeroizing::new([0u8; 24]);
    rand::fill(&mut random[..]);
    hash_password(&SecretString::new(hex::encode(&random[..])), None).unwrap_or_default()
});

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=4,p=1$…`).
/// With a pepper the argon2id output is keyed with it, and the string says
/// so (`$argon2id-hmac-sm3$…`): the hash then cannot be checked, nor a
/// guess tried against it, without the key, which is sealed by the KMS
/// and never in the database the hash is stored in.
pub fn hash_password(
    password: &SecretString,
    pepper: Option<&MacKey>,
) -> Result<String, CryptoError> {
    let argon = current_argon();
    let mut salt = [0u8; SALT_LEN];
    rand::fill(&mut salt[..]);
    let mut out = Zeroizing::new(vec![
        0u8;
        argon
            .params()
            .output_len()
            .unwrap_or(Params::DEFAULT_OUTPUT_LEN)
    ]);
    compute(&argon, password.expose().as_bytes(), &salt, &mut out)?;
    let algorithm = match pepper {
        Some(key) => {
            let tag = key.hmac(&out);
            let len = out.len().min(tag.len());
            out[..len].copy_from_slice(&tag[..len]);
            Ident::new(peppered_ident(key)).map_err(|e| CryptoError::PasswordHash(e.to_string()))?
        }
        None => Algorithm::Argon2id.ident(),
    };
    let phc = PasswordHash {
        algorithm,
        version: Some(Version::default().into()),
        params: ParamsString::try_from(argon.params())
            .map_err(|e| CryptoError::PasswordHash(e.to_string()))?,
        salt: Some(Salt::new(&salt).map_err(|e| CryptoError::PasswordHash(e.to_string()))?),
        hash: Some(Output::new(&out).map_err(|e| CryptoError::PasswordHash(e.to_string()))?),
    };
    Ok(phc.to_string())
}

/// True if `password` matches `phc`. Only argon2id hashes are accepted,
/// plain or keyed with `pepper`; a peppered hash without its pepper, or a
/// malformed stored hash, never matches. The comparison is constant-time.
pub fn verify_password(password: &SecretString, phc: &str, pepper: Option<&MacKey>) -> bool {
    verify(password, phc, pepper).unwrap_or(false)
}

fn verify(password: &SecretString, phc: &str, pepper: Option<&MacKey>) -> Option<bool> {
    let hash = PasswordHash::new(phc).ok()?;
    let pepper = if hash.algorithm == Algorithm::Argon2id.ident() {
        None
    } else {
        let key = pepper?;
        (hash.algorithm.as_str() == peppered_ident(key)).then_some(key)?;
        Some(key)
    };
    let version = Version::try_from(hash.version.unwrap_or(Version::default().into())).ok()?;
    let params = Params::try_from(&hash).ok()?;
    let salt = hash.salt.as_ref()?;
    let expected = hash.hash.as_ref()?;
    let padding = filler(&params);
    let argon = Argon2::new(Algorithm::Argon2id, version, params);
    let mut out = Zeroizing::new(vec![0u8; expected.len()]);
    compute(
        &argon,
        password.expose().as_bytes(),
        salt.as_ref(),
        &mut out,
    )
    .ok()?;
    pad_work(padding);
    if let Some(key) = pepper {
        let tag = key.hmac(&out);
        let len = out.len().min(tag.len());
        out[..len].copy_from_slice(&tag[..len]);
    }
    Some(out.as_slice().ct_eq(expected.as_bytes()).into())
}

/// The argon2 work (memory blocks times passes) that makes up for a stored
/// hash's cheaper parameters, as full passes over today's memory and a last
/// pass over fewer blocks; (0, 0) if it is not cheaper. Unknown logins are
/// verified against a dummy hash with today's parameters; without this, an
/// account whose hash predates a cost increase would answer measurably
/// faster than an unknown one until its owner signs in again. (Lanes do not
/// add work: the memory is shared between them.)
fn filler(stored: &Params) -> (u32, u32) {
    let current = current_params();
    let work =
        |p: &Params| u128::try_from(p.block_count()).unwrap_or(u128::MAX) * u128::from(p.t_cost());
    let blocks = u128::try_from(current.block_count()).unwrap_or(1).max(1);
    let missing = work(&current).saturating_sub(work(stored));
    (
        u32::try_from(missing / blocks).unwrap_or(PASSES),
        u32::try_from(missing % blocks).unwrap_or(0),
    )
}

fn pad_work((passes, blocks): (u32, u32)) {
    let mut out = [0u8; 32];
    let mut run = |memory_kib: u32, passes: u32| {
        if let Ok(params) = Params::new(memory_kib, passes, LANES, None) {
            let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
            let _ = compute(&argon, b"filler", &[0u8; SALT_LEN], &mut out);
        }
    };
    if passes > 0 {
        run(MEMORY_KIB, passes);
    }
    // Below argon2's minimum of 8 blocks the difference is noise.
    if blocks >= Params::MIN_M_COST {
        run(blocks, 1);
    }
}

/// Whether a stored hash was made with other parameters than today's, is
/// not keyed with the pepper there now is (or with another suite's), or
/// cannot be read: the caller re-hashes the password it just verified.
pub fn needs_rehash(phc: &str, pepper: Option<&MacKey>) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return true;
    };
    let current = current_params();
    let plain = Algorithm::Argon2id.ident();
    let wanted: &str = match pepper {
        Some(key) => peppered_ident(key),
        None => plain.as_str(),
    };
    hash.algorithm.as_str() != wanted
        || Params::try_from(&hash).map_or(true, |p| {
            (p.m_cost(), p.t_cost(), p.p_cost())
                != (current.m_cost(), current.t_cost(), current.p_cost())
        })
}

/// Spends the time of one verification and returns false: for logins to
/// accounts that do not exist.
pub fn verify_against_dummy(password: &SecretString, pepper: Option<&MacKey>) -> bool {
    let _ = verify_password(password, &DUMMY_HASH, None);
    // The HMAC a peppered verification adds, so that the time matches.
    if let Some(key) = pepper {
        let _ = key.hmac(password.expose().as_bytes());
    }
    false
}

/// A one-time password for a new account: five groups of four characters
/// from an alphabet without look-alikes, with upper, lower and digit, about
/// 110 bits of entropy. It meets the password policy by construction.
pub fn generate_one_time_password() -> SecretString {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    loop {
        let mut raw = Zeroizing::new([0u8; 20]);
        rand::fill(&mut raw[..]);
        let mut out = String::with_capacity(24);
        for (i, byte) in raw.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            // 256 % 56 != 0 leaves a slight bias, far below what matters at
            // 110 bits; rejection sampling would only add code.
            out.push(char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]));
        }
        let out = SecretString::new(out);
        let s = out.expose();
        if s.chars().any(|c| c.is_ascii_uppercase())
            && s.chars().any(|c| c.is_ascii_lowercase())
            && s.chars().any(|c| c.is_ascii_digit())
        {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let pw = SecretString::new("Correct-Horse-7".into());
        let phc = hash_password(&pw, None).expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=4,p=1$"), "{phc}");
        assert!(!needs_rehash(&phc, None));
        assert!(verify_password(&pw, &phc, None));
        assert!(!verify_password(
            &SecretString::new("correct-horse-7".into()),
            &phc,
            None
        ));
        assert!(!verify_password(&pw, "not a hash", None));
        assert!(!verify_against_dummy(&pw, None));
        let other = hash_password(&pw, None).expect("hash");
        assert_ne!(phc, other, "a fresh salt each time");
    }

    #[test]
    fn a_peppered_hash_needs_its_pepper() {
        let pw = SecretString::new("Correct-Horse-7".into());
        for suite in Suite::ALL {
            let (pepper, _) = MacKey::generate(suite);
            let phc = hash_password(&pw, Some(&pepper)).expect("hash");
            let ident = if suite == Suite::Sm {
                "$argon2id-hmac-sm3$v=19$m=19456,t=4,p=1$"
            } else {
                "$argon2id-hmac-sha256$v=19$m=19456,t=4,p=1$"
            };
            assert!(phc.starts_with(ident), "{phc}");
            assert!(verify_password(&pw, &phc, Some(&pepper)));
            assert!(!verify_password(&pw, &phc, None), "not without the pepper");
            let (other, _) = MacKey::generate(suite);
            assert!(
                !verify_password(&pw, &phc, Some(&other)),
                "not with another"
            );
            assert!(!verify_password(
                &SecretString::new("x".into()),
                &phc,
                Some(&pepper)
            ));
            assert!(!needs_rehash(&phc, Some(&pepper)));
            assert!(needs_rehash(&phc, None));
            // A plain hash still verifies, and is upgraded at the next sign-in.
            let plain = hash_password(&pw, None).expect("hash");
            assert!(verify_password(&pw, &plain, Some(&pepper)));
            assert!(needs_rehash(&plain, Some(&pepper)));
            // Stripping the pepper's name does not make the tag a hash.
            let renamed = phc.replacen(&ident[1..ident.find("$v").unwrap_or(1)], "argon2id", 1);
            assert!(!verify_password(&pw, &renamed, Some(&pepper)));
            assert!(!verify_password(&pw, &renamed, None));
        }
    }

    /// Hashes made by the argon2 crate's own PHC code verify here, and ours
    /// verify there: the format is the standard one.
    #[test]
    fn interoperates_with_the_argon2_crates_phc_code() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let pw = SecretString::new("Correct-Horse-7".into());
        let theirs = Argon2::default()
            .hash_password(pw.expose().as_bytes())
            .expect("hash")
            .to_string();
        assert!(verify_password(&pw, &theirs, None));
        assert!(needs_rehash(&theirs, None), "the crate's default is t = 2");
        assert_eq!(
            filler(&Params::default()),
            (2, 0),
            "t = 2 is made up to t = 4"
        );
        assert_eq!(filler(&current_params()), (0, 0));
        let owasp_alternative = Params::new(9_216, 4, 1, None).expect("params");
        assert_eq!(
            filler(&owasp_alternative),
            (2, 2_048),
            "made up to the block"
        );
        let four_lanes = Params::new(19_456, 1, 4, None).expect("params");
        assert_eq!(filler(&four_lanes), (3, 0), "lanes share the memory");
        assert_eq!(
            filler(&Params::new(65_536, 4, 1, None).expect("params")),
            (0, 0),
            "dearer hashes need no filler"
        );
        assert!(needs_rehash("garbage", None));
        let ours = hash_password(&pw, None).expect("hash");
        assert!(
            Argon2::default()
                .verify_password(pw.expose().as_bytes(), ours.as_str())
                .is_ok()
        );
        assert!(!verify_password(
            &pw,
            &theirs.replace("argon2id", "argon2i"),
            None
        ));
    }

    /// RFC 9106 section 5.3 test vector for Argon2id (with secret and
    /// associated data), run through the same reusable-memory path.
    #[test]
    fn argon2id_matches_rfc_9106_vector() {
        let secret = [3u8; 8];
        let ad = [4u8; 12];
        let params = argon2::ParamsBuilder::new()
            .m_cost(32)
            .t_cost(3)
            .p_cost(4)
            .data(argon2::AssociatedData::new(&ad).expect("ad"))
            .output_len(32)
            .build()
            .expect("params");
        let argon = Argon2::new_with_secret(&secret, Algorithm::Argon2id, Version::V0x13, params)
            .expect("argon2");
        let mut out = [0u8; 32];
        compute(&argon, &[1u8; 32], &[2u8; 16], &mut out).expect("hash");
        assert_eq!(
            hex::encode(out),
            "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
        );
    }

    #[test]
    fn one_time_passwords_are_strong_and_distinct() {
        let a = generate_one_time_password();
        let b = generate_one_time_password();
        assert_eq!(a.expose().len(), 24);
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().chars().any(|c| c == '-'));
    }
}
