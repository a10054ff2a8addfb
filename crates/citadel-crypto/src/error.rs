use thiserror::Error;

#[derive(Debug, Error)]
pub enum CryptoError {
    #[error("master key file {path}: {reason}")]
    MasterKeyFile { path: String, reason: String },
    #[error(
        "master key file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    MasterKeyPermissions { path: String, mode: u32 },
    #[error("the master key command {0}")]
    MasterKeyCommand(String),
    #[error("{0}")]
    MasterKeyPassphrase(String),
    #[error("decryption failed: wrong key, or the data was altered or moved")]
    Decrypt,
    #[error("malformed sealed value")]
    Malformed,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the value names key version {0}, which this keyring does not hold")]
    UnknownKeyVersion(u32),
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    #[error("TOTP: {0}")]
    Totp(String),
}
