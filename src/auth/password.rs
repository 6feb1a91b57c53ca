//! Password hashing with argon2id. Hashing is slow on purpose, so callers run it on the
//! blocking pool.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

use crate::error::{Error, Result};

/// Shortest password accepted.
pub const MIN_LEN: usize = 8;
/// Longest password accepted; argon2 takes any length, but a megabyte "password" is abuse.
pub const MAX_LEN: usize = 256;

/// Checks a new password against the length rules.
pub fn validate(password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(Error::invalid(
            "password",
            format!("must be at least {MIN_LEN} characters"),
        ));
    }
    if password.len() > MAX_LEN {
        return Err(Error::invalid(
            "password",
            format!("must be at most {MAX_LEN} bytes"),
        ));
    }
    Ok(())
}

/// Hashes `password` with argon2id and a random salt; returns the PHC string.
pub fn hash(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hashing a password: {e}")))
}

/// Whether `password` matches the PHC string `hash`. A malformed hash never matches.
pub fn verify(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Runs [`hash`] on the blocking pool.
pub async fn hash_async(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| Error::Internal(format!("password hashing task: {e}")))?
}

/// Runs [`verify`] on the blocking pool.
pub async fn verify_async(hash: String, password: String) -> Result<bool> {
    tokio::task::spawn_blocking(move || verify(&hash, &password))
        .await
        .map_err(|e| Error::Internal(format!("password verification task: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_right_password() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(&h, "correct horse"));
        assert!(!verify(&h, "wrong horse"));
        assert!(!verify("not a hash", "correct horse"));
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(validate("short").is_err());
        assert!(validate(&"x".repeat(MAX_LEN + 1)).is_err());
        assert!(validate("long enough").is_ok());
    }
}
