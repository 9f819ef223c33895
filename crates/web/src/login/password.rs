//! Password hashes: argon2id PHC strings, and a check that costs the same for unknown users.

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use std::sync::LazyLock;

/// Shortest password accepted (in characters). Twelve is the length below which offline
/// guessing of a stolen hash gets cheap even with argon2; a passphrase clears it easily.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Longest password accepted (in bytes). Hashing cost grows with the input; a kilobyte is
/// more than any password manager produces, and keeps a login form from being a CPU sink.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Bytes of random salt in each hash (the PHC recommendation).
const SALT_BYTES: usize = 16;

/// Why a new password or its hash could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password is shorter than {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("the password is longer than {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("the system random source failed: {0}")]
    Random(getrandom::Error),
    #[error("hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
}

/// Checks a new password's length (the only rule: long passphrases beat composition rules).
pub fn check_new(password: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    Ok(())
}

/// The argon2id PHC string of a new password, with the `argon2` crate's default parameters
/// (m=19 MiB, t=2, p=1: the OWASP minimum). Slow on purpose: call it off the async threads.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    check_new(password)?;
    hash_unchecked(password)
}

fn hash_unchecked(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; SALT_BYTES];
    getrandom::fill(&mut salt).map_err(PasswordError::Random)?;
    let salt = SaltString::encode_b64(&salt).map_err(PasswordError::Hash)?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(PasswordError::Hash)?
        .to_string())
}

/// A hash no password matches in practice, checked when the user does not exist so that a
/// wrong name takes as long as a wrong password (names cannot be probed by timing).
static DUMMY: LazyLock<Option<String>> =
    LazyLock::new(|| hash_unchecked("spamhattan: no such user, no such password").ok());

/// Whether `password` matches the PHC string `phc`. An unparsable stored hash matches
/// nothing. Slow on purpose: call it off the async threads.
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        burn(password);
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => {
            burn(password);
            false
        }
    }
}

/// Spends the time of one verification and fails (unknown user, unusable input).
pub fn burn(password: &str) {
    let cut = password
        .get(..MAX_PASSWORD_BYTES.min(password.len()))
        .unwrap_or("");
    if let Some(phc) = DUMMY.as_deref()
        && let Ok(parsed) = PasswordHash::new(phc)
    {
        let _ = Argon2::default().verify_password(cut.as_bytes(), &parsed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterz", &h));
        assert!(!verify("correct horse battery", "not a hash"));
        assert_ne!(hash("correct horse battery").expect("hash"), h, "salted");
    }

    #[test]
    fn length_limits_are_enforced() {
        assert!(matches!(hash("elevenchars"), Err(PasswordError::TooShort)));
        assert!(check_new("twelve chars").is_ok());
        // Twelve characters, more than twelve bytes: characters count, not bytes.
        assert!(check_new("ééééééééééé").is_err());
        assert!(check_new(&"é".repeat(12)).is_ok());
        assert!(matches!(
            check_new(&"x".repeat(MAX_PASSWORD_BYTES + 1)),
            Err(PasswordError::TooLong)
        ));
    }
}
